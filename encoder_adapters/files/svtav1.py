"""SVT-AV1 ``--roi-map-file`` (write_svtav1_roi_map)
Lines ``<picture number> <offset> ...``, one offset per 64x64 superblock in raster order, in q-index
units (+-255).  A line starts an "ROI event" that holds until the next line, so a line is written only
when a picture's offsets differ from the previous line's.  Units: our offsets follow H.264/HEVC QP, whose
quantiser step grows by 2^(1/6) per QP.  AV1's 8-bit AC step table (ac_qlookup_QTX) grows from 112 to
1369 over q-index 100..240, where SVT-AV1's usual --crf 25..60 lands (q-index = 4 x crf): 6.46 q-index
per 2^(1/6) on average (about 9 in the linear part at q-index 60..100).  So offset = 6.5 x QP delta
(``qindex_per_qp``; SVT's own "4 x crf" scale would under-apply the map by a third), clamped to +-255.
AV1 codes the offsets as segments, at most 8 per picture (SvtAv1EncApp rejects a 9th value), so each
picture's offsets are quantised to <= 8 levels by optimal 1-D k-means (dynamic programming over the
distinct values, least squared error).  SvtAv1EncApp warns when all of a picture's offsets are negative.
A superblock's value is the unrounded mean of its 16x16 offsets times 6.5, rounded once (rounding the mean
to whole QPs first would lose up to 3 q-index).  Verified on the real library (tests/test_svtav1.py): a file
read back the way SvtAv1EncApp 4.1 parses it and sent through libSvtAv1Enc as ROI events gives the same
stream as the svtav1 adapter's own maps.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from preanalysis.io import atomic_write_text
from preanalysis.qpmap import QpMap, grid_shape

from .grid import maps_size

SVTAV1_SUPERBLOCK = 64
SVTAV1_MAX_SEGMENTS = 8
SVTAV1_QINDEX_PER_QP = 6.5  # see the module docstring


def quantise_levels(values: np.ndarray, max_levels: int) -> np.ndarray:
    """Map integers to at most max_levels integer levels with least squared error (optimal 1-D k-means)."""
    v = np.asarray(values)
    x, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    n = x.size
    if n <= max_levels:
        return v.copy()
    x = x.astype(np.float64)
    cw, cx, cxx = (np.concatenate([[0.0], np.cumsum(counts * x**p)]) for p in (0, 1, 2))
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    with np.errstate(divide="ignore", invalid="ignore"):  # cost[i, j]: error of one level for x[i:j]
        sw, sx = cw[j] - cw[i], cx[j] - cx[i]
        cost = np.where(j > i, cxx[j] - cxx[i] - sx * sx / sw, np.inf)
    best = cost[0].copy()  # best[j]: least error of x[:j] in k levels
    choices = []
    for _ in range(max_levels - 1):
        total = best[:, None] + cost
        choices.append(total.argmin(axis=0))
        best = total.min(axis=0)
    cuts, end = [], n
    for choice in reversed(choices):
        start = int(choice[end])
        if start > 0:
            cuts.append(start)
            end = start
    bounds = [0, *sorted(cuts), n]
    levels = np.empty(n)
    for a, b in itertools.pairwise(bounds):
        levels[a:b] = np.round((cx[b] - cx[a]) / (cw[b] - cw[a]))
    return levels[inverse].reshape(v.shape).astype(v.dtype)


def svtav1_offsets(maps: Iterable[QpMap | None], qindex_per_qp: float = SVTAV1_QINDEX_PER_QP) -> np.ndarray:
    """Per-picture superblock offsets in q-index units, clamped to +-255, at most 8 distinct values each."""
    maps = list(maps)
    zero = np.zeros(grid_shape(*maps_size(maps), SVTAV1_SUPERBLOCK))
    means = np.stack([zero if m is None else m.block_means(SVTAV1_SUPERBLOCK) for m in maps])
    q = np.clip(np.round(means * qindex_per_qp), -255, 255).astype(np.int32)
    return np.stack([quantise_levels(frame, SVTAV1_MAX_SEGMENTS) for frame in q])


def write_svtav1_roi_map(
    path: str | Path, maps: Iterable[QpMap | None], qindex_per_qp: float = SVTAV1_QINDEX_PER_QP
) -> np.ndarray:
    """Write the ROI events (a line where a picture's offsets change); returns every picture's offsets."""
    q = svtav1_offsets(maps, qindex_per_qp)
    lines = [
        f"{n} " + " ".join(map(str, frame.ravel()))
        for n, frame in enumerate(q)
        if n == 0 or not np.array_equal(frame, q[n - 1])
    ]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
    return q

"""ffmpeg command line only (write_addroi_script, x265_zones)
FFmpeg's libx264 takes no qpfile, but its libx264/libx265 wrappers honour ``addroi`` side data:
qoffset is a fraction that the wrapper multiplies by the QP range (51 for 8-bit), so qoffset =
delta/51 is an exact integer delta at 8 bit (and scales with the range at 10 bit).  An addroi box holds
for the whole encode, so only the temporally stable part of the maps goes in: blocks whose offset has
the sign of their temporal median in >= 80 % of frames, quantised to <= 4 levels and covered greedily
by at most 32 uniform rectangles (largest |delta| x area first; uncovered blocks get 0; they never
overlap, so the wrapper's "first box wins" rule does not matter).  Use it with
``ffmpeg -i IN -/filter:v FILE -c:v libx264 ...`` (the static ffmpeg 9 has dropped ``-filter_script``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preanalysis.io import atomic_write_text
from preanalysis.qpmap import QpMap

from .grid import stack_offsets
from .qpfile import QP_RANGE_8BIT
from .svtav1 import quantise_levels


@dataclass(frozen=True)
class Roi:
    """A rectangle in pixels with an integer QP delta (what one addroi filter instance carries)."""

    x: int
    y: int
    w: int
    h: int
    delta: int

    def filter(self) -> str:
        return f"addroi=x={self.x}:y={self.y}:w={self.w}:h={self.h}:qoffset={self.delta}/{QP_RANGE_8BIT}"


def stable_offsets(offsets: np.ndarray, agreement: float = 0.8) -> np.ndarray:
    """Temporal median of each block where >= agreement of the frames share its sign, else 0."""
    median = np.round(np.median(offsets, axis=0)).astype(np.int32)
    same_sign = (np.sign(offsets) == np.sign(median)).mean(axis=0)
    return np.where((median != 0) & (same_sign >= agreement), median, 0)


def largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int, int]:
    """(area, row, col, height, width) of the largest all-True rectangle (histogram + stack per row)."""
    best = (0, 0, 0, 0, 0)
    heights = [0] * (mask.shape[1] + 1)  # the trailing 0 flushes the stack at the end of each row
    for r, row in enumerate(mask.tolist()):
        heights[:-1] = [h + 1 if on else 0 for h, on in zip(heights, row)]
        stack: list[int] = []
        for c, h in enumerate(heights):
            while stack and heights[stack[-1]] >= h:
                top_h = heights[stack.pop()]
                left = stack[-1] + 1 if stack else 0
                if top_h * (c - left) > best[0]:
                    best = (top_h * (c - left), r - top_h + 1, left, top_h, c - left)
            stack.append(c)
    return best


def roi_rectangles(
    grid: np.ndarray, width: int, height: int, block_size: int = 16, max_rects: int = 32
) -> list[Roi]:
    """Cover the nonzero blocks of an integer grid with at most max_rects uniform, non-overlapping boxes."""
    remaining = grid.copy()
    rois: list[Roi] = []
    while len(rois) < max_rects and remaining.any():
        candidates = [
            (largest_rectangle(remaining == v), int(v)) for v in np.unique(remaining[remaining != 0])
        ]
        (_, r, c, h, w), value = max(candidates, key=lambda cand: cand[0][0] * abs(cand[1]))
        remaining[r : r + h, c : c + w] = 0
        x, y = c * block_size, r * block_size
        rois.append(Roi(x, y, min(w * block_size, width - x), min(h * block_size, height - y), value))
    return rois


def addroi_rois(
    maps: Iterable[QpMap | None], levels: int = 4, max_rects: int = 32, agreement: float = 0.8
) -> list[Roi]:
    """The temporally stable part of the maps as at most max_rects addroi boxes (see the module docstring)."""
    offsets, width, height = stack_offsets(maps, 16)
    stable = stable_offsets(offsets, agreement)
    nonzero = stable != 0
    stable[nonzero] = quantise_levels(stable[nonzero], levels)
    return roi_rectangles(stable, width, height, 16, max_rects)


def write_addroi_script(path: str | Path, maps: Iterable[QpMap | None], max_rects: int = 32) -> list[Roi]:
    """An ffmpeg filter script (`-/filter:v FILE`); an empty map gives the no-op filter `null`."""
    rois = addroi_rois(maps, max_rects=max_rects)
    atomic_write_text(Path(path), (",\n".join(r.filter() for r in rois) or "null") + "\n")
    return rois

"""Encoder-native side files written from per-frame QP maps, for encoders we do not drive in-process.

Every writer takes the per-frame `QpMap`s of preanalysis.allocate (int8 QP offsets per 16x16 block, full
resolution coordinates; `None` for a frame without a map) and writes its file atomically.

x264 / x265 ``--qpfile`` (write_qpfile)
    One line per frame, ``framenum type QP`` with QP = clip(round(base_qp + mean offset of the frame), 0, 51):
    frame level only, the per-block detail is lost.  Both parsers *require* a type letter (I=IDR, i=I,
    K=keyframe, P, B=B-ref, b=B; there is no "auto" letter, only QP -1 means auto), so a line forces its
    frame type.  We write ``I`` for frame 0 and the given keyframes (scene cuts) and ``P`` for the rest:
    honest and valid for both encoders, at the price of no B-frames on mapped frames.  Frames whose map is
    None get no line (type and QP left to the encoder).  The QPs are exact only with AQ and mbtree/cutree
    off (x264 ``--aq-mode 0 --no-mbtree``, x265 ``--aq-mode 0 --no-cutree``); otherwise AQ is added.

NVENC delta-QP maps (write_nvenc_maps / read_nvenc_maps)
    One file per sequence, little-endian::

        offset size  field
        0      4     magic  b"PQPM"
        4      2     version (uint16) = 1
        6      1     codec (uint8): 0 = H.264, 1 = HEVC
        7      1     block size in pixels (uint8): 16 for H.264, the CTB size (16, 32 or 64) for HEVC
        8      2     cols (uint16)  = ceil(width / block size)
        10     2     rows (uint16)  = ceil(height / block size)
        12     4     frames (uint32)
        16     ...   frames x rows x cols int8 deltas, frame after frame, each in raster order

    A frame's slice is exactly the ``qpDeltaMap`` NVENC takes in ``NV_ENC_PIC_PARAMS`` with
    ``qpMapMode = NV_ENC_QP_MAP_DELTA`` (one signed byte per macroblock / CTB).  Deltas are clamped to +-51.

SVT-AV1 ``--roi-map-file`` (write_svtav1_roi_map)
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
    Verified on the real library (tests/test_svtav1.py): a file read back the way SvtAv1EncApp 4.1 parses it
    and sent through libSvtAv1Enc as ROI events gives the same stream as the svtav1 adapter's own maps.  The
    superblock value is the unrounded mean of its 16x16 offsets times 6.5, rounded once.

kvazaar ``--roi`` (write_kvazaar_roi)
    Text ``W H`` then W*H integer deltas (+-51) in raster order, one map for the whole encode (kvazaar
    stretches it over the frame, LCU x -> value x * W / LCUs per row): the temporal median of the frames'
    maps on kvazaar's 64x64 LCU grid, so each value lands on exactly one LCU.  (The kvazaar inside the static
    ffmpeg 9 reads a further map per frame when the file holds several, but in coding order, not display
    order, so per-frame maps do not reach the intended frames that way; one map holds for every frame.)

ffmpeg command line only (write_addroi_script, x265_zones)
    FFmpeg's libx264 takes no qpfile, but its libx264/libx265 wrappers honour ``addroi`` side data:
    qoffset is a fraction that the wrapper multiplies by the QP range (51 for 8-bit), so qoffset =
    delta/51 is an exact integer delta at 8 bit (and scales with the range at 10 bit).  An addroi box holds
    for the whole encode, so only the temporally stable part of the maps goes in: blocks whose offset has
    the sign of their temporal median in >= 80 % of frames, quantised to <= 4 levels and covered greedily
    by at most 32 uniform rectangles (largest |delta| x area first; uncovered blocks get 0; they never
    overlap, so the wrapper's "first box wins" rule does not matter).  Use it with
    ``ffmpeg -i IN -/filter:v FILE -c:v libx264 ...`` (the static ffmpeg 9 has dropped ``-filter_script``).
    Per-scene changes go into ``-x265-params zones=s,e,b=F/...``: scenes are runs of frames whose
    median-filtered mean offset stays within the same 1-QP step (runs shorter than 12 frames join their
    neighbour); a scene with mean offset d gets the bitrate factor b = 2^(-d/6), which x265 turns into a
    qscale change of exactly +d QP on top of its own rate control (zone q= would override it instead).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from preanalysis.allocate import QpMap, grid_shape
from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_output, atomic_write_text

from . import nvenc

QP_RANGE_8BIT = 51
NVENC_MAGIC = b"PQPM"
NVENC_VERSION = 1
NVENC_HEADER = struct.Struct("<4sHBBHHI")
NVENC_CODECS = {"h264": 0, "hevc": 1}
SVTAV1_SUPERBLOCK = 64
SVTAV1_MAX_SEGMENTS = 8
SVTAV1_QINDEX_PER_QP = 6.5  # see the module docstring
KVAZAAR_LCU = 64


def stack_offsets(maps: Iterable[QpMap | None], block_size: int) -> tuple[np.ndarray, int, int]:
    """(frames x rows x cols offsets on a block_size grid, width, height); a None frame becomes all zeros."""
    maps = list(maps)
    known = [m for m in maps if m is not None]
    if not known:
        raise PreanalysisError("no QP maps to write: analyse at least one frame of the video")
    width, height = known[0].width, known[0].height
    for m in known:
        if (m.width, m.height) != (width, height):
            raise PreanalysisError(
                f"QP maps of {m.width}x{m.height} and {width}x{height} frames are mixed: use one video's maps"
            )
    grids = [m.aggregate(block_size).offsets for m in known]
    zero = np.zeros_like(grids[0])
    it = iter(grids)
    return np.stack([zero if m is None else next(it) for m in maps]).astype(np.int16), width, height


# --- x264 / x265 qpfile ---------------------------------------------------------------------------------


def frame_qps(maps: Iterable[QpMap | None], base_qp: float) -> list[int | None]:
    """Frame QP = clip(round(base_qp + mean block offset), 0, 51); None where the frame has no map."""
    if not 0 <= base_qp <= QP_RANGE_8BIT:
        raise PreanalysisError(f"base QP {base_qp} is outside 0..51: choose a base QP like 26")
    return [None if m is None else int(np.clip(round(base_qp + m.mean()), 0, QP_RANGE_8BIT)) for m in maps]


def write_qpfile(
    path: str | Path, maps: Iterable[QpMap | None], base_qp: float = 26, keyframes: Collection[int] = ()
) -> list[int | None]:
    """Write an x264/x265 --qpfile (same syntax for both); returns the frame QPs written."""
    qps = frame_qps(maps, base_qp)
    lines = []
    for n, qp in enumerate(qps):
        key = n == 0 or n in keyframes
        if qp is not None or key:
            lines.append(f"{n} {'I' if key else 'P'} {-1 if qp is None else qp}")
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
    return qps


# --- NVENC ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NvencMaps:
    codec: str  # h264 | hevc
    block_size: int
    offsets: np.ndarray  # int8, frames x rows x cols

    def frame(self, index: int) -> bytes:
        """The qpDeltaMap bytes of one picture (raster order, one signed byte per block)."""
        return np.ascontiguousarray(self.offsets[index]).tobytes()


def write_nvenc_maps(
    path: str | Path, maps: Iterable[QpMap | None], codec: str = "h264", ctb_size: int = 32
) -> NvencMaps:
    """Write one delta-QP file for the sequence: 16x16 blocks for H.264, ctb_size blocks for HEVC.

    Each frame is packed by encoder_adapters.nvenc.qp_delta_map: the very bytes the SDK adapter sends.
    """
    maps = list(maps)
    block = nvenc.block_size(codec, ctb_size)
    _, width, height = stack_offsets(maps, block)  # refuses no maps and mixed frame sizes
    rows, cols = grid_shape(width, height, block)
    zero = np.zeros(rows * cols, np.int8)
    packed = [zero if m is None else nvenc.qp_delta_map(m, codec, width, height, ctb_size) for m in maps]
    data = NvencMaps(codec, block, np.stack(packed).reshape(len(maps), rows, cols))
    header = NVENC_HEADER.pack(NVENC_MAGIC, NVENC_VERSION, NVENC_CODECS[codec], block, cols, rows, len(maps))
    with atomic_output(path) as tmp:
        tmp.write_bytes(header + data.offsets.tobytes())
    return data


def read_nvenc_maps(path: str | Path) -> NvencMaps:
    """Read a file written by write_nvenc_maps, checking the header against the payload size."""
    raw = Path(path).read_bytes()
    if len(raw) < NVENC_HEADER.size or raw[:4] != NVENC_MAGIC:
        raise PreanalysisError(
            f"{path} is not an NVENC delta-QP map file: write it with `preanalysis qpfile --format nvenc`"
        )
    _, version, codec_id, block, cols, rows, frames = NVENC_HEADER.unpack_from(raw)
    if version != NVENC_VERSION:
        raise PreanalysisError(
            f"{path} has map file version {version}, this reader knows {NVENC_VERSION}: rewrite it"
        )
    codec = {v: k for k, v in NVENC_CODECS.items()}.get(codec_id)
    expected = NVENC_HEADER.size + frames * rows * cols
    if codec is None or len(raw) != expected:
        raise PreanalysisError(
            f"{path} is damaged ({len(raw)} bytes, header says {expected}): write it again"
        )
    offsets = np.frombuffer(raw, dtype=np.int8, offset=NVENC_HEADER.size).reshape(frames, rows, cols)
    return NvencMaps(codec, block, offsets)


# --- SVT-AV1 --------------------------------------------------------------------------------------------


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


def superblock_means(m: QpMap, block_size: int) -> np.ndarray:
    """Mean QP offset of each block_size square, unrounded (QpMap.aggregate rounds to whole QPs, which would
    lose up to half a QP = 3 q-index before the scaling)."""
    k = block_size // m.block_size
    rows, cols = grid_shape(m.width, m.height, block_size)
    padded = np.full((rows * k, cols * k), np.nan)
    padded[: m.offsets.shape[0], : m.offsets.shape[1]] = m.offsets
    return np.nanmean(padded.reshape(rows, k, cols, k), axis=(1, 3))


def svtav1_offsets(maps: Iterable[QpMap | None], qindex_per_qp: float = SVTAV1_QINDEX_PER_QP) -> np.ndarray:
    """Per-picture superblock offsets in q-index units, clamped to +-255, at most 8 distinct values each."""
    maps = list(maps)
    _, width, height = stack_offsets(maps, SVTAV1_SUPERBLOCK)  # refuses no maps and mixed frame sizes
    zero = np.zeros(grid_shape(width, height, SVTAV1_SUPERBLOCK))
    means = np.stack([zero if m is None else superblock_means(m, SVTAV1_SUPERBLOCK) for m in maps])
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


# --- kvazaar --------------------------------------------------------------------------------------------


def kvazaar_roi(maps: Iterable[QpMap | None], block_size: int = KVAZAAR_LCU) -> np.ndarray:
    """One map for the whole encode: the per-block temporal median, rounded, clamped to +-51."""
    offsets, _, _ = stack_offsets(maps, block_size)
    return np.clip(np.round(np.median(offsets, axis=0)), -QP_RANGE_8BIT, QP_RANGE_8BIT).astype(np.int32)


def write_kvazaar_roi(
    path: str | Path, maps: Iterable[QpMap | None], block_size: int = KVAZAAR_LCU
) -> np.ndarray:
    roi = kvazaar_roi(maps, block_size)
    rows = "\n".join(" ".join(map(str, r)) for r in roi)
    atomic_write_text(Path(path), f"{roi.shape[1]} {roi.shape[0]}\n{rows}\n")
    return roi


# --- ffmpeg command line: addroi filter script and x265 zones --------------------------------------------


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


@dataclass(frozen=True)
class Zone:
    start: int
    end: int  # inclusive, as x265 counts
    offset: float  # mean QP offset of the scene

    @property
    def bitrate_factor(self) -> float:
        return float(2.0 ** (-self.offset / 6.0))


def scenes(frame_means: Sequence[float], min_frames: int = 12, step: float = 1.0) -> list[Zone]:
    """Runs of frames whose median-filtered mean offset stays in one `step` bin; short runs are merged."""
    m = np.asarray(frame_means, dtype=np.float64)
    if m.size == 0:
        return []
    window = min(min_frames | 1, m.size)  # odd, so a step edge stays where it is
    bins = np.round(median_filter(m, size=window, mode="nearest") / step)
    starts = [0] + [t for t in range(1, m.size) if bins[t] != bins[t - 1]]
    runs = [[a, b] for a, b in zip(starts, starts[1:] + [m.size])]
    merged: list[list[int]] = []
    for run in runs:
        if merged and (run[1] - run[0] < min_frames or merged[-1][1] - merged[-1][0] < min_frames):
            merged[-1][1] = run[1]  # a short run joins the previous one (a short first run takes the next)
        else:
            merged.append(run)
    return [Zone(a, b - 1, float(m[a:b].mean())) for a, b in merged]


def x265_zones(maps: Iterable[QpMap | None], min_frames: int = 12, min_offset: float = 0.5) -> str:
    """The `zones=` value for -x265-params: `start,end,b=factor` per scene whose mean offset matters."""
    maps = list(maps)
    means = [0.0 if m is None else m.mean() for m in maps]
    zones = [z for z in scenes(means, min_frames) if abs(z.offset) >= min_offset]
    return "/".join(f"{z.start},{z.end},b={z.bitrate_factor:.3f}" for z in zones)


def write_x265_zones(path: str | Path, maps: Iterable[QpMap | None], min_frames: int = 12) -> str:
    zones = x265_zones(maps, min_frames)
    atomic_write_text(Path(path), zones + "\n")
    return zones

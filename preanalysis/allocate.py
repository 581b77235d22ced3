"""Perceptual bitrate allocation: salience mask -> bit shares under a budget -> integer QP offsets.

Rate model: the bits of a block scale about as 2^(-QP/6), so a block whose share of the frame's
bits should change by a factor s gets the offset -6*log2(s).  Offsets are re-centred so that the
complexity-weighted predicted bits never exceed what the frames would cost without a map: per frame
(`recentre`, allocate.segment = frame), or per segment of frames (`segment_offsets`: a scene, a GOP of
whole scenes), where single frames may take more or less within +-frame_qp_range and the segment as a
whole keeps its no-map budget.  Why segments: VMAF saturates on some stretches (fast motion, VMAF's own
motion masking) and not on others, so bits moved between frames buy VMAF that no per-frame budget allows.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import AllocateConfig
from .errors import PreanalysisError
from .qpmap import BLOCK, grid_shape


def allocate_bits(weights: np.ndarray, budget: float, min_rate: float, max_rate: float) -> np.ndarray:
    """The seed's allocator: rate_i proportional to weight_i, clamped to [min_rate, max_rate], sum <= budget.

    What clamping frees (or takes) is redistributed over the unclamped entries by solving for the
    proportionality constant k in sum(clip(k * w, min, max)) = budget (monotone in k, so bisection is exact
    to float precision).  If even max_rate everywhere stays under the budget, everything gets max_rate.
    """
    w = np.asarray(weights, dtype=np.float64)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise PreanalysisError("allocation weights must be finite and >= 0")
    if not 0 <= min_rate <= max_rate:
        raise PreanalysisError(f"need 0 <= min_rate <= max_rate, got {min_rate} and {max_rate}")
    n = w.size
    if n == 0:
        return w.copy()
    if min_rate * n > budget * (1 + 1e-12):
        raise PreanalysisError(
            f"budget {budget:g} is below {n} x min_rate {min_rate:g}: lower min_rate or raise the budget"
        )
    if max_rate * n <= budget or not np.any(w > 0):
        rate = max_rate if max_rate * n <= budget else budget / n
        return np.full_like(w, rate)

    w = w / w.max()  # scale-free, and keeps k * w finite for tiny weights

    def total(k: float) -> float:
        return float(np.clip(k * w, min_rate, max_rate).sum())

    lo, hi = 0.0, max_rate / max(float(w[w > 0].min()), 1e-300)
    for _ in range(64 if hi < 1e12 else 1100):  # to float precision; tiny weights need the long way down
        mid = 0.5 * (lo + hi)
        if total(mid) > budget:
            hi = mid
        else:
            lo = mid
    return np.clip(lo * w, min_rate, max_rate)


def block_means(image: np.ndarray, width: int, height: int, block_size: int = BLOCK) -> np.ndarray:
    """Average an analysis-resolution map over the encoder's block grid of a width x height frame."""
    rows, cols = grid_shape(width, height, block_size)
    # Resample onto the padded grid so that edge blocks average only the pixels the frame really has.
    scale_w, scale_h = cols * block_size / width, rows * block_size / height
    h, w = image.shape
    src = image.astype(np.float32)
    pad_w, pad_h = round(w * scale_w) - w, round(h * scale_h) - h
    if pad_w > 0 or pad_h > 0:
        src = cv2.copyMakeBorder(src, 0, max(pad_h, 0), 0, max(pad_w, 0), cv2.BORDER_REPLICATE)
    return cv2.resize(src, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float64)


def qp_offsets(
    block_salience: np.ndarray, block_complexity: np.ndarray, settings: AllocateConfig,
    extra: np.ndarray | None = None, gain: float = 1.0, still: np.ndarray | None = None,
) -> np.ndarray:
    """Per-block salience (0..1) -> integer QP offsets whose predicted frame bits do not exceed the no-map bits.

    block_complexity is each block's relative cost at the frame's base QP (bits ~ complexity * 2^(-dQP/6));
    extra: float offsets added to the mask's before the budget (sensitivity_offsets); gain: both times this
    (allocate.scene_start_gain on a scene's first frame); still: blocks that keep no offset (still_blocks).
    """
    s = np.asarray(block_salience, dtype=np.float64)
    c = np.asarray(block_complexity, dtype=np.float64)
    if s.shape != c.shape:
        raise PreanalysisError(f"salience grid {s.shape} and complexity grid {c.shape} differ")
    lo, hi = settings.min_offset, settings.max_offset
    if (settings.strength == 0 and extra is None) or lo == hi == 0 or gain == 0:
        return np.zeros(s.shape, dtype=np.int8)
    raw = raw_offsets(s, settings)
    return recentre(gain * (raw if extra is None else raw + extra), c, lo, hi, still)


def sensitivity_offsets(log_weight: np.ndarray, gain: float) -> np.ndarray:
    """Float offsets from a VMAF sensitivity map (log2 weight per block; (rows, cols) or (frames, rows, cols)):
    -gain * (lw - each frame's mean), the teacher's mapping (learning.teacher_vmaf.offsets clips it), added to the
    mask's offsets before the budget (allocate.sensitivity)."""
    lw = np.asarray(log_weight)
    return -gain * (lw - lw.mean(axis=(-2, -1), keepdims=True))


def raw_offsets(block_salience: np.ndarray, settings: AllocateConfig) -> np.ndarray:
    """The mask's float offsets before any budget: shares of bits relative to a flat map, in the pixel domain,
    proportional to the mask, clamped so no block leaves the offset range, redistributed by the seed's
    allocator over an equal total."""
    s = np.asarray(block_salience, dtype=np.float64)
    lo, hi = settings.min_offset, settings.max_offset
    if settings.strength == 0 or lo == hi == 0:
        return np.zeros(s.shape)
    weights = (settings.floor + np.clip(s, 0, 1)) ** settings.strength
    shares = allocate_bits(weights.ravel(), budget=float(s.size), min_rate=2.0 ** (-hi / 6), max_rate=2.0 ** (-lo / 6))
    return (-6.0 * np.log2(shares)).reshape(s.shape)


def predicted_bits(offsets: np.ndarray, complexity: np.ndarray) -> float:
    return float((complexity * np.exp2(-offsets / 6.0)).sum())


def recentre(raw: np.ndarray, complexity: np.ndarray, lo: int, hi: int, fixed: np.ndarray | None = None
             ) -> np.ndarray:
    """Round and shift the offsets by the smallest delta that keeps predicted bits within the no-map budget.
    fixed: blocks that keep offset 0 (they cost their no-map bits; the others share the rest of the budget)."""
    budget = float(complexity.sum())

    def quantise(delta: float) -> np.ndarray:
        out = np.clip(np.round(raw + delta), lo, hi)
        return out if fixed is None else np.where(fixed, 0.0, out)

    a, b = float(lo - raw.max()) - 1, float(hi - raw.min()) + 1  # all-lo (over budget) .. all-hi (under)
    for _ in range(40):  # 2^-40 of the offset range: far below what rounding can tell apart
        mid = 0.5 * (a + b)
        if predicted_bits(quantise(mid), complexity) > budget:
            a = mid
        else:
            b = mid
    out = quantise(b)
    return out.astype(np.int8)


def segment_offsets(raw: np.ndarray, complexity: np.ndarray, frame_offsets: np.ndarray, frame_qp_range: float,
                    lo: int, hi: int, plain: np.ndarray | None = None, still: np.ndarray | None = None) -> np.ndarray:
    """One segment's integer offsets (frames, rows, cols) whose predicted bits stay within its no-map bits.

    raw: each frame's block offsets; frame_offsets: each frame's frame-level offset (positive = fewer bits).
    Each frame's mean offset relative to the segment's is clipped to +-frame_qp_range (the frame part), then one
    shift for the whole segment meets the budget: bits move between frames, never out of the segment.
    plain: frames that keep no offsets (a scene's I frame, allocate.scene_start_gain 0); they cost their no-map
    bits, so the other frames share the rest of the budget among themselves; still: blocks (frames, rows, cols)
    that keep no offsets likewise (still_blocks)."""
    raw = np.asarray(raw, np.float64)
    c = np.asarray(complexity, np.float64)
    if raw.shape != c.shape or raw.ndim != 3 or len(frame_offsets) != len(raw):
        raise PreanalysisError(f"segment offsets {raw.shape}, complexity {c.shape} and {len(frame_offsets)} frame "
                               "offsets do not match")
    if plain is not None and np.any(plain):
        rest = ~np.asarray(plain, bool)
        out = np.zeros(raw.shape, np.int8)
        if rest.any():
            out[rest] = segment_offsets(raw[rest], c[rest], np.asarray(frame_offsets)[rest], frame_qp_range, lo, hi,
                                        None, None if still is None else still[rest])
        return out
    x = raw + np.asarray(frame_offsets, np.float64)[:, None, None]
    frame = x.mean(axis=(1, 2), keepdims=True)
    centre = float(frame.mean())
    x = x - frame + centre + np.clip(frame - centre, -frame_qp_range, frame_qp_range)
    return recentre(x, c, lo, hi, still)


def frame_offsets(log_motion: np.ndarray, scene_starts: np.ndarray, gain: float, unit: str) -> np.ndarray:
    """Frame-level offsets of a segment from VMAF's motion masking: gain * (m - mean over the segment), where m is
    each frame's log2(1 + motion2) (unit "frame") or its scene's mean of it (unit "scene": bits move between
    scenes only; within a scene the frame-to-frame part measured worth nothing on bikes)."""
    m = np.asarray(log_motion, np.float64)
    if unit == "scene":
        scene = np.cumsum(np.asarray(scene_starts, bool)) - (1 if scene_starts[0] else 0)
        m = (np.bincount(scene, m) / np.bincount(scene))[scene]
    elif unit != "frame":
        raise PreanalysisError(f"temporal unit {unit!r}: use frame or scene")
    return gain * (m - m.mean()) if len(m) else m


def still_blocks(luma: np.ndarray, previous: np.ndarray | None, width: int, height: int, levels: float
                 ) -> np.ndarray | None:
    """Blocks whose mean |luma - previous frame's| (analysis resolution, 8-bit levels) is below `levels`, None
    where there is no previous frame or no threshold (allocate.still_block_levels).  Why it exists: the rate model
    prices a block by its intra complexity, but an inter frame codes an unchanged block for next to nothing (a
    still text panel of the CGI intro lost +2.0 % VMAF BD on its inter frames alone).  Why it is off: on the fit
    clips keeping such blocks plain cost a third to two thirds of the map's gain (docs/results.md)."""
    if previous is None or not levels:
        return None
    change = np.abs(luma.astype(np.float32) - previous.astype(np.float32)) * 255.0
    return block_means(change, width, height) < levels


def block_complexity(luma: np.ndarray, width: int, height: int, block_size: int = BLOCK) -> np.ndarray:
    """Relative bits of each block at the frame's base QP: a constant (modes, headers) plus the RMS gradient,
    a cheap stand-in for the SATD an encoder's lookahead would measure."""
    y = luma.astype(np.float32) * 255.0
    gx = np.abs(np.diff(y, axis=1, prepend=y[:, :1]))
    gy = np.abs(np.diff(y, axis=0, prepend=y[:1, :]))
    return 2.0 + block_means(gx + gy, width, height, block_size)

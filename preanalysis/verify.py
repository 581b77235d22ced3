"""The segment guard (allocate.verify): a segment's QP offsets are checked by real encodes before they are used.

x264 codes the segment's analysis luma (neutral chroma) at two CRFs with and without the offsets, with the
settings maps are used under (own AQ off, mbtree on, medium), and VMAF-NEG (vmaf-torch) scores every EVERY-th
frame.  Where the map does not save rate at equal VMAF-NEG over those two points, the segment is coded without
it.  Why: a map that earns bits on the mean can still cost bits on one kind of footage (the segment teacher lost
+1.03 % VMAF on an underwater clip, docs/models.md), and no rule fitted on other clips predicts which; the
encoder itself, run on the segment, might.  Measured: on 16 held-out clips it kept the teacher's map everywhere
(its two points read diver at -0.83 % where the four-CRF eval gives +1.03 % VMAF), so the presets leave it off;
it catches maps that waste bits outright (tests/test_verify.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from .qpmap import QpMap, grid_shape

CRFS = (27.0, 32.0)  # the teacher's two points: the middle of the CRF 22-37 range maps are measured over
EVERY = 4  # scored frames: every 4th, as the teacher scores
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What the guard measured on one segment: the map's BD-rate (%, VMAF-NEG, negative = saves bits) and
    whether the offsets are kept."""

    bd_rate: float
    keep: bool


def two_point_bd_rate(rate0: tuple[float, float], score0: tuple[float, float], rate1: tuple[float, float],
                      score1: tuple[float, float]) -> float:
    """Rate change (%) of curve 1 against curve 0 at equal score, each curve the line through its two points in
    (score, log rate): the log-rate difference averaged over the scores both span (linear in the score, so its
    value at the middle of that span); where the spans do not overlap, at the middle of the gap between them."""
    lo = max(min(score0), min(score1))
    hi = min(max(score0), max(score1))
    middle = 0.5 * (lo + hi)

    def log_rate(rate, score):
        lr = np.log(rate)
        if score[0] == score[1]:
            return float(lr.mean())
        return float(lr[0] + (middle - score[0]) * (lr[1] - lr[0]) / (score[1] - score[0]))

    return 100.0 * (np.exp(log_rate(rate1, score1) - log_rate(rate0, score0)) - 1.0)


def analysis_maps(offsets: np.ndarray, shape: tuple[int, int]) -> list[QpMap]:
    """Offsets on the encode's block grid (frames, rows, cols) -> QP maps of the analysis frames (h, w): the
    area mean of the offsets each 16-px analysis block covers, rounded."""
    h, w = shape
    rows, cols = grid_shape(w, h)
    return [QpMap(np.round(cv2.resize(o.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA)
                           ).astype(np.int8), w, h) for o in offsets]


@cache
def _scorer(device: str):
    """VMAF-NEG on the analysis device setting (auto: CUDA when present), loaded once per process."""
    from .learning.teacher_vmaf import VmafGradient
    from .learning.weights import pick_device

    return VmafGradient(neg=True, device=pick_device(device))


def measure(lumas: np.ndarray, maps: list[QpMap], device: str = "auto") -> float:
    """The map's two-point BD-rate (%, VMAF-NEG) on uint8 luma frames (n, h, w), h and w even."""
    from .learning.teacher_vmaf import vmaf_motion2, x264_code, yuv_frames

    pick = np.arange(0, len(lumas), EVERY)
    motion = vmaf_motion2(lumas)[pick]
    scorer = _scorer(device)
    curves = []
    for qp in (None, maps):
        rates, scores = [], []
        for crf in CRFS:
            decoded, bits = x264_code(yuv_frames(lumas), crf, qp)
            rates.append(bits)
            scores.append(float(scorer.scores(lumas[pick], decoded[pick], motion).mean()))
        curves.append((tuple(rates), tuple(scores)))
    return two_point_bd_rate(*curves[0], *curves[1])


def verify(lumas: list[np.ndarray], offsets: np.ndarray, device: str = "auto") -> Verdict:
    """The guard on one segment: analysis lumas (floats in [0, 1]) and its offsets on the encode's grid.  A map
    with no offsets, or a segment of one frame, is kept as it is (nothing to measure)."""
    if not np.any(offsets) or len(lumas) < 2:
        return Verdict(0.0, True)
    from .learning.teacher_vmaf import even_uint8

    frames = np.stack([even_uint8(y) for y in lumas])
    bd = measure(frames, analysis_maps(offsets, frames.shape[1:]), device)
    verdict = Verdict(bd, bd < 0)
    log.info("segment of %d frames: the map's BD-rate %+.2f %% VMAF-NEG at analysis resolution: %s", len(lumas), bd,
             "kept" if verdict.keep else "switched off")
    return verdict

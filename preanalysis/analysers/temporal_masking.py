"""`temporal_masking`: VMAF's own motion feature per block, the masking the allocator can spend from.

VMAF (v0.6.1, and NEG) scores the same spatial fidelity higher where the reference moves: its `motion2` feature
is the mean absolute difference of the Gaussian-blurred luma of neighbouring frames (libvmaf feature/motion.c,
the smaller of the backward and forward differences).  A frame or block that moves a lot can therefore take a
coarser QP for less VMAF than a still one.  The map is the backward difference per block (0 on a segment's
first frame, which has no predecessor); `motion2` rebuilds the frame feature from a segment's maps, taking
the forward difference from the next frame's map, so the analyser needs no lookahead.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from .grid import analysis_block

# libvmaf's motion filter (feature/motion.c FILTER_5), separable, mirrored borders.
VMAF_BLUR = np.array([0.054488685, 0.244201342, 0.402619947, 0.244201342, 0.054488685], np.float32)
FULL_SCALE = 64.0  # 8-bit luma difference at map value 1 (motion2 of real video stays far below: 0.01-20)


def blurred(luma: np.ndarray) -> np.ndarray:
    k = VMAF_BLUR.reshape(1, -1)
    return cv2.sepFilter2D(luma.astype(np.float32) * 255.0, -1, k, k.T, borderType=cv2.BORDER_REFLECT_101)


@register_analyser
class TemporalMasking(Analyser):
    """Per-block backward motion2 difference, linear: map = difference / FULL_SCALE (clipped to 1)."""

    name = "temporal_masking"
    maps = ("temporal_masking",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        if ctx.previous is None:
            return {self.name: np.zeros_like(ctx.luma, dtype=np.float32)}
        diff = np.abs(blurred(ctx.luma) - ctx.shared("vmaf_blur_previous", lambda: blurred(ctx.previous)))
        block = analysis_block(ctx.scale)
        h, w = diff.shape
        rows, cols = -(-h // block), -(-w // block)
        tiles = np.pad(diff, ((0, rows * block - h), (0, cols * block - w)), mode="edge")
        tiles = tiles.reshape(rows, block, cols, block).mean(axis=(1, 3)) / FULL_SCALE
        full = cv2.resize(np.clip(tiles, 0, 1).astype(np.float32), (cols * block, rows * block),
                          interpolation=cv2.INTER_NEAREST)
        return {self.name: full[:h, :w]}


def backward_motion(masking_map: np.ndarray) -> float:
    """A frame's backward motion difference (8-bit scale) from its temporal_masking map."""
    return float(masking_map.mean()) * FULL_SCALE


def motion2(backward: np.ndarray, scene_starts: np.ndarray) -> np.ndarray:
    """VMAF motion2 per frame of a segment: min(backward, forward), the forward one being the next frame's
    backward difference within the same scene; a scene's first frame (no backward) takes its forward one, a
    scene's last frame its backward one (across a cut the difference says nothing)."""
    b = np.asarray(backward, np.float64)
    starts = np.asarray(scene_starts, bool)
    n = len(b)
    out = b.copy()
    for t in range(n):
        has_back = not starts[t]
        has_fwd = t + 1 < n and not starts[t + 1]
        if has_back and has_fwd:
            out[t] = min(b[t], b[t + 1])
        elif has_fwd:
            out[t] = b[t + 1]
    return out

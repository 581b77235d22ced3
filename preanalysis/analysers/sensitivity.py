"""`sensitivity`: where VMAF(-NEG) loses most per unit of coding error, predicted per 16x16 block by the student of
the VMAF sensitivity teacher (preanalysis.learning.models.sensitivity).

The map is 2^((lw - 3) / 6) for the student's centred log2 weight lw in [-3, 3], so it lies in [0.5, 1] and,
weighted alone with allocate.floor ~ 0, the allocator's offsets are -6 strength log2(map) = -strength lw + c,
re-centred under the no-map bits: allocate.strength is the teacher mapping's gain (the `sensitivity` preset).
"""

from __future__ import annotations

import numpy as np

from ..learning.models.sensitivity import SensitivityModel
from ..learning.teacher_vmaf import LOG_CLIP
from .base import AnalysisContext, ModelAnalyser, register_analyser
from .grid import analysis_block


def to_map(log_weight: np.ndarray) -> np.ndarray:
    """Centred log2 weight per block -> map value in [0.5, 1] (see the module docstring)."""
    return np.exp2((np.clip(log_weight, -LOG_CLIP, LOG_CLIP) - LOG_CLIP) / (2 * LOG_CLIP)).astype(np.float32)


def log_weight(values: np.ndarray) -> np.ndarray:
    """The inverse of to_map: map values -> log2 weights (for allocate.sensitivity, which reads the map)."""
    return (np.log2(np.clip(values, 2.0 ** -1, 1.0)) * (2 * LOG_CLIP) + LOG_CLIP).astype(np.float64)


def block_tiles(values: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """One value per block (rows, cols) spread over its block x block analysis pixels, cut or edge-padded to
    `shape` (h, w)."""
    tiles = np.repeat(np.repeat(values, block, axis=0), block, axis=1)
    h, w = shape
    tiles = np.pad(tiles, ((0, max(0, h - tiles.shape[0])), (0, max(0, w - tiles.shape[1]))), mode="edge")
    return np.ascontiguousarray(tiles[:h, :w])


@register_analyser
class Sensitivity(ModelAnalyser):
    """Map `sensitivity`: the predicted VMAF-NEG weight of each block (high = spend bits here)."""

    name = "sensitivity"
    maps = ("sensitivity",)
    model_class = SensitivityModel

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        h, w = ctx.luma.shape
        frame = (round(w * ctx.scale), round(h * ctx.scale))
        lw = self.model.infer(ctx.luma, ctx.previous, frame)
        return {"sensitivity": block_tiles(to_map(lw), analysis_block(ctx.scale), (h, w))}

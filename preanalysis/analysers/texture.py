"""`texture`: per-block gradient energy, where detail is (and where coarse quantisation shows)."""

from __future__ import annotations

import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from .grid import analysis_block, block_map


def gradient_energy(luma: np.ndarray) -> np.ndarray:
    """Squared gradient magnitude in 8-bit units (what residual coding of a block costs, roughly)."""
    y = luma * 255.0
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, 1:] = np.diff(y, axis=1)
    gy[1:, :] = np.diff(y, axis=0)
    return gx * gx + gy * gy


@register_analyser
class Texture(Analyser):
    """Per-block gradient energy: where detail is (and where coarse quantisation shows)."""

    name = "texture"
    maps = ("texture",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        energy = ctx.shared("gradient_energy", lambda: gradient_energy(ctx.luma))
        return {"texture": block_map(energy, analysis_block(ctx.scale), 4096.0)}

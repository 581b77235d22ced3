"""`static`: the share of the recent frame pairs in which a pixel stayed still, from StaticMaskNet
(preanalysis.learning.models.static): robust to lighting changes, transparency and noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from ..learning.models.static import NAME, WINDOW, StaticModel


@register_analyser
class Static(Analyser):
    """Map `static`: share of the recent frame pairs (up to WINDOW-1) in which the pixel stayed still."""

    name = "static"
    maps = ("static",)
    learned = True

    def __init__(self, weights: str | Path = NAME, device: str = "auto"):
        """device: auto | cpu | cuda, from `analysis.device` (see pipeline.build_analysers)."""
        self.masker = StaticModel(weights, device)
        self.reset()

    def reset(self) -> None:
        self.recent: list[np.ndarray] = []

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        self.recent = (self.recent + [ctx.luma])[-WINDOW:]
        valid = len(self.recent) - 1
        if valid == 0:
            return {"static": np.full(ctx.luma.shape, 0.5, np.float32)}
        padded = [self.recent[0]] * (WINDOW - len(self.recent)) + self.recent
        masks = self.masker.infer(np.stack(padded))[-valid:]
        return {"static": masks.mean(axis=0).astype(np.float32)}

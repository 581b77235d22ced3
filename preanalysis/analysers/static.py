"""`static`: the share of the recent frame pairs in which a pixel stayed still, from StaticMaskNet
(preanalysis.learning.models.static): robust to lighting changes, transparency and noise."""

from __future__ import annotations

import numpy as np

from .base import AnalysisContext, ModelAnalyser, register_analyser
from ..learning.models.static import WINDOW, StaticModel


@register_analyser
class Static(ModelAnalyser):
    """Map `static`: share of the recent frame pairs (up to WINDOW-1) in which the pixel stayed still."""

    name = "static"
    maps = ("static",)
    model_class = StaticModel

    def reset(self) -> None:
        self.recent: list[np.ndarray] = []

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        self.recent = (self.recent + [ctx.luma])[-WINDOW:]
        valid = len(self.recent) - 1
        if valid == 0:
            return {"static": np.full(ctx.luma.shape, 0.5, np.float32)}
        padded = [self.recent[0]] * (WINDOW - len(self.recent)) + self.recent
        masks = self.model.infer(np.stack(padded))[-valid:]
        return {"static": masks.mean(axis=0).astype(np.float32)}

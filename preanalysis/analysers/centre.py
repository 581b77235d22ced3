"""`centre`: the centre-bias prior of saliency models (viewers look near the middle of the picture)."""

from __future__ import annotations

import numpy as np

from .base import Analyser, AnalysisContext, register_analyser

CENTRE_SIGMA = 0.25  # centre bias width, as a share of the frame width/height


@register_analyser
class Centre(Analyser):
    """Centre bias: viewers look near the middle of the picture far more than at its edges, whatever the
    content (a standard prior of saliency models).  A Gaussian of CENTRE_SIGMA x the frame's sides."""

    name = "centre"
    maps = ("centre",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        h, w = ctx.luma.shape
        y = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
        x = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
        return {"centre": np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * CENTRE_SIGMA ** 2)).astype(np.float32)}

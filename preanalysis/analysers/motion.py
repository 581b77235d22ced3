"""`motion`: per-block motion magnitude (DIS flow), in full-resolution pixels per frame."""

from __future__ import annotations

import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from .camera import dense_flow
from .grid import analysis_block, block_map


@register_analyser
class Motion(Analyser):
    """Per-block motion magnitude in full-resolution pixels per frame."""

    name = "motion"
    maps = ("motion",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        flow = dense_flow(ctx)
        magnitude = np.hypot(flow[..., 0], flow[..., 1]) * ctx.scale
        return {"motion": block_map(magnitude, analysis_block(ctx.scale), 64.0)}

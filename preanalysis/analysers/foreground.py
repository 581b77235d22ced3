"""`foreground`: motion unlike the camera's (flow minus the fitted global motion), i.e. objects moving in the scene."""

from __future__ import annotations

import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from .camera import dense_flow, global_motion
from .grid import analysis_block, block_map


@register_analyser
class Foreground(Analyser):
    """Motion that differs from the global (camera) motion: objects moving in the scene."""

    name = "foreground"
    maps = ("foreground",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        flow = dense_flow(ctx)
        own = flow - global_motion(flow)
        residual = np.hypot(own[..., 0], own[..., 1]) * ctx.scale
        return {"foreground": block_map(residual, analysis_block(ctx.scale), 32.0)}

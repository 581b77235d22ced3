"""`flow_motion`: motion magnitude from the learned pyramid-flow backbone (preanalysis.learning.models.flow_motion).

The backbone runs once per frame for every analyser that needs it (`backbone_outputs`, shared through the
frame's context), so `flow_motion`, `predicted_motion` and the mask stabiliser pay for one flow.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .base import Analyser, AnalysisContext, register_analyser
from ..learning.data import GRID
from ..learning.models.flow_motion import (MOTION_FULL_SCALE, NAME, FlowMotionModel, grid_to_analysis,
                                           still_where_unexplained)
from ..learning.weights import pick_device


@functools.lru_cache(maxsize=4)
def engine(weights: str = NAME, device: str = "auto") -> FlowMotionModel:
    """One loaded backbone per (weights, device), shared by every analyser that needs motion."""
    return FlowMotionModel(weights, device)


def backbone_outputs(ctx: AnalysisContext, device: str = "auto", weights: str = NAME,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward flow (current -> previous frame, grid px, (1, 2, h, w)) and the current frame's features,
    computed once per frame per (weights, device) for all analysers (so nobody gets another device's
    tensors); zero flow on the first frame, and in every cell where the field does not carry the previous
    frame onto the current one better than no motion (`still_where_unexplained`)."""
    device = str(pick_device(device))

    def compute():
        prev = ctx.luma if ctx.previous is None else ctx.previous
        model = engine(str(weights), device)
        with torch.inference_mode():
            flow, feat = model.stream(ctx.luma, prev)
            return still_where_unexplained(flow, model.tensor(ctx.luma[None]), model.tensor(prev[None])), feat

    return ctx.shared(f"backbone.{weights}.{device}", compute)


def motion_map(flow: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
    """Flow (2, h, w) in grid px -> [0, 1] map at analysis size: log2(1 + source px/frame) / log2(1 + 32)."""
    mag = np.linalg.norm(flow, axis=0) * (GRID * scale)
    m = np.clip(np.log2(1.0 + mag) / math.log2(1.0 + MOTION_FULL_SCALE), 0.0, 1.0).astype(np.float32)
    return grid_to_analysis(m, size)


@register_analyser
class FlowMotion(Analyser):
    """Motion magnitude from the learned backbone (high = fast motion)."""

    name = "flow_motion"
    maps = ("flow_motion",)
    learned = True

    def __init__(self, weights: str = NAME, device: str = "auto"):
        """device: auto | cpu | cuda, from `analysis.device`; resolved now so a missing CUDA fails at build."""
        self.weights, self.device = str(weights), str(pick_device(device))

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        flow, _ = backbone_outputs(ctx, self.device, self.weights)
        return {"flow_motion": motion_map(flow[0].cpu().numpy(), ctx.scale, ctx.luma.shape)}

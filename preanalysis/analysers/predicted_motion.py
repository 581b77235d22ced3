"""`predicted_motion`: magnitude of the motion expected n frames ahead, from the ConvGRU motion predictor
(preanalysis.learning.models.predicted_motion) on the backbone's flows and features; per grid cell it falls
back to constant velocity or zero motion where those have lately predicted the frames better (Fallback)."""

from __future__ import annotations

import functools

import numpy as np
import torch

from .base import Analyser, AnalysisContext, register_analyser
from .flow_motion import backbone_outputs, motion_map
from ..learning.data import GRID
from ..learning.models.predicted_motion import NAME, Fallback, MotionPredictor, PredictedMotionModel
from ..learning.weights import pick_device


@register_analyser
class PredictedMotion(Analyser):
    """Magnitude of the motion expected n frames ahead; `vectors` holds the field in source pixels per grid cell."""

    name = "predicted_motion"
    maps = ("predicted_motion",)
    learned = True

    def __init__(self, weights: str = NAME, horizon: int = 1, device: str = "auto"):
        """device: auto | cpu | cuda, from `analysis.device`; resolved now so a missing CUDA fails at build,
        and shared with the flow backbone whose outputs feed the predictor."""
        self.weights, self.horizon, self.device = weights, horizon, str(pick_device(device))
        self.reset()

    def reset(self) -> None:
        self.state = self.prev_flow = self.prev_feat = None
        self.fallback = Fallback(self.horizon)
        self.vectors: np.ndarray | None = None

    @functools.cached_property
    def net(self) -> MotionPredictor:
        return PredictedMotionModel(self.weights, self.device, self.horizon).net

    @torch.inference_mode()
    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        flow, feat = backbone_outputs(ctx, self.device)
        if self.state is None or self.state.shape[-2:] != flow.shape[-2:]:
            self.state, self.prev_flow, self.prev_feat = self.net.initial_state(flow), flow, None
        pred, self.state = self.net.step(feat, flow, self.prev_flow, self.state, self.prev_feat)
        self.prev_flow, self.prev_feat = flow, feat
        luma = lambda a: torch.as_tensor(a, device=flow.device)[None, None]  # noqa: E731
        pred, _ = self.fallback.step(pred, flow, luma(ctx.luma), luma(ctx.luma if ctx.previous is None else ctx.previous))
        self.vectors = pred[0].cpu().numpy() * (GRID * ctx.scale)
        return {"predicted_motion": motion_map(pred[0].cpu().numpy(), ctx.scale, ctx.luma.shape)}

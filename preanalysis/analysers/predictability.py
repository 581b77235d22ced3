"""`predictability`: how far the temporal network's prediction of this frame from the previous ones can be
trusted (its MaskNet, preanalysis.learning.models.predictability)."""

from __future__ import annotations

import numpy as np
import torch

from .base import AnalysisContext, ModelAnalyser, register_analyser
from ..learning.blocks import from_work, to_work
from ..learning.models.predictability import PredictabilityModel
from ..prefilters.noise import noise_sigma


@register_analyser
class Predictability(ModelAnalyser):
    """Map `predictability`: the MaskNet's trust in the prediction of this frame from the previous ones."""

    name = "predictability"
    maps = ("predictability",)
    model_class = PredictabilityModel

    def reset(self) -> None:
        self.state = self.model.infer()

    @torch.no_grad()
    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        work = to_work(ctx.luma)
        sigma = torch.tensor([noise_sigma(work) / 255], dtype=torch.float32, device=self.device)
        _, trust, _ = self.state.feed(torch.from_numpy(work)[None, None].to(self.device), sigma)
        if trust is None:
            return {"predictability": np.zeros(ctx.luma.shape, np.float32)}
        return {"predictability": from_work(trust[0, 0].cpu().numpy(), ctx.luma.shape)}

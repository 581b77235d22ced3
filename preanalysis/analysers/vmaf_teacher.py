"""`vmaf_teacher`: the VMAF sensitivity teacher itself as an analyser (preanalysis.learning.teacher_vmaf), for
encodes that can pay for it: every EVERY-th frame, x264 codes the last WINDOW analysis frames twice (CRF 27 and
32) and vmaf-torch's VMAF-NEG gradient says, per 16x16 block, how much score the block loses per unit of coding
error; the frames between keep that map.  Measured on held-out clips it earns what the cheap `sensitivity`
student only approximates (docs/models.md), at two short encodes and one gradient per EVERY frames.

The map is the `sensitivity` analyser's (2^((lw - 3) / 6) for the centred log2 weight lw), so the two are
interchangeable in a config (the `vmaf-teacher` preset is the `sensitivity` preset with this map).
"""

from __future__ import annotations

import numpy as np

from ..learning.teacher_vmaf import VmafGradient, teach_last
from ..learning.weights import pick_device
from .base import Analyser, AnalysisContext, register_analyser
from .grid import analysis_block
from .sensitivity import block_tiles, to_map

EVERY = 4  # frames per teaching (the bench's teacher scored every 4th frame too)
WINDOW = 8  # past frames coded with the taught one: x264's motion search and mbtree see a short run, not an I-frame


@register_analyser
class VmafTeacher(Analyser):
    """Map `vmaf_teacher`: the measured VMAF-NEG weight of each block (high = spend bits here)."""

    name = "vmaf_teacher"
    maps = ("vmaf_teacher",)
    learned = True

    def __init__(self, device: str = "auto"):
        self.device = pick_device(device)
        self.gradient = VmafGradient(neg=True, device=self.device)
        self.reset()

    def reset(self) -> None:
        self.past: list[np.ndarray] = []
        self.seen = 0
        self.lw = np.zeros((1, 1), np.float32)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        h, w = ctx.luma.shape
        even = (np.clip(ctx.luma[: h // 2 * 2, : w // 2 * 2], 0, 1) * 255).round().astype(np.uint8)
        self.past = [*self.past[-(WINDOW - 1):], even]
        block = analysis_block(ctx.scale)
        if self.seen % EVERY == 0:
            self.lw = teach_last(np.stack(self.past), self.gradient, block)
        self.seen += 1
        return {self.name: block_tiles(to_map(self.lw), block, (h, w))}

"""`vmaf_teacher`: the VMAF sensitivity teacher itself as an analyser (preanalysis.learning.teacher_vmaf), for
encodes that can pay for it: x264 codes the analysis frames twice (CRF 27 and 32; grey at 25 fps, or as the source
has them with analysis.code_source all) and vmaf-torch's VMAF-NEG gradient (analysis.teacher_metric: or VMAF's, or the
mean of both) says, per 16x16 block of every EVERY-th frame (analysis.teacher_every), how much score the block
loses per unit of coding error; the frames between keep that map.

Under a segment budget (allocate.segment scene|gop, the default) it teaches on the whole segment when the
segment closes (`segment_maps`, called by the pipeline's segment stage): every frame is coded inside its
segment, with x264's lookahead, as the batch teacher that earned bits on held-out clips did.  Its per-frame map
is then neutral until the segment closes.  Per frame (allocate.segment frame) it teaches on the last WINDOW
frames as they arrive: measured on held-out clips that keeps about half of the batch teacher's gain, and a
neutral-chroma check showed the missing lookahead, not the missing chroma, costs it (docs/models.md).

analysis.teacher_window averages each map's log2 weights with those of neighbouring scored frames (centred in a
closed segment, the last ones per frame; 0 = all of the segment's, or of the scene so far): the maps of successive
scored frames differ mostly by measurement noise (docs/splits.md, 2026-12-01).

The map is the `sensitivity` analyser's (2^((lw - 3) / 6) for the centred log2 weight lw), so the two are
interchangeable in a config (the `vmaf-teacher` preset is the `sensitivity` preset with this map).
"""

from __future__ import annotations

import numpy as np

from ..learning.teacher_vmaf import VmafGradient, even_uint8, scored_rows, teach_last, teach_lumas
from ..learning.weights import pick_device
from ..video import UNIT_RATE, SourceCoding
from .base import Analyser, AnalysisContext, register_analyser
from .grid import analysis_block
from .sensitivity import block_tiles, to_map

EVERY = 4  # frames per teaching, by default (the batch teacher scored every 4th frame too)
WINDOW = 8  # per frame: past frames coded with the taught one (motion search and mbtree see a short run)


@register_analyser
class VmafTeacher(Analyser):
    """Map `vmaf_teacher`: the measured VMAF-NEG (or VMAF, or both: `metrics`) weight of each block (high = spend
    bits here)."""

    name = "vmaf_teacher"
    maps = ("vmaf_teacher",)
    learned = True
    segment_level = True
    vmaf_gradient = True

    def __init__(self, device: str = "auto", causal: bool = True, metrics: tuple[str, ...] = ("neg",),
                 every: int = EVERY, window: int = 1, as_source: bool = False):
        self.device = pick_device(device)
        self.as_source = as_source  # code the frames' own chroma at the source's rate (analysis.code_source all)
        self.every = every
        self.window = window
        self.gradients = [VmafGradient(neg=m == "neg", device=self.device) for m in metrics]
        self.causal = causal
        self.reset()

    def reset(self) -> None:
        self.past: list[np.ndarray] = []
        self.past_chroma: list[np.ndarray] = []
        self.seen = 0
        self.taught: list[np.ndarray] = []
        self.lw = np.zeros((1, 1), np.float32)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        block = analysis_block(ctx.scale)
        if self.causal:
            self.past = [*self.past[-(WINDOW - 1):], even_uint8(ctx.luma)]
            if self.as_source:
                self.past_chroma = [*self.past_chroma[-(WINDOW - 1):], ctx.chroma]
            if self.seen % self.every == 0:
                kept = self.taught if self.window == 0 else self.taught[len(self.taught) + 1 - self.window:]
                source = SourceCoding(np.stack(self.past_chroma), ctx.rate or UNIT_RATE) if self.as_source else None
                self.taught = [*kept, teach_last(np.stack(self.past), self.gradients, block, source)]
                self.lw = np.mean(self.taught, axis=0)
            self.seen += 1
        return {self.name: block_tiles(to_map(self.lw), block, ctx.luma.shape)}

    def segment_maps(self, lumas: list[np.ndarray], scale: float, source: SourceCoding | None = None
                     ) -> list[np.ndarray]:
        """The map of every frame of a closed segment (analysis luma in display order; source: its chroma and rate,
        where the config codes them), taught on all of it."""
        block = analysis_block(scale)
        pick, rows = scored_rows(len(lumas), self.every)
        lw = averaged(teach_lumas(np.stack([even_uint8(y) for y in lumas]), self.gradients, block, pick,
                                  source=source if self.as_source else None), self.window)
        return [block_tiles(to_map(lw[k]), block, y.shape) for k, y in zip(rows, lumas)]


def averaged(lw: np.ndarray, window: int) -> np.ndarray:
    """Each scored frame's log2 weights (frames, rows, cols) averaged with (window - 1) / 2 neighbours each side,
    cut at the segment's ends (window 0: all of them).  The teacher's maps are centred per frame, so their mean is."""
    if window == 1:
        return lw
    half = len(lw) if window == 0 else (window - 1) // 2
    sums = np.concatenate([np.zeros((1, *lw.shape[1:])), np.cumsum(lw, axis=0, dtype=np.float64)])
    lo = np.maximum(np.arange(len(lw)) - half, 0)
    hi = np.minimum(np.arange(len(lw)) + half + 1, len(lw))
    return ((sums[hi] - sums[lo]) / (hi - lo)[:, None, None]).astype(np.float32)

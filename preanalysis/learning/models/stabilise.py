"""Mask stabilisation: carry the previous (stabilised) mask along the backbone flow and blend it with the
new mask through a predicted refining mask alpha, so masks (and thus QPs) do not flicker:

    S(t) = alpha * warp(S(t-1)) + (1 - alpha) * M(t)

alpha comes from a small CNN on the grid that sees the new mask, the warped one, their difference, the
warp's photometric error and the motion: it learns to trust the history where motion compensation holds
and to follow the new mask at occlusions and real changes.  It never sees which analyser made the mask.
Trained with an L2 fidelity term to M(t) plus LAMBDA x an L2 temporal term to the teacher-warped S(t-1),
weighted by the teacher warp's photometric confidence, on masks of several kinds with added flicker.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...analysers.base import ANALYSERS, AnalysisContext
from . import flow_motion as backbone
from ..data import GRID, Clip, report_clip, training_clips
from ..teacher import warp_torch
from ..training import fit, seed_everything, ship
from ..contract import LearnedModel

ARCH = "mask_stabiliser_v1"
NAME = "stabilise"
LAMBDA = 10.0  # temporal term weight: a confident pixel ends near alpha = LAMBDA / (1 + LAMBDA)
CONFIDENCE_SCALE = 0.03  # photometric error (luma units) at which the teacher warp's weight falls to 1/e
SEQUENCE = 6


class RefineNet(nn.Module):
    """(mask, warped mask, |difference|, photometric error, motion) on the grid -> alpha in [0, 1]."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(5, hidden, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(hidden, hidden, 3, 1, 1),
                                 nn.LeakyReLU(0.1), nn.Conv2d(hidden, 1, 3, 1, 1))

    def forward(self, mask, warped, luma, prev_luma, flow):
        """All (B, 1, H, W) at analysis resolution except flow (B, 2, h, w) on the grid; returns S(t)."""
        h, w = mask.shape[-2:]
        up = backbone.analysis_flow(flow, (h, w))
        err = (luma - warp_torch(prev_luma, up)).abs()
        pool = backbone.grid_mean
        x = torch.cat((pool(mask), pool(warped), pool((mask - warped).abs()), pool(err) * 10,
                       0.25 * torch.linalg.vector_norm(flow, dim=1, keepdim=True)), 1)
        alpha = torch.sigmoid(F.interpolate(self.net(x), scale_factor=GRID, mode="bilinear", align_corners=False))
        alpha = alpha[..., :h, :w]
        return alpha * warped + (1 - alpha) * mask


class StabiliseModel(LearnedModel):
    """infer(mask, luma, previous luma, flow): the next stabilised mask of a stream (masks fed in frame order
    with the backbone's backward flow; reset() at cuts); blind to the mask's source."""

    name, arch = NAME, ARCH

    def __init__(self, weights: str | Path | None = None, device: str = "cpu"):
        super().__init__(weights, device)
        self.reset()

    @classmethod
    def build(cls) -> RefineNet:
        return RefineNet()

    def reset(self) -> None:
        self.previous: torch.Tensor | None = None

    @torch.inference_mode()
    def infer(self, mask: np.ndarray, luma: np.ndarray, prev_luma: np.ndarray | None, flow: torch.Tensor) -> np.ndarray:
        """mask, luma (H, W); flow (1, 2, h, w) current -> previous on the grid. Returns the stabilised mask."""
        m = torch.as_tensor(mask, dtype=torch.float32, device=self.device)[None, None]
        if prev_luma is None or self.previous is None or self.previous.shape != m.shape:
            self.previous = m
            return mask.astype(np.float32)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)[None, None]
        warped = warp_torch(self.previous, backbone.analysis_flow(flow.to(self.device), mask.shape))
        self.previous = self.net(m, warped, t(luma), t(prev_luma), flow.to(self.device)).clamp(0, 1)
        return self.previous[0, 0].cpu().numpy()


# ---------------------------------------------------------------- training data: masks with flicker


def _box(x: np.ndarray, k: int) -> np.ndarray:
    return cv2.blur(x, (k, k))


def texture_mask(luma: np.ndarray) -> np.ndarray:
    """Local standard deviation, 5x5."""
    var = np.maximum(_box(luma * luma, 5) - _box(luma, 5) ** 2, 0)
    return np.clip(np.sqrt(var) / 0.12, 0, 1)


def difference_mask(luma: np.ndarray, prev: np.ndarray) -> np.ndarray:
    return np.clip(_box(np.abs(luma - prev), 7) / 0.08, 0, 1)


def mask_sequence(clip: Clip, start: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Masks of one random kind for frames start..start+length-1, with per-frame gain flicker and noise."""
    lum = clip.luma[start:start + length]
    kind = rng.integers(3)
    if kind == 0:
        masks = np.stack([texture_mask(x) for x in lum])
    elif kind == 1:
        prev = clip.luma[max(start - 1, 0):start + length - 1]
        masks = np.stack([difference_mask(x, p) for x, p in zip(lum, prev)])
    else:  # smooth blobs carried along the teacher flow
        h, w = lum.shape[1:]
        blob = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 6)
        blob = np.clip((blob - blob.mean()) / (blob.std() + 1e-6) * 0.25 + 0.5, 0, 1)
        masks = [blob]
        for k in range(1, length):
            fl = backbone.analysis_flow(torch.from_numpy(clip.back[start + k - 1])[None], (h, w))
            masks.append(warp_torch(torch.from_numpy(masks[-1])[None, None], fl)[0, 0].numpy())
        masks = np.stack(masks)
    gain = rng.uniform(0.8, 1.2, size=(length, 1, 1))
    noise = np.stack([_box(rng.normal(0, rng.uniform(0, 0.15), lum.shape[1:]).astype(np.float32), 3) for _ in range(length)])
    return np.clip(masks * gain + noise, 0, 1).astype(np.float32)


class _Sampler:
    def __init__(self, clips: list[Clip], flows: list[torch.Tensor], crop: int, batch: int):
        self.clips, self.flows, self.crop, self.batch = clips, flows, crop, batch

    def __call__(self, rng: np.random.Generator):
        items = []
        for _ in range(self.batch):
            i = int(rng.integers(len(self.clips)))
            c, fl = self.clips[i], self.flows[i]
            s = int(rng.integers(1, len(c.luma) - SEQUENCE + 1))
            masks = mask_sequence(c, s, SEQUENCE, rng)
            h, w = c.luma.shape[1:]
            ch, cw = min(self.crop, h // GRID * GRID), min(self.crop, w // GRID * GRID)
            y, x = int(rng.integers(0, (h - ch) // GRID + 1)) * GRID, int(rng.integers(0, (w - cw) // GRID + 1)) * GRID
            a, g = np.s_[..., y:y + ch, x:x + cw], np.s_[..., y // GRID:(y + ch) // GRID, x // GRID:(x + cw) // GRID]
            # flows[i][k] is the backbone's B_{k+1}; c.back[k] the teacher's B_{k+1}
            items.append((torch.from_numpy(masks[a]), torch.from_numpy(c.luma[s - 1:s + SEQUENCE][a].copy()),
                          fl[s - 1:s + SEQUENCE - 1][g], torch.from_numpy(c.back[s - 1:s + SEQUENCE - 1][g].copy())))
        hm, wm = min(i[0].shape[-2] for i in items), min(i[0].shape[-1] for i in items)
        crop = lambda t, g: t[..., : hm // g, : wm // g]
        stack = lambda k, g: torch.stack([crop(it[k], g) for it in items], 1)
        return stack(0, 1).unsqueeze(2), stack(1, 1).unsqueeze(2), stack(2, GRID), stack(3, GRID)


def loss_of(net: RefineNet, masks, lumas, flows, teacher) -> torch.Tensor:
    """masks (S, B, 1, H, W) for frames s..; lumas (S+1, ...) from s-1; flows/teacher (S, B, 2, h, w): B_s.."""
    size = masks.shape[-2:]
    out = masks[0]
    total = []
    for k in range(1, masks.shape[0]):
        warped = warp_torch(out, backbone.analysis_flow(flows[k], size))
        new = net(masks[k], warped, lumas[k + 1], lumas[k], flows[k])
        tflow = backbone.analysis_flow(teacher[k], size)
        conf = torch.exp(-(lumas[k + 1] - warp_torch(lumas[k], tflow)).abs() / CONFIDENCE_SCALE)
        total.append(((new - masks[k]) ** 2).mean() + LAMBDA * (conf * (new - warp_torch(out, tflow)) ** 2).mean())
        out = new
    return torch.stack(total).mean()


def train(videos: list[Path] | None = None, quick: bool = False, out: Path | None = None) -> dict:
    seed_everything(0)
    clips = training_clips(videos, quick, min_frames=SEQUENCE + 2)
    engine = backbone.FlowMotionModel(device="cpu")
    flows = [backbone.backbone_sequence(c, engine)[0] for c in clips]
    net = RefineNet()
    sample = _Sampler(clips, flows, crop=48 if quick else 96, batch=4 if quick else 8)
    stats = fit(net, lambda rng: loss_of(net, *sample(rng)), 80 if quick else 1500, lr=2e-3,
                max_seconds=20 if quick else 1500, name="stabilise")
    return ship(net, stats, out, quick, NAME, ARCH, {"lambda": LAMBDA})


# ---------------------------------------------------------------- report


def flicker_index(masks: np.ndarray, clip: Clip) -> float:
    """mean |M(t) - warp(M(t-1))| with the teacher flow (masks (T, H, W) aligned with clip.luma)."""
    size = masks.shape[-2:]
    m = torch.from_numpy(masks).unsqueeze(1)
    warped = warp_torch(m[:-1], backbone.analysis_flow(torch.from_numpy(clip.back), size))
    return float((m[1:] - warped).abs().mean())


def analyser_masks(clip: Clip, name: str) -> np.ndarray:
    """The maps a registered analyser produces over the clip, in frame order."""
    analyser, out, prev = ANALYSERS[name](), [], None
    for i, luma in enumerate(clip.luma):
        out.append(analyser.process(AnalysisContext(i, luma, prev, clip.scale))[name])
        prev = luma
    return np.stack(out).astype(np.float32)


REPORT_MAPS = ("texture", "motion", "foreground")  # classical analysers: masks the stabiliser never trained on


def report_one(clip: Clip, stab: StabiliseModel, engine: backbone.FlowMotionModel) -> dict:
    flows = backbone.backbone_sequence(clip, engine)[0]
    out = {"frames": len(clip.luma)}
    for name in REPORT_MAPS:
        raw = analyser_masks(clip, name)
        stab.reset()
        steady = np.stack([stab.infer(raw[t], clip.luma[t], clip.luma[t - 1] if t else None, flows[t - 1:t] if t else None)
                           for t in range(len(raw))])
        before, after = flicker_index(raw, clip), flicker_index(steady, clip)
        out[name] = {"flicker_before": before, "flicker_after": after, "ratio": after / before if before else math.nan,
                     "mean_abs_change": float(np.abs(steady - raw).mean())}
    return out


def report(clips: list[Path]) -> dict:
    """Per clip (held-out tail) and mean: flicker index of classical analysers' masks before/after."""
    stab = StabiliseModel()
    engine = backbone.FlowMotionModel(device="cpu")
    per = {str(p): report_one(report_clip(p, min_frames=2), stab, engine) for p in clips}
    mean = {}
    for name in REPORT_MAPS:
        b = float(np.mean([v[name]["flicker_before"] for v in per.values()]))
        a = float(np.mean([v[name]["flicker_after"] for v in per.values()]))
        mean[name] = {"flicker_before": b, "flicker_after": a, "ratio": a / b if b else math.nan}
    ratios = [m["ratio"] for m in mean.values()]
    return {"unit": "flicker index = mean |M(t) - warp_teacher(M(t-1))| on [0, 1] masks", "target": "ratio <= 0.5",
            "target_met": bool(all(r <= 0.5 for r in ratios)), "clips": per, "mean": mean}

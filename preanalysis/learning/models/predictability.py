"""Temporal predictability and the motion-compensated pre-filter built on it.

A shared CNN extracts features of the three latest frames F(t-2), F(t-1), F(t); concatenated (with the
noise level) they drive a ConvGRU that predicts the motion to frame t+1 (n = 1), so the prediction
P(t+1) is the filtered frame E(t) warped by that motion.  When F(t+1) arrives a MaskNet scores per pixel
how far P can be trusted (M in [0, 1], trained to exp(-(|P - clean| / TRUST_SCALE)^2)); the pre-filter is
E = w·P + (1 - w)·F with w = strength·W_MAX·M, a recursive motion-compensated temporal filter.

The networks run at the working resolution; motion and trust are upsampled, the fusion is done at full
resolution on all three planes.  The strength follows an Immerkær noise estimate of the source: measured
on x264 with AQ off, temporal filters lose 0.5-15% VMAF BD-rate on clean sources and save 7-13% at σ=4, so `auto`
is off below σ=2.5 and full from σ=4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import PreanalysisError
from ...prefilters.noise import noise_sigma
from ..blocks import WORK_WIDTH, ConvGRUCell, TinyUNet, conv, smoothness, ssim
from ..data import clip_window, full_res_luma, head, load_clip, tail, training_videos
from ..scenes import generate_scene
from ..teacher import warp_torch
from ..training import fit, param_count, seed_everything
from ..contract import LearnedModel
from ..weights import save_weights

ARCH = "temporal-gru32-mask8-v1"
NAME = "predictability"
WINDOW = 3  # frames whose features feed the GRU
W_MAX = 0.8  # never take more than this share of the prediction: the filter stays recursive, not frozen
TRUST_SCALE = 3 / 255  # prediction error (work resolution, 3x3 mean) at which trust falls to 1/e


class TemporalNet(nn.Module):
    """step(): GRU update from the three latest frames -> motion to the next frame; trust(): the MaskNet."""

    def __init__(self, feat: int = 16, hidden: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(conv(1, 12), conv(12, feat, 2), conv(feat, feat))
        self.gru = ConvGRUCell(WINDOW * feat + 1, hidden)
        self.flow_head = nn.Sequential(conv(hidden, hidden), nn.Conv2d(hidden, 2, 3, 1, 1))
        nn.init.zeros_(self.flow_head[-1].weight)  # start from "no motion": the repeat-last-frame predictor
        nn.init.zeros_(self.flow_head[-1].bias)
        self.mask_net = TinyUNet(4, 1, 8)

    def step(self, frames: torch.Tensor, sigma: torch.Tensor, h: torch.Tensor | None):
        """frames (B, WINDOW, H, W) oldest first, sigma (B,) work-res noise in [0, 1] units -> (flow, h)."""
        b, n, height, width = frames.shape
        x = F.pad(frames, (0, width % 2, 0, height % 2), mode="replicate")
        feats = self.encoder(x.reshape(b * n, 1, *x.shape[-2:]))
        feats = feats.reshape(b, -1, *feats.shape[-2:])
        noise = (sigma * 20).view(b, 1, 1, 1).expand(b, 1, *feats.shape[-2:])
        h = self.gru(torch.cat([feats, noise], 1), h)
        flow = F.interpolate(self.flow_head(h) * 2, scale_factor=2, mode="bilinear")
        return flow[..., :height, :width], h

    def trust(self, prediction: torch.Tensor, frame: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        noise = (sigma * 20).view(-1, 1, 1, 1).expand_as(frame)
        x = torch.cat([prediction, frame, 4 * (prediction - frame).abs(), noise], 1)
        return torch.sigmoid(self.mask_net(x))


class TemporalState:
    """Runs the network over a stream at the working resolution; feed() returns (P, M, E) for each frame."""

    def __init__(self, net: TemporalNet, strength: float = 1.0):
        self.net, self.strength = net, strength
        self.recent: list[torch.Tensor] = []
        self.h: torch.Tensor | None = None
        self.flow: torch.Tensor | None = None
        self.filtered: torch.Tensor | None = None

    def feed(self, frame: torch.Tensor, sigma: torch.Tensor):
        """frame (B, 1, H, W) -> prediction, trust and fused frame (None, None, frame on the first frame)."""
        prediction = trust = None
        fused = frame
        if self.flow is not None:
            prediction = warp_torch(self.filtered, self.flow)
            trust = self.net.trust(prediction, frame, sigma)
            w = self.strength * W_MAX * trust
            fused = w * prediction + (1 - w) * frame
        self.filtered = fused
        self.recent = (self.recent + [frame])[-WINDOW:]
        window = [self.recent[0]] * (WINDOW - len(self.recent)) + self.recent
        self.flow, self.h = self.net.step(torch.cat(window, 1), sigma, self.h)
        return prediction, trust, fused


class PredictabilityModel(LearnedModel):
    """infer(strength): a new recursive stream over the network (TemporalState): feed() it frames in order to
    get each frame's prediction, its trust (the `predictability` map) and the fused frame (the pre-filter)."""

    name, arch = NAME, ARCH

    @classmethod
    def build(cls) -> TemporalNet:
        return TemporalNet()

    def infer(self, strength: float = 1.0) -> TemporalState:
        return TemporalState(self.net, strength)


# ---------------------------------------------------------------- training


def _sequences(videos: list[Path], n_scenes: int, length: int, max_frames: int) -> list[list[np.ndarray]]:
    """Two pools, sampled equally often: heads of the real clips, and generated scenes."""
    starts = [head(v, max_frames)[0] for v in videos]
    real = [load_clip(v, s, s + max_frames, WORK_WIDTH, teacher=False, min_frames=1).luma for v, s in zip(videos, starts)]
    generated = [generate_scene(s, size=(96, 72), frames=length, noise=0, max_speed=2.0).clean
                 for s in range(n_scenes)]
    return [pool for pool in (real, generated) if pool]


def _batch(pools: list[list[np.ndarray]], batch: int, length: int, size: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((batch, length, size, size), np.float32)
    for b in range(batch):
        pool = pools[rng.integers(len(pools))]
        seq = pool[rng.integers(len(pool))]
        t = rng.integers(0, len(seq) - length + 1)
        h, w = seq.shape[1:]
        y0, x0 = rng.integers(0, max(h - size, 0) + 1), rng.integers(0, max(w - size, 0) + 1)
        crop = seq[t:t + length, y0:y0 + size, x0:x0 + size]
        crop = crop[::-1] if rng.random() < 0.3 else crop  # time reversal: more motion patterns
        out[b] = np.pad(crop, ((0, 0), (0, size - crop.shape[1]), (0, size - crop.shape[2])), mode="edge")
    return out


def unroll(net: TemporalNet, clean: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The training loss over a sequence (B, T, H, W): prediction fidelity (L1 + L2 + SSIM), trust (BCE to its
    target) and trust smoothness, each from frame WINDOW-1 on (once the window is full)."""
    state = TemporalState(net)
    total = clean.new_zeros(())
    for t in range(clean.shape[1]):
        prediction, trust, _ = state.feed(noisy[:, t:t + 1], sigma)
        if prediction is None or t < WINDOW:
            continue
        target = clean[:, t:t + 1]
        error = F.avg_pool2d((prediction - target).abs(), 3, 1, 1)
        trust_target = torch.exp(-(error / TRUST_SCALE) ** 2).detach()
        fidelity = (prediction - target).abs().mean() + 10 * ((prediction - target) ** 2).mean()
        total = total + fidelity + 0.2 * (1 - ssim(prediction, target))
        total = total + 0.05 * F.binary_cross_entropy(trust, trust_target) + 0.01 * smoothness(trust)
    return total / (clean.shape[1] - WINDOW)


def train(videos: list[Path] | Path | None = None, quick: bool = False, out: Path | None = None) -> dict:
    """Train on noisy copies of real clip heads and generated scenes; write the weights (quick: only to `out`)."""
    seed_everything(0)
    steps, n_scenes, max_frames = (60, 16, 16) if quick else (1800, 200, 120)
    length, batch, size = 7, 8, 48
    pools = _sequences(training_videos(videos, quick), n_scenes, length, max_frames)
    if any(len(s) < length for pool in pools for s in pool):
        raise PreanalysisError(f"a training clip is shorter than {length} frames: give longer clips")

    def step(rng: np.random.Generator) -> torch.Tensor:
        clean = torch.from_numpy(_batch(pools, batch, length, size, rng))
        sigma_w = torch.from_numpy((rng.uniform(0, 5, batch) * (rng.random(batch) < 0.7) / 255).astype(np.float32))
        noise = torch.from_numpy(rng.standard_normal(clean.shape).astype(np.float32)) * sigma_w.view(-1, 1, 1, 1)
        noisy = (clean + noise).clamp(0, 1)
        measured = torch.tensor([noise_sigma(n[0].numpy()) / 255 for n in noisy], dtype=torch.float32)
        return unroll(net, clean, noisy, measured)

    net = TemporalNet()
    result = fit(net, step, steps, lr=2e-3, name=NAME)
    result.update(params=param_count(net), sequences=sum(len(p) for p in pools))
    if out is not None or not quick:
        result["weights"] = str(save_weights(net, out or NAME, ARCH, {"steps": steps, "w_max": W_MAX}))
    return result


# ---------------------------------------------------------------- report


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / max(float(np.mean((a - b) ** 2)), 1e-10)))


@torch.no_grad()
def predict_clip(net: TemporalNet, frames: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """Per predicted frame: PSNR of P, PSNR of repeating the previous frame, mean trust (clean input)."""
    if len(frames) < WINDOW + 1:
        raise PreanalysisError(f"clip has {len(frames)} frame(s), the temporal model needs at least {WINDOW + 1}:"
                               " give a longer clip")
    state = TemporalState(net, strength=0.0)  # no fusion: the prediction is judged on its own
    psnr, psnr_repeat, trust_mean = [], [], []
    sigma = torch.tensor([noise_sigma(frames[0]) / 255], dtype=torch.float32)
    for t, f in enumerate(frames):
        prediction, trust, _ = state.feed(torch.from_numpy(f)[None, None], sigma)
        if prediction is not None and t >= WINDOW:
            psnr.append(_psnr(prediction[0, 0].numpy(), f))
            psnr_repeat.append(_psnr(frames[t - 1], f))
            trust_mean.append(float(trust.mean()))
    return psnr, psnr_repeat, trust_mean


def report(clips: list[Path], weights: str | Path = NAME, max_frames: int = 30) -> dict:
    """Per clip: prediction PSNR next to repeat-last-frame, mean trust, noise σ.  What the pre-filter does to
    encodes (bitrate and VMAF with and without it) is measured by eval.temporal_report."""
    net = PredictabilityModel(weights).net
    per_clip = {}
    for path in clips:
        start, stop = tail(path, max_frames)
        name, path = Path(path).name, clip_window(path)[0]
        frames = load_clip(path, start, stop, WORK_WIDTH, teacher=False, min_frames=1).luma
        psnr, repeat, trust = predict_clip(net, frames)
        entry = {"prediction_psnr": float(np.mean(psnr)), "repeat_last_psnr": float(np.mean(repeat)),
                 "mean_mask": float(np.mean(trust)), "noise_sigma": noise_sigma(full_res_luma(path, 1, start)[0]),
                 "frames": len(frames)}
        per_clip[name] = entry
    keys = ("prediction_psnr", "repeat_last_psnr", "mean_mask")
    mean = {k: float(np.mean([c[k] for c in per_clip.values()])) for k in keys} if per_clip else {}
    return {**mean, "clips": per_clip}

"""Motion backbone: a pyramid-flow network distilled from the DIS teacher, plus the `flow_motion` analyser.

Shape of the network (after frame-interpolation networks such as FILM): the analysis luma is pooled into a
4-level image pyramid (1/2 .. 1/16); one shared encoder turns every level into features, and each level's
features are concatenated with the shared stride-2 features of the finer level.  Flow is estimated coarse to
fine: at each level the other frame's features are warped by the upsampled flow and one shared estimator
predicts a residual.  Flow comes out on the grid (1/4 analysis resolution = 1/16 source pixels at 1080p),
in grid pixels, with the teacher's convention a(x) ≈ b(x + F(x)).  For training, flows both ways between
t-1 and t+1 synthesise frame t: warped features are fused into a blend mask and a residual at full
analysis resolution (interpolation loss: L1 + L2 + SSIM), alongside the end-point error against the teacher.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import GRID, Clip, report_clip, training_clips
from ..teacher import endpoint_error, warp_torch
from ..training import fit, seed_everything, ship
from ..contract import LearnedModel
from ..weights import load_weights

ARCH = "pyramid_flow_v1"
NAME = "flow_motion"
LEVELS = 4  # pyramid levels 1/2, 1/4, 1/8, 1/16 of the analysis resolution; flow is output at level 1 (1/4)
PAD = 2 ** LEVELS
MOTION_FULL_SCALE = 32.0  # source pixels per frame that map to 1.0 in the flow_motion map
EXPLAINS = 1.0  # a cell keeps the backbone's motion where it leaves at most this share of the plain difference


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1))


class PyramidFlow(nn.Module):
    def __init__(self, channels: int = 12, hidden: int = 24):
        super().__init__()
        self.encode = nn.Sequential(_conv(1, channels), _conv(channels, channels))  # shared by all levels
        self.down = _conv(channels, channels, stride=2)  # shared link from a level to the next coarser one
        feat = 2 * channels
        self.feature_channels = feat
        self.estimate = nn.Sequential(_conv(2 * feat + 2, hidden), _conv(hidden, hidden), nn.Conv2d(hidden, 2, 3, 1, 1))
        self.fuse = nn.Sequential(_conv(2 * feat + 2, hidden), nn.Conv2d(hidden, 2, 3, 1, 1))

    @staticmethod
    def pad(image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        return F.pad(image, (0, (-w) % PAD, 0, (-h) % PAD), mode="replicate")

    def features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image (B, 1, H, W) in [0, 1] -> features per level 1..LEVELS-1 (index 0 unused: None)."""
        level = F.avg_pool2d(self.pad(image), 2)
        encoded = []
        for _ in range(LEVELS):
            encoded.append(self.encode(level))
            level = F.avg_pool2d(level, 2)
        return [None] + [torch.cat((encoded[i], self.down(encoded[i - 1])), 1) for i in range(1, LEVELS)]

    def flow(self, fa: list[torch.Tensor], fb: list[torch.Tensor], every_level: bool = False):
        """Coarse-to-fine flow a -> b on the padded grid (level 1), in grid pixels; every_level also returns
        the coarser estimates (finest first, each in its own level's pixels) for multi-scale supervision."""
        coarse = fa[LEVELS - 1]
        flow = coarse.new_zeros(coarse.shape[0], 2, *coarse.shape[-2:])
        estimates = []
        for lvl in range(LEVELS - 1, 0, -1):
            if lvl < LEVELS - 1:
                flow = 2.0 * F.interpolate(flow, size=fa[lvl].shape[-2:], mode="bilinear", align_corners=False)
            warped = warp_torch(fb[lvl], flow)
            flow = flow + self.estimate(torch.cat((fa[lvl], warped, flow), 1))
            estimates.insert(0, flow)
        return estimates if every_level else flow

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Flow from a to b, (B, 2, ceil(H/4), ceil(W/4)) in grid pixels."""
        n = a.shape[0]
        feats = self.features(torch.cat((a, b)))
        return crop_grid(self.flow(split(feats, 0, n), split(feats, n, 2 * n)), a.shape[-2:])

    def interpolate(self, f0: list[torch.Tensor], f1: list[torch.Tensor], i0: torch.Tensor, i1: torch.Tensor):
        """Synthesise the frame half-way between i0 and i1; returns (mid, flow 0->1, flow 1->0) on the padded grid."""
        f01, f10 = self.flow(f0, f1), self.flow(f1, f0)
        ft0, ft1 = 0.25 * (f10 - f01), 0.25 * (f01 - f10)  # linear motion: mid -> 0 and mid -> 1
        fused = self.fuse(torch.cat((warp_torch(f0[1], ft0), warp_torch(f1[1], ft1), ft0 - ft1), 1))
        h, w = i0.shape[-2:]
        up = lambda x, s=1.0: s * F.interpolate(x, scale_factor=GRID, mode="bilinear", align_corners=False)[..., :h, :w]
        w0, w1 = warp_torch(i0, up(ft0, GRID)), warp_torch(i1, up(ft1, GRID))
        blend = torch.sigmoid(up(fused[:, :1]))
        return blend * w0 + (1 - blend) * w1 + up(fused[:, 1:]), f01, f10


def split(feats: list, lo: int, hi: int) -> list:
    """Batch slice [lo, hi) of every level of a feature pyramid."""
    return [None if f is None else f[lo:hi] for f in feats]


def crop_grid(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Cut a padded-grid tensor to the grid of an analysis image of size (H, W)."""
    return grid[..., : math.ceil(size[0] / GRID), : math.ceil(size[1] / GRID)]


def analysis_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Grid flow (grid px) -> analysis-resolution flow (analysis px), cropped to size."""
    up = GRID * F.interpolate(flow, scale_factor=GRID, mode="bilinear", align_corners=False)
    return up[..., : size[0], : size[1]]


def grid_mean(image: torch.Tensor) -> torch.Tensor:
    """Mean over each GRIDxGRID cell (edges replicated to whole cells): analysis resolution -> the grid."""
    h, w = image.shape[-2:]
    return F.avg_pool2d(F.pad(image, (0, (-w) % GRID, 0, (-h) % GRID), mode="replicate"), GRID)


def grid_to_analysis(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Repeat each grid cell over its GRIDxGRID analysis pixels and crop to size (H, W)."""
    return np.repeat(np.repeat(grid, GRID, axis=-2), GRID, axis=-1)[..., : size[0], : size[1]]


def warp_error(flow: torch.Tensor, cur: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Per grid cell, mean |cur - other warped by flow| (flow on the grid from cur to other, (B, 2, h, w);
    cur, other (B, 1, H, W) analysis luma): how well the field carries `other` onto `cur`."""
    warped = warp_torch(other, analysis_flow(flow, cur.shape[-2:]))
    return grid_mean((cur - warped).abs())[..., : flow.shape[-2], : flow.shape[-1]]


def explains(flow: torch.Tensor, cur: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """1 in the grid cells where the field carries `other` onto `cur` clearly better than no motion does
    (warping error below EXPLAINS x the plain difference), else 0.  Where it does not, the field is not
    borne out by the frames: noise on a static camera, flat or animated areas."""
    plain = grid_mean((cur - other).abs())[..., : flow.shape[-2], : flow.shape[-1]]
    return (warp_error(flow, cur, other) < EXPLAINS * plain).to(flow.dtype)


def still_where_unexplained(flow: torch.Tensor, cur: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """The backbone's field with zero motion in the cells it does not explain (see `explains`): per cell,
    it never reports motion the frames do not show."""
    return flow * explains(flow, cur, other)


class FlowMotionModel(LearnedModel):
    """The backbone on its device.  infer(a, b): flows a -> b for batches of lumas; stream(cur, prev): one
    frame of a stream, reusing the previous frame's features."""

    name, arch = NAME, ARCH

    def __init__(self, weights: str | Path | None = None, device: str = "cpu"):
        super().__init__(weights, device)
        self._last: tuple[np.ndarray, list] | None = None  # (luma, its features) of the last streamed frame

    @classmethod
    def build(cls) -> PyramidFlow:
        return PyramidFlow()

    def tensor(self, lumas) -> torch.Tensor:
        return torch.as_tensor(np.asarray(lumas, dtype=np.float32), device=self.device).unsqueeze(1)

    @torch.inference_mode()
    def infer(self, a, b) -> tuple[torch.Tensor, torch.Tensor]:
        """a, b: (B, H, W) lumas -> (flow a->b on the grid, level-1 features of a), both on the device."""
        n = len(a)
        feats = self.net.features(self.tensor(np.concatenate((a, b))))
        flow = self.net.flow(split(feats, 0, n), split(feats, n, 2 * n))
        size = np.asarray(a).shape[-2:]
        return crop_grid(flow, size), crop_grid(feats[1][:n], size)

    @torch.inference_mode()
    def stream(self, cur: np.ndarray, prev: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame of a stream, (H, W) lumas: like infer(), reusing prev's features when prev is the last cur."""
        fb = self._last[1] if self._last is not None and self._last[0] is prev else self.net.features(self.tensor(prev[None]))
        fa = self.net.features(self.tensor(cur[None]))
        self._last = (cur, fa)
        return crop_grid(self.net.flow(fa, fb), cur.shape), crop_grid(fa[1], cur.shape)


@torch.inference_mode()
def backbone_sequence(clip: Clip, engine: FlowMotionModel, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Backbone backward flows B_t (frame t -> t-1) as the analysers get them (still where the frames do not
    bear them out: `still_where_unexplained`) and features of frame t, for t = 1..T-1, on the CPU."""
    flows, feats = [], []
    for s in range(1, len(clip.luma), batch):
        cur = clip.luma[s:s + batch]
        prev = clip.luma[s - 1:s - 1 + len(cur)]
        f, ft = engine.infer(cur, prev)
        flows.append(still_where_unexplained(f, engine.tensor(cur), engine.tensor(prev)).cpu())
        feats.append(ft.cpu())
    return torch.cat(flows), torch.cat(feats)


# ---------------------------------------------------------------- training and report


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM with a 7x7 box window (inputs in [0, 1])."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu = lambda t: F.avg_pool2d(t, 7, 1, 3, count_include_pad=False)
    mx, my = mu(x), mu(y)
    vx, vy, cxy = mu(x * x) - mx * mx, mu(y * y) - my * my, mu(x * y) - mx * my
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean()


def _epe(flow: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(((flow - ref) ** 2).sum(1) + 1e-6).mean()


def _multiscale_epe(estimates: list[torch.Tensor], ref: torch.Tensor) -> torch.Tensor:
    """EPE at the finest level plus half-weighted EPE at each coarser one (teacher pooled and rescaled)."""
    total = _epe(crop_grid(estimates[0], (ref.shape[-2] * GRID, ref.shape[-1] * GRID)), ref)
    for k, est in enumerate(estimates[1:], start=1):
        r = F.avg_pool2d(ref, 2 ** k) / 2 ** k
        total = total + 0.5 * _epe(est[..., : r.shape[-2], : r.shape[-1]], r)
    return total


class _Sampler:
    """Random triplet crops (t-1, t, t+1) with the teacher flows between t-1 and t, flipped at random."""

    def __init__(self, clips: list[Clip], crop: int = 96, batch: int = 8):
        self.clips, self.crop, self.batch = [c for c in clips if len(c.luma) >= 3], crop, batch
        self.weights = np.array([len(c.luma) for c in self.clips], dtype=float)
        self.weights /= self.weights.sum()

    def __call__(self, rng: np.random.Generator):
        imgs, fwd, back = [], [], []
        for _ in range(self.batch):
            c = self.clips[rng.choice(len(self.clips), p=self.weights)]
            t = int(rng.integers(1, len(c.luma) - 1))
            h, w = c.luma.shape[1:]
            ch, cw = min(self.crop, h // PAD * PAD), min(self.crop, w // PAD * PAD)
            y = int(rng.integers(0, (h - ch) // GRID + 1)) * GRID
            x = int(rng.integers(0, (w - cw) // GRID + 1)) * GRID
            g = np.s_[:, y // GRID:(y + ch) // GRID, x // GRID:(x + cw) // GRID]
            im, f, b = c.luma[t - 1:t + 2, y:y + ch, x:x + cw], c.fwd[t - 1][g], c.back[t - 1][g]
            if rng.random() < 0.5:
                im, f, b = im[..., ::-1], f[..., ::-1] * np.array([-1, 1])[:, None, None], b[..., ::-1] * np.array([-1, 1])[:, None, None]
            imgs.append(np.ascontiguousarray(im))
            fwd.append(np.ascontiguousarray(f))
            back.append(np.ascontiguousarray(b))
        shapes = {i.shape for i in imgs}
        if len(shapes) > 1:  # clips smaller than the crop: use the smallest common crop
            mh, mw = min(s[1] for s in shapes), min(s[2] for s in shapes)
            imgs = [i[:, :mh, :mw] for i in imgs]
            fwd = [f[:, : mh // GRID, : mw // GRID] for f in fwd]
            back = [b[:, : mh // GRID, : mw // GRID] for b in back]
        t = lambda xs: torch.from_numpy(np.stack(xs).astype(np.float32))
        return t(imgs), t(fwd), t(back)


INTERP_WEIGHT = 1.0


def loss_of(net: PyramidFlow, imgs: torch.Tensor, fwd: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """Teacher EPE both ways between t-1 and t, plus the interpolation loss for frame t from t-1 and t+1."""
    n = imgs.shape[0]
    i0, it, i1 = imgs[:, :1], imgs[:, 1:2], imgs[:, 2:]
    feats = net.features(torch.cat((i0, it, i1)))
    f0, ft, f1 = (split(feats, k * n, (k + 1) * n) for k in range(3))
    epe = _multiscale_epe(net.flow(f0, ft, True), fwd) + _multiscale_epe(net.flow(ft, f0, True), back)
    mid, _, _ = net.interpolate(f0, f1, i0, i1)
    interp = (mid - it).abs().mean() + ((mid - it) ** 2).mean() + (1 - ssim(mid, it))
    return epe + INTERP_WEIGHT * interp


def train(videos: list[Path] | None = None, quick: bool = False, out: Path | None = None) -> dict:
    """Distil the backbone from the teacher on the heads of the training clips; save unless quick without out."""
    seed_everything(0)
    clips = training_clips(videos, quick, min_frames=3)
    net = PyramidFlow()
    sample = _Sampler(clips, crop=64 if quick else 96, batch=4 if quick else 8)
    steps = 150 if quick else 6000
    stats = fit(net, lambda rng: loss_of(net, *sample(rng)), steps, lr=3e-3, max_seconds=25 if quick else 1500,
                name="motion")
    return ship(net, stats, out, quick, NAME, ARCH, {"levels": LEVELS, "grid": GRID})


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


@torch.inference_mode()
def report_one(clip: Clip, net: PyramidFlow, batch: int = 8) -> dict:
    """EPE vs teacher (source pixels) of the field as the analysers get it (zero motion in the cells it does
    not explain), of the raw network output and of zero motion, the share of cells kept, and mid-frame
    PSNR against the plain average, over the clip's frames."""
    to_src = GRID * clip.scale
    epes, raw_epes, kept, ip, ia = [], [], [], [], []
    lum = torch.from_numpy(clip.luma).unsqueeze(1)
    norm = lambda f: torch.linalg.vector_norm(f, dim=1).mean(dim=(1, 2))  # noqa: E731
    for s in range(0, len(lum) - 1, batch):
        a, b = lum[s:s + batch], lum[s + 1:s + batch + 1]
        a = a[: len(b)]
        flow, teacher = net(a, b), torch.from_numpy(clip.fwd[s:s + len(b)])
        keep = explains(flow, a, b)
        raw_epes += norm(flow - teacher).tolist()
        epes += norm(flow * keep - teacher).tolist()
        kept += keep.mean(dim=(1, 2, 3)).tolist()
    for s in range(1, len(lum) - 1, batch):
        i0, it, i1 = lum[s - 1:s - 1 + batch], lum[s:s + batch], lum[s + 1:s + 1 + batch]
        k = len(i1)
        i0, it = i0[:k], it[:k]
        f0, f1 = net.features(i0), net.features(i1)
        mid, _, _ = net.interpolate(f0, f1, i0, i1)
        for j in range(k):
            ip.append(psnr(mid[j].clamp(0, 1).numpy(), it[j].numpy()))
            ia.append(psnr((0.5 * (i0[j] + i1[j])).numpy(), it[j].numpy()))
    zero = to_src * endpoint_error(clip.fwd.transpose(0, 2, 3, 1), 0 * clip.fwd.transpose(0, 2, 3, 1))
    epe = to_src * float(np.mean(epes))
    return {"frames": len(lum), "epe": epe, "epe_raw": to_src * float(np.mean(raw_epes)), "epe_zero": zero,
            "ratio_to_zero": epe / zero if zero else math.nan, "cells_moving": float(np.mean(kept)),
            "interp_psnr": float(np.mean(ip)), "interp_psnr_average": float(np.mean(ia))}


def report(clips: list[Path]) -> dict:
    """Per clip (held-out tail) and mean: backbone EPE vs the teacher in source pixels, interpolation PSNR."""
    net = PyramidFlow()
    load_weights(net, NAME, ARCH)
    net.eval()
    per = {str(p): report_one(report_clip(p, min_frames=3), net) for p in clips}
    keys = ("epe", "epe_raw", "epe_zero", "cells_moving", "interp_psnr", "interp_psnr_average")
    mean = {k: float(np.mean([v[k] for v in per.values()])) for k in keys}
    mean["ratio_to_zero"] = mean["epe"] / mean["epe_zero"] if mean["epe_zero"] else math.nan
    return {"unit": "epe in source pixels per frame; epe is the field the analysers get (zero motion in the cells"
                    " it does not explain: cells_moving is the share kept), epe_raw the network's own output",
            "clips": per, "mean": mean}

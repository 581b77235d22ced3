"""StaticMaskNet: N frames plus their differences in, N-1 static-region masks out, in one pass.

"Static" between frames t and t+1 means the full-resolution teacher flow there is below STATIC_PX: the
labels are distilled from the teacher (and exact on generated scenes).  Every frame is divided by its own
brightness (see `brightness`), so a global brightness change cannot look like motion; the training augmentation adds
per-frame flicker, fades/cross-fades and sensor noise, and a consistency term asks for the same mask with
and without extra flicker and noise, so that the rest is learned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import PreanalysisError
from ..blocks import TinyUNet, from_work, to_work
from ..data import clip_window, full_res_luma, head, tail, training_videos
from ..scenes import generate_scene, texture
from ..teacher import teacher_flow
from ..training import fit, param_count, seed_everything
from ..contract import LearnedModel
from ..weights import save_weights

ARCH = "staticmasknet-n4-unet16-l4-v2"  # v2: 4 levels, frames on one brightness scale, consistency term
CONSISTENCY = 1.0  # weight of |mask - mask under extra flicker and noise| in the training loss
NAME = "static"
WINDOW = 4  # frames per pass -> WINDOW-1 masks
STATIC_PX = 0.5  # full-resolution pixels per frame below which a pixel counts as static
DIFF_THRESHOLD = 4 / 255  # the baseline: |frame difference| below this counts as static


def brightness(frames: np.ndarray) -> np.ndarray:
    """Each frame's brightness on one scale: the first frame's mean times the median ratio of each frame to
    it over pixels neither clips.  A pure gain change gives that gain exactly, whichever pixels clip and
    wherever things move (a plain mean is pulled by the highlights a brighter frame clips)."""
    first = frames[0]
    first_mean = max(float(first.mean()), 1e-3)
    ratios = []
    for f in frames:
        valid = (f > 0.02) & (f < 0.98) & (first > 0.02) & (first < 0.98)
        ratio = np.median(f[valid] / first[valid]) if valid.mean() > 0.05 else f.mean() / first_mean  # all clipped
        ratios.append(float(ratio))
    return np.maximum(np.asarray(ratios, np.float32) * first_mean, 1e-3)


def network_input(frames: np.ndarray) -> np.ndarray:
    """(N, h, w) luma -> (2N-1, h, w): frames on one brightness scale and x4 their consecutive differences."""
    norm = frames / brightness(frames)[:, None, None] * 0.5
    return np.concatenate([norm, 4 * np.diff(norm, axis=0)]).astype(np.float32)


class StaticMaskNet(TinyUNet):
    """Four levels: whether a flat patch is still depends on what the textured parts around it do (a pan
    moves them all), so the net must see far; with three, it was unsure over most of a panning clip."""

    def __init__(self, window: int = WINDOW):
        super().__init__(2 * window - 1, window - 1, 16, levels=4)


def _windows(length: int, window: int) -> list[int]:
    """Window starts covering all pairs of a clip with as few passes as possible (the last one aligned to the end)."""
    if length < window:
        raise PreanalysisError(f"clip has {length} frame(s) but the static mask needs {window}: give a longer clip")
    starts = list(range(0, length - window + 1, window - 1))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


class StaticModel(LearnedModel):
    """infer(frames): (N, h, w) frames at any resolution -> (N-1, h, w) static probability for each consecutive
    pair; clip(frames): the same over a whole clip."""

    name, arch = NAME, ARCH

    @classmethod
    def build(cls) -> StaticMaskNet:
        return StaticMaskNet()

    @torch.no_grad()
    def infer(self, frames: np.ndarray) -> np.ndarray:
        """(N, h, w) frames at any resolution -> (N-1, h, w) static probability for each consecutive pair."""
        work = np.stack([to_work(f) for f in frames])
        x = torch.from_numpy(network_input(work))[None].to(self.device)
        masks = torch.sigmoid(self.net(x))[0].cpu().numpy()
        return np.stack([from_work(m, frames.shape[1:]) for m in masks])

    def clip(self, frames: np.ndarray) -> np.ndarray:
        """(T, h, w) -> (T-1, h, w) for a whole clip (T >= WINDOW)."""
        out = np.zeros((len(frames) - 1,) + frames.shape[1:], np.float32)
        for s in _windows(len(frames), WINDOW):
            out[s:s + WINDOW - 1] = self.infer(frames[s:s + WINDOW])
        return out


# ---------------------------------------------------------------- labels, augmentation, training, report


def teacher_static(path: Path, max_frames: int | None = None, start: int = 0, full_res: bool = False,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, h, w; work resolution unless full_res) and work-res labels (T-1, h, w): 1 where the
    full-resolution teacher flow < STATIC_PX."""
    full = full_res_luma(path, max_frames, start)
    if len(full) < WINDOW:
        raise PreanalysisError(f"clip {path} has {len(full)} frame(s) but the static mask needs {WINDOW}: give a longer clip")
    labels = np.stack([to_work((np.linalg.norm(teacher_flow(full[t], full[t + 1]), axis=-1) < STATIC_PX)
                               .astype(np.float32)) for t in range(len(full) - 1)])
    frames = full if full_res else np.stack([to_work(f) for f in full])
    return frames, (labels > 0.5).astype(np.float32)


def augment(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flicker (per-frame gain), fades or a cross-fade to another picture, and sensor noise."""
    n = len(frames)
    out = frames * rng.uniform(0.8, 1.2, (n, 1, 1)).astype(np.float32) if rng.random() < 0.6 else frames.copy()
    kind = rng.random()
    ramp = np.linspace(0, rng.uniform(0.2, 0.6), n, dtype=np.float32)[:, None, None]
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    if kind < 0.2:  # fade to / from black
        out = out * (1 - ramp)
    elif kind < 0.35:  # cross-fade with another (still) picture: transparency
        out = out * (1 - ramp) + ramp * texture(rng, *frames.shape[1:])[None]
    sigma = rng.uniform(0, 7) / 255 if rng.random() < 0.7 else 0.0
    out = out + rng.normal(0, sigma, out.shape).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def _scene_windows(seeds: range) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for s in seeds:
        scene = generate_scene(s, size=(96, 72), frames=WINDOW, noise=0)
        out.append((scene.clean, scene.static.astype(np.float32)))
    return out


def disturb(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the mask must not change under: per-frame flicker up to ±20% and up to σ5 noise."""
    gain = rng.uniform(0.8, 1.2, (len(frames), 1, 1)).astype(np.float32)
    noise = rng.normal(0, rng.uniform(0, 5) / 255, frames.shape).astype(np.float32)
    return np.clip(frames * gain + noise, 0, 1)


def _sample(clip: tuple[np.ndarray, np.ndarray], size: int, rng: np.random.Generator,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(network input, the same window disturbed, labels)."""
    frames, labels = clip
    t = rng.integers(0, len(frames) - WINDOW + 1)
    f, lab = frames[t:t + WINDOW], labels[t:t + WINDOW - 1]
    if rng.random() < 0.3:  # time reversed: static is symmetric
        f, lab = f[::-1], lab[::-1]
    h, w = f.shape[1:]
    y0, x0 = rng.integers(0, max(h - size, 0) + 1), rng.integers(0, max(w - size, 0) + 1)
    f, lab = f[:, y0:y0 + size, x0:x0 + size], lab[:, y0:y0 + size, x0:x0 + size]
    pad = ((0, 0), (0, size - f.shape[1]), (0, size - f.shape[2]))
    f = augment(np.pad(f, pad, mode="edge"), rng)
    return network_input(f), network_input(disturb(f, rng)), np.pad(lab, pad, mode="edge")


def train(videos: list[Path] | Path | None = None, quick: bool = False, out: Path | None = None) -> dict:
    """Distil teacher-flow static labels (heads of real clips) and exact ones (generated scenes) into the
    network; write the weights (quick: only to `out`)."""
    seed_everything(0)
    steps, n_scenes, max_frames = (60, 24, 16) if quick else (2500, 300, 120)
    clips = [teacher_static(v, max_frames, head(v, max_frames)[0]) for v in training_videos(videos, quick)]
    scenes = _scene_windows(range(n_scenes))
    batch, size = 16, 64

    def step(rng: np.random.Generator) -> torch.Tensor:
        xs, disturbed, ys = zip(*[_sample(clips[rng.integers(len(clips))] if clips and k % 2 == 0
                                          else scenes[rng.integers(len(scenes))], size, rng) for k in range(batch)])
        logits = net(torch.from_numpy(np.stack(xs + disturbed)))
        y = torch.from_numpy(np.stack(ys + ys))
        p = torch.sigmoid(logits)
        return F.binary_cross_entropy_with_logits(logits, y) + CONSISTENCY * (p[:batch] - p[batch:]).abs().mean()

    net = StaticMaskNet()
    result = fit(net, step, steps, lr=3e-3, name=NAME)
    result.update(params=param_count(net), real_clips=len(clips), scenes=n_scenes)
    if out is not None or not quick:
        result["weights"] = str(save_weights(net, out or NAME, ARCH, {"steps": steps, "static_px": STATIC_PX}))
    return result


def perturb(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """The report's disturbance: ±20% brightness flicker (random per frame) and σ=5 Gaussian noise."""
    rng = np.random.default_rng(seed)
    gain = rng.choice([0.8, 1.2], len(frames))[:, None, None].astype(np.float32)
    noise = rng.normal(0, 5 / 255, frames.shape).astype(np.float32)
    return np.clip(frames * gain + noise, 0, 1)


def frame_difference_static(frames: np.ndarray) -> np.ndarray:
    return (np.abs(np.diff(frames, axis=0)) < DIFF_THRESHOLD).astype(np.float32)


def report(clips: list[Path], weights: str | Path = NAME, max_frames: int = 30) -> dict:
    """Per clip (held-out tail): agreement of the mask with itself when the clip (full resolution) gets
    flicker + noise, the same for a thresholded frame difference, the agreement when the noise is added at
    the networks' working resolution instead (harsher: no downscale averages it away), and both masks'
    accuracy against the teacher labels (so a constant mask cannot look good)."""
    masker = StaticModel(weights)
    per_clip = {}
    for path in clips:
        start, stop = tail(path, max_frames)
        full, labels = teacher_static(clip_window(path)[0], stop - start, start, full_res=True)
        frames = np.stack([to_work(f) for f in full])
        noisy = np.stack([to_work(f) for f in perturb(full)])
        net_clean, net_noisy = masker.clip(frames) > 0.5, masker.clip(noisy) > 0.5
        diff_clean, diff_noisy = frame_difference_static(frames) > 0.5, frame_difference_static(noisy) > 0.5
        harsh = perturb(frames)
        truth = labels > 0.5
        per_clip[Path(path).name] = {
            "agreement": float((net_clean == net_noisy).mean()),
            "agreement_frame_difference": float((diff_clean == diff_noisy).mean()),
            "agreement_work_res_noise": float((net_clean == (masker.clip(harsh) > 0.5)).mean()),
            "agreement_frame_difference_work_res_noise": float(
                (diff_clean == (frame_difference_static(harsh) > 0.5)).mean()),
            "accuracy_vs_teacher": float((net_clean == truth).mean()),
            "accuracy_vs_teacher_perturbed": float((net_noisy == truth).mean()),
            "accuracy_frame_difference_vs_teacher": float((diff_clean == truth).mean()),
            "static_fraction_teacher": float(truth.mean()),
            "frames": len(frames),
        }
    keys = ("agreement", "agreement_frame_difference", "agreement_work_res_noise",
            "agreement_frame_difference_work_res_noise", "accuracy_vs_teacher", "accuracy_frame_difference_vs_teacher")
    mean = {k: float(np.mean([c[k] for c in per_clip.values()])) for k in keys} if per_clip else {}
    return {**mean, "agreement_target": 0.95, "clips": per_clip}

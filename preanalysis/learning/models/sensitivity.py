"""The VMAF sensitivity student: a small CNN that predicts, per 16x16 block, the teacher's log2 VMAF-NEG weight
(log2 of -dVMAF-NEG / dMSE for a QP step, centred per frame; learning.teacher_vmaf) from the source alone.

The teacher costs seconds per frame (vmaf-torch gradients through two x264 encodes); the student costs a few
milliseconds at 1080p on 2 cores.  Inputs, 4 channels at a quarter of the frame's resolution (4x4 pixels per
16x16 block, a 1080p analysis frame as it is): luma, fine detail (|Laplacian| of the analysis luma, averaged onto
the quarter grid), coarse detail (|Laplacian| on the quarter grid) and temporal change (|luma - previous|),
the last three on a square-root scale.
Output: one value per block, centred per frame, in log2 units (the allocator turns it into QP offsets: the
`sensitivity` analyser's map is 2^((lw - 3) / 6), so allocate.strength g gives dQP = -g lw, re-centred).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from ...errors import PreanalysisError
from ...video import analysis_size
from ..contract import LearnedModel
from ..data import tail, train_range, training_videos
from ..teacher_vmaf import LOG_CLIP, Teaching, luma_of, scored_rows, source_frames, teach
from ..training import fit, seed_everything, ship

ARCH = "sensitivity-cnn32-v2"
NAME = "sensitivity"
METRIC = "neg"  # the teacher the student learns (VMAF-NEG: it won in-sample and cannot be gamed by sharpening)
PER_BLOCK = 4  # quarter-resolution pixels per 16x16 block
EVERY = 4  # every 4th frame of a report window scored by the teacher
WINDOWS, WINDOW_FRAMES, TRAIN_EVERY = 6, 24, 2  # per training clip: windows spread over its head, every 2nd scored
REPORT_FRAMES = 16
ANALYSIS_WIDTH = 480  # analysis.max_width's default: training sees frames at the resolution the analyser does


def teacher_cache() -> Path:
    """Where teachings are kept between runs ($PREANALYSIS_TEACHER_CACHE, else ~/.cache/preanalysis/teacher)."""
    env = os.environ.get("PREANALYSIS_TEACHER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "preanalysis" / "teacher"


def grid_of(height: int, width: int) -> tuple[int, int]:
    return math.ceil(height / 16), math.ceil(width / 16)


def _detail(x: np.ndarray) -> np.ndarray:
    """sqrt |Laplacian| on 8-bit scale, / 16: a compressive scale like VMAF's (cheaper than a log)."""
    return cv2.sqrt(cv2.absdiff(cv2.Laplacian(x, cv2.CV_32F, ksize=1), 0.0)) * np.float32(np.sqrt(255) / 16)


def features(luma: np.ndarray, previous: np.ndarray | None, frame_size: tuple[int, int]) -> np.ndarray:
    """(4, rows*4, cols*4) float32 inputs for one frame: luma float32 [0, 1] at analysis resolution (the
    pipeline's: >= a quarter at 1080p and below) of a frame of frame_size (width, height) whose 16x16 block
    grid is rows x cols."""
    width, height = frame_size
    rows, cols = grid_of(height, width)
    qw, qh = min(cols * PER_BLOCK, max(1, round(width / 4))), min(rows * PER_BLOCK, max(1, round(height / 4)))
    pad = ((0, rows * PER_BLOCK - qh), (0, cols * PER_BLOCK - qw))

    def quarter(x: np.ndarray) -> np.ndarray:  # the frame on the quarter grid, partial blocks padded
        q = x if x.shape == (qh, qw) else cv2.resize(x, (qw, qh), interpolation=cv2.INTER_AREA)
        return np.pad(q, pad, mode="edge") if pad[0][1] or pad[1][1] else q

    luma = np.asarray(luma, np.float32)
    y = quarter(luma)
    coarse = _detail(y)
    fine = coarse if luma.shape == (qh, qw) else quarter(_detail(luma))
    motion = np.zeros_like(y) if previous is None else cv2.sqrt(cv2.absdiff(y, quarter(np.asarray(previous, np.float32))))
    out = np.empty((4, *y.shape), np.float32)
    out[0], out[1], out[2], out[3] = y, fine, coarse, motion
    return out


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation), nn.ReLU())


class SensitivityNet(nn.Module):
    """Quarter-resolution features -> two stride-2 convolutions to the block grid -> context (dilated) -> 1x1.
    Width 32: on held-out tails 24 ranked worse (0.50 vs 0.52) and 48 no better (0.53) at 2.3x the cost."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(_conv(4, 16, 2), _conv(16, width, 2), _conv(width, width, dilation=2),
                                  _conv(width, width), nn.Conv2d(width, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)[:, 0]
        return y - y.mean(dim=(1, 2), keepdim=True)  # centred per frame, like the target


class SensitivityModel(LearnedModel):
    """infer(luma, previous, frame_size) -> (rows, cols) float32: the predicted centred log2 VMAF-NEG weight
    of every 16x16 block of a frame of frame_size (width, height); luma and previous at analysis resolution."""

    name, arch = NAME, ARCH

    @classmethod
    def build(cls) -> SensitivityNet:
        return SensitivityNet()

    @torch.no_grad()
    def infer(self, luma: np.ndarray, previous: np.ndarray | None, frame_size: tuple[int, int]) -> np.ndarray:
        x = torch.from_numpy(features(luma, previous, frame_size))[None].to(self.device)
        y = self.net(x.contiguous(memory_format=torch.channels_last))[0]
        return np.clip(y.cpu().numpy(), -LOG_CLIP, LOG_CLIP)


# ---------------------------------------------------------------- data: teacher labels on clip segments


def inputs(path: Path, start: int, stop: int, size: tuple[int, int], every: int) -> np.ndarray:
    """Student inputs (n, 4, H4, W4) of every `every`-th frame of [start, stop) of a clip coded at `size`,
    from the analysis-resolution luma the analyser would see."""
    small = analysis_size(*size, ANALYSIS_WIDTH)
    lumas = [cv2.resize(luma_of(f), small, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
             for f in source_frames(path, start, stop, size)]
    return np.stack([features(lumas[i], lumas[i - 1] if i else None, size)
                     for i in scored_rows(len(lumas), every)[0]])


def windows(path: Path, count: int = WINDOWS, frames: int = WINDOW_FRAMES) -> list[tuple[int, int]]:
    """`count` windows of `frames` frames spread evenly over the clip's head (its tail is held out): many
    short windows show the student more kinds of content than one long one for the same teacher cost."""
    start, stop = train_range(path)
    frames = min(frames, stop - start)
    firsts = np.linspace(start, stop - frames, max(1, min(count, (stop - start) // frames))).round().astype(int)
    return [(int(a), int(a) + frames) for a in np.unique(firsts)]


def segment(path: Path, start: int, stop: int, every: int, max_width: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, 4, H4, W4), teacher targets (n, rows, cols)) for the scored frames of [start, stop)."""
    t: Teaching = teach(path, start, stop, max_width=max_width, every=every, metrics=(METRIC,),
                        cache=teacher_cache())
    pick, _ = scored_rows(stop - start, every)
    return inputs(path, start, stop, t.size, every), t.log_weight(METRIC)[pick]


def predict(net: SensitivityNet, inputs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(inputs[a:a + 8])).numpy() for a in range(0, len(inputs), 8)])


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the Spearman correlation of two block maps (frames, rows, cols).  A frame where
    either map is flat (a black or blank card: no order to agree on) is left out; NaN if every frame is."""
    r = [spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a, b) if np.ptp(x) > 0 and np.ptp(y) > 0]
    return float(np.mean(r)) if r else float("nan")


def texture_baseline(inputs: np.ndarray) -> np.ndarray:
    """A trivial predictor next to the student: less VMAF weight where the block is busier (-fine detail)."""
    fine = inputs[:, 1]
    n, h4, w4 = fine.shape
    return -fine.reshape(n, h4 // PER_BLOCK, PER_BLOCK, w4 // PER_BLOCK, PER_BLOCK).mean(axis=(2, 4))


# ---------------------------------------------------------------- training and report


def correlation_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Pearson correlation per frame: the allocator needs the teacher's order of the blocks; a plain
    regression loss shrank the student towards the frame mean (held-out rank correlation 0.42 against 0.50)."""
    p, t = prediction.flatten(1), target.flatten(1)
    p, t = p - p.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    return (1 - (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + 1e-6)).mean()


def calibrate(net: SensitivityNet, data: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Scale the output to the teacher's units: the least-squares slope of the teacher's weight on the
    student's over the training frames, so the student predicts the teacher's expected weight and the
    teacher's gain (allocate.strength 1.5) applies to it unchanged."""
    p = np.concatenate([predict(net, x).ravel() for x, _ in data])
    t = np.concatenate([y.ravel() for _, y in data])
    slope = float(np.dot(p, t) / max(np.dot(p, p), 1e-12))
    with torch.no_grad():
        last = net.body[-1]
        last.weight.mul_(slope)
        last.bias.mul_(slope)
    return slope


def train(videos: list[Path] | Path | None = None, quick: bool = False, out: Path | None = None) -> dict:
    """Teacher labels on WINDOWS short windows spread over the head of every clip (cached), then the student
    fitted to them (correlation loss plus a little smooth L1) and calibrated; quick: 4 frames of one small
    clip at 96 px wide, a few steps (tests)."""
    seed_everything(0)
    every, max_width, steps = (1, 96, 30) if quick else (TRAIN_EVERY, 640, 3000)
    data = []
    for v in training_videos(videos, quick):
        for start, stop in windows(Path(v), 1, 4) if quick else windows(Path(v)):
            data.append(segment(Path(v), start, stop, every, max_width))
    if not data:
        raise PreanalysisError("no training clips: pass --videos DIR")
    net = SensitivityNet()

    def step(rng: np.random.Generator) -> torch.Tensor:
        x, y = data[rng.integers(len(data))]
        idx = rng.choice(len(x), size=min(8, len(x)), replace=False)
        flip = rng.random() < 0.5  # mirrored frames are as sensitive as the original
        xb, yb = (x[idx, ..., ::-1], y[idx, :, ::-1]) if flip else (x[idx], y[idx])
        prediction = net(torch.from_numpy(np.ascontiguousarray(xb)))
        target = torch.from_numpy(np.ascontiguousarray(yb, np.float32))
        # the smooth L1 term keeps the scale in check (the teacher's ratios have outliers)
        return correlation_loss(prediction, target) + 0.2 * torch.nn.functional.smooth_l1_loss(prediction, target)

    stats = fit(net, step, steps, lr=3e-3, name=NAME)
    stats["calibration_slope"] = calibrate(net, data)
    stats["fit_rank_correlation"] = float(np.nanmean([rank_correlation(predict(net, x), y) for x, y in data]))
    stats["windows"] = len(data)
    return ship(net, stats, out, quick, NAME, ARCH,
                {"metric": METRIC, "windows": WINDOWS, "window_frames": WINDOW_FRAMES, "every": every})


def report(clips: list[Path], weights: str | Path = NAME, frames: int = REPORT_FRAMES, every: int = EVERY,
           max_width: int = 640) -> dict:
    """Per clip, on its held-out tail: Spearman rank correlation (per frame, mean) of the student's map with
    the teacher's, next to the texture baseline."""
    net = SensitivityModel(weights, "cpu").net
    per_clip = {}
    for path in map(Path, clips):
        start, stop = tail(path, frames)
        x, y = segment(path, start, stop, every, max_width)
        per_clip[path.name] = {"student": rank_correlation(predict(net, x), y),
                               "texture_baseline": rank_correlation(texture_baseline(x), y), "frames": len(x)}
    mean = {k: float(np.nanmean([c[k] for c in per_clip.values()])) for k in ("student", "texture_baseline")}
    return {**mean, "clips": per_clip}



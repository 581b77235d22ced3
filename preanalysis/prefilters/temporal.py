"""The learned motion-compensated pre-filter: E = w·P + (1 - w)·F, where P is the previous filtered frame warped
by the motion the temporal network predicts, and w = strength·W_MAX·M its trust (the `predictability` model).

The network runs at its working resolution; motion and trust are upsampled and the fusion is done at full
resolution on all three planes, gated by a full-resolution mismatch test that catches what the working
resolution cannot see (fine detail, upsampled-motion errors).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import PreanalysisError
from ..learning.blocks import from_work, to_work
from ..learning.models.predictability import NAME, W_MAX, PredictabilityModel
from ..video import DecodedFrame
from ..warp import resize_flow, warp
from .noise import SIGMA_FRAMES, auto_strength, noise_sigma, source_sigma
from .planes import planes, to_frame

GATE = (1.25, 2.0)  # full-resolution mismatch (in σ) where the prediction's weight starts / ends falling


def mismatch_gate(predicted: np.ndarray, frame: np.ndarray, sigma: float) -> np.ndarray:
    """Full-resolution safety net: 1 where the prediction differs from the frame by what noise explains
    (5x5 mean |P - F| <= GATE[0]·σ), falling to 0 at GATE[1]·σ.  The trust map comes from the working resolution,
    where upsampled-motion errors and fine detail are invisible; this catches them (blur, ghosts)."""
    err = cv2.blur(np.abs(predicted - frame), (5, 5))
    sigma = max(sigma, 1 / 255)
    return np.clip((GATE[1] * sigma - err) / ((GATE[1] - GATE[0]) * sigma), 0, 1).astype(np.float32)


def prefilter_frames(
    decoded_frames: Iterable[DecodedFrame], strength: str | float = "auto", weights: str | Path = NAME,
    device: str = "auto",
) -> Iterator[DecodedFrame]:
    """Motion-compensated temporal pre-filter: the same frames (index, pts, time) filtered at full resolution,
    8-bit 4:2:0.  strength: "auto" (from the noise of the first SIGMA_FRAMES frames), "off", or 0..1; the
    network runs on `device` (auto: CUDA when present), the fusion on the CPU."""
    if strength == "off":
        yield from decoded_frames
        return
    if not (strength == "auto" or (isinstance(strength, (int, float)) and 0 <= strength <= 1)):
        raise PreanalysisError(f"pre-filter strength {strength!r} is not valid: use auto, off or a number in 0..1")
    rest = iter(decoded_frames)
    first = list(itertools.islice(rest, SIGMA_FRAMES))
    if strength == "auto":
        s = auto_strength(source_sigma(first)) if first else 0.0
    else:
        s = float(strength)
    if s == 0:  # clean source: pass through untouched (and skip the network)
        yield from itertools.chain(first, rest)
        return
    noise = source_sigma(first) / 255
    model = PredictabilityModel(weights, device)
    state = model.infer(s)
    filtered: list[np.ndarray] = []
    with torch.no_grad():
        for d in itertools.chain(first, rest):
            yuv = planes(d.frame)
            work = to_work(yuv[0])
            sigma = torch.tensor([noise_sigma(work) / 255], dtype=torch.float32, device=model.device)
            flow_work = state.flow
            _, trust, _ = state.feed(torch.from_numpy(work)[None, None].to(model.device), sigma)
            if trust is not None:
                flow = flow_work[0].permute(1, 2, 0).cpu().numpy()
                predicted = [warp(prev, resize_flow(flow, (p.shape[1], p.shape[0]))) for p, prev in zip(yuv, filtered)]
                weight = from_work(s * W_MAX * trust[0, 0].cpu().numpy(), yuv[0].shape)
                weight *= mismatch_gate(predicted[0], yuv[0], noise)
                yuv = [w * pr + (1 - w) * p for w, pr, p in
                       zip((weight, weight[::2, ::2], weight[::2, ::2]), predicted, yuv)]
            filtered = yuv
            yield DecodedFrame(d.index, d.pts, d.time, to_frame(yuv, d.frame))

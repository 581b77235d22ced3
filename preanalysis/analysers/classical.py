"""Classical analysers: texture energy, dense-flow motion magnitude, and foreground (motion unlike the camera's).

Maps are absolute (fixed log scales, not per-frame normalised) so that a static scene gives the same map
every frame: per-frame normalisation would make QPs flicker.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Analyser, AnalysisContext, register_analyser


CENTRE_SIGMA = 0.25  # centre bias width, as a share of the frame width/height

def analysis_block(scale: float) -> int:
    """Analysis pixels per 16x16 encoder block."""
    return max(2, round(16 / scale))


def block_map(values: np.ndarray, block: int, full_scale: float) -> np.ndarray:
    """Mean over block x block tiles, log-scaled to [0, 1] (see log_scale), constant inside each block."""
    h, w = values.shape
    rows, cols = -(-h // block), -(-w // block)
    padded = np.pad(values, ((0, rows * block - h), (0, cols * block - w)), mode="edge")
    tiles = log_scale(padded.reshape(rows, block, cols, block).mean(axis=(1, 3)), full_scale)
    return cv2.resize(tiles, (cols * block, rows * block), interpolation=cv2.INTER_NEAREST)[:h, :w]


def log_scale(values: np.ndarray, full_scale: float) -> np.ndarray:
    """Map 0..full_scale onto 0..1 logarithmically (perceived activity is roughly logarithmic)."""
    return np.clip(np.log2(1 + values) / np.log2(1 + full_scale), 0, 1).astype(np.float32)


def gradient_energy(luma: np.ndarray) -> np.ndarray:
    """Squared gradient magnitude in 8-bit units (what residual coding of a block costs, roughly)."""
    y = luma * 255.0
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, 1:] = np.diff(y, axis=1)
    gy[1:, :] = np.diff(y, axis=0)
    return gx * gx + gy * gy


@register_analyser
class Texture(Analyser):
    """Per-block gradient energy: where detail is (and where coarse quantisation shows)."""

    name = "texture"
    maps = ("texture",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        energy = ctx.shared("gradient_energy", lambda: gradient_energy(ctx.luma))
        return {"texture": block_map(energy, analysis_block(ctx.scale), 4096.0)}


def dense_flow(ctx: AnalysisContext) -> np.ndarray:
    """Flow previous -> current in analysis pixels (DIS ultrafast: ~700 fps at 640x360); zeros on a first frame."""

    def compute():
        if ctx.previous is None:
            return np.zeros(ctx.luma.shape + (2,), np.float32)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        prev = (ctx.previous * 255).astype(np.uint8)
        cur = (ctx.luma * 255).astype(np.uint8)
        return dis.calc(prev, cur, None)

    return ctx.shared("dense_flow", compute)


@register_analyser
class Motion(Analyser):
    """Per-block motion magnitude in full-resolution pixels per frame."""

    name = "motion"
    maps = ("motion",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        flow = dense_flow(ctx)
        magnitude = np.hypot(flow[..., 0], flow[..., 1]) * ctx.scale
        return {"motion": block_map(magnitude, analysis_block(ctx.scale), 64.0)}


def global_motion(flow: np.ndarray, iterations: int = 3) -> np.ndarray:
    """The camera's motion as an affine field fitted to the flow, re-fitted on the best-agreeing 70%."""
    h, w = flow.shape[:2]
    step = max(1, min(h, w) // 32)
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    basis = np.stack([np.ones(xs.size), xs.ravel() / w, ys.ravel() / h], axis=1)
    target = flow[ys, xs].reshape(-1, 2).astype(np.float64)
    keep = np.ones(len(target), bool)
    for _ in range(iterations):
        coef, *_ = np.linalg.lstsq(basis[keep], target[keep], rcond=None)
        error = basis @ coef - target
        residual = np.hypot(error[:, 0], error[:, 1])
        keep = residual <= np.partition(residual, int(0.7 * (len(residual) - 1)))[int(0.7 * (len(residual) - 1))]
    coef = coef.astype(np.float32)
    x = (np.arange(w, dtype=np.float32) / w)[None, :, None]
    y = (np.arange(h, dtype=np.float32) / h)[:, None, None]
    return coef[0] + x * coef[1] + y * coef[2]


@register_analyser
class Foreground(Analyser):
    """Motion that differs from the global (camera) motion: objects moving in the scene."""

    name = "foreground"
    maps = ("foreground",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        flow = dense_flow(ctx)
        own = flow - global_motion(flow)
        residual = np.hypot(own[..., 0], own[..., 1]) * ctx.scale
        return {"foreground": block_map(residual, analysis_block(ctx.scale), 32.0)}


@register_analyser
class Centre(Analyser):
    """Centre bias: viewers look near the middle of the picture far more than at its edges, whatever the
    content (a standard prior of saliency models).  A Gaussian of CENTRE_SIGMA x the frame's sides."""

    name = "centre"
    maps = ("centre",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        h, w = ctx.luma.shape
        y = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
        x = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
        return {"centre": np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * CENTRE_SIGMA ** 2)).astype(np.float32)}

"""Dense optical flow between consecutive analysis frames (OpenCV DIS, computed once per frame for every
analyser) and the camera's motion fitted to it: what `motion` and `foreground` are made of."""

from __future__ import annotations

import cv2
import numpy as np

from .base import AnalysisContext


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

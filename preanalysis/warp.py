"""Resampling and warping of dense flows with numpy/OpenCV (no torch), in the flow convention of the project:
a flow F with a(x) ≈ b(x + F(x)) rebuilds `a` by `warp(b, F)`.  Used by the pre-filters and by training."""

from __future__ import annotations

import cv2
import numpy as np

from .errors import PreanalysisError


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a flow to size=(width, height), scaling the vectors with the image (area average)."""
    h, w = flow.shape[:2]
    out = cv2.resize(flow, size, interpolation=cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out.astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, borders replicated. image (h, w) or (h, w, c)."""
    h, w = flow.shape[:2]
    if image.shape[:2] != (h, w):
        raise PreanalysisError(f"warp needs image and flow of one size, got {image.shape[:2]} and {(h, w)}")
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

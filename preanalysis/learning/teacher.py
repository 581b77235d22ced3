"""Teacher optical flow (OpenCV DIS, medium preset, full resolution) and the warp helpers the networks share.

Convention everywhere in preanalysis.learning and the analysers: a flow F computed by `teacher_flow(a, b)` says where each pixel
of `a` is found in `b`:  a(x) ≈ b(x + F(x)).  So `warp(b, teacher_flow(a, b))` rebuilds `a` from `b`;
to carry the previous frame's mask into the current frame use `warp(mask_prev, teacher_flow(cur, prev))`.
Flows are (h, w, 2) float32 arrays of (dx, dy) in pixels of the image they were computed on.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import PreanalysisError
from ..warp import resize_flow, warp  # noqa: F401  (the numpy halves of the flow convention, re-exported)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """DIS wants 8-bit grey; float input is taken as [0, 1]."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise PreanalysisError(f"teacher flow needs a 2-D grey image, got shape {image.shape}: pass the luma plane")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def teacher_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow with a(x) ≈ b(x + F(x)); DIS medium, run at the resolution given (use full resolution)."""
    a8, b8 = _as_uint8(a), _as_uint8(b)
    if a8.shape != b8.shape:
        raise PreanalysisError(f"teacher flow needs two frames of one size, got {a8.shape} and {b8.shape}")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(a8, b8, None).astype(np.float32)


def warp_torch(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Batched backward warp for the networks: image (B, C, H, W), flow (B, 2, H, W) in pixels."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def endpoint_error(flow: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> float:
    """Mean Euclidean distance between two flows (the last or channel axis holds dx, dy)."""
    if isinstance(flow, torch.Tensor):
        return float(torch.linalg.vector_norm(flow - reference, dim=1).mean())
    return float(np.linalg.norm(np.asarray(flow) - np.asarray(reference), axis=-1).mean())

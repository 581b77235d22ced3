"""Pieces the segmentation, static and temporal networks share: a tiny U-Net, a ConvGRU cell, SSIM, mask
smoothness and the working resolution they run at (training loop: preanalysis.learning.training)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WORK_WIDTH = 160  # the networks run at about this width; their outputs are per 16x16 block anyway


def work_size(width: int, height: int, max_width: int = WORK_WIDTH) -> tuple[int, int]:
    """Integer downscale factor to fit max_width (the same rule video.analysis_size uses)."""
    factor = max(1, math.ceil(width / max_width))
    return max(8, width // factor), max(8, height // factor)


def to_work(image: np.ndarray, max_width: int = WORK_WIDTH) -> np.ndarray:
    h, w = image.shape[:2]
    size = work_size(w, h, max_width)
    if size == (w, h):
        return image.astype(np.float32)
    return cv2.resize(image.astype(np.float32), size, interpolation=cv2.INTER_AREA)


def from_work(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Back to shape=(h, w), bilinear."""
    if image.shape[:2] == tuple(shape):
        return image.astype(np.float32)
    return cv2.resize(image.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1))


class TinyUNet(nn.Module):
    """Encoder-decoder with skips over `levels` resolutions, each half the last (one more level sees objects
    twice as large whole); any input size (padded inside to a multiple of the coarsest step)."""

    def __init__(self, cin: int, cout: int, width: int = 16, levels: int = 3):
        super().__init__()
        self.levels = levels
        c = [width, width * 3 // 2] + [width * 2] * (levels - 2)
        self.enc1 = nn.Sequential(conv(cin, c[0]), conv(c[0], c[0]))
        for k in range(1, levels):
            deepest = [conv(c[k], c[k])] if k == levels - 1 else []
            setattr(self, f"enc{k + 1}", nn.Sequential(conv(c[k - 1], c[k], 2), conv(c[k], c[k]), *deepest))
        for k in range(levels - 1, 0, -1):
            setattr(self, f"dec{k}", nn.Sequential(conv(c[k] + c[k - 1], c[k - 1]), conv(c[k - 1], c[k - 1])))
        self.head = nn.Conv2d(c[0], cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        step = 2 ** (self.levels - 1)
        x = F.pad(x, (0, -w % step, 0, -h % step), mode="replicate")
        skips = [self.enc1(x)]
        for k in range(2, self.levels + 1):
            skips.append(getattr(self, f"enc{k}")(skips[-1]))
        d = skips.pop()
        for k in range(self.levels - 1, 0, -1):
            skip = skips.pop()
            d = getattr(self, f"dec{k}")(torch.cat([F.interpolate(d, size=skip.shape[-2:], mode="bilinear"), skip], 1))
        return self.head(d)[..., :h, :w]


class ConvGRUCell(nn.Module):
    def __init__(self, cin: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(cin + hidden, 2 * hidden, 3, 1, 1)
        self.cand = nn.Conv2d(cin + hidden, hidden, 3, 1, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden, *x.shape[-2:])
        z, r = torch.sigmoid(self.gates(torch.cat([x, h], 1))).chunk(2, 1)
        c = torch.tanh(self.cand(torch.cat([x, r * h], 1)))
        return (1 - z) * h + z * c


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Mean SSIM of images in [0, 1] (box window): a perceptual term that needs no downloaded weights."""
    pad = window // 2
    mu_a, mu_b = F.avg_pool2d(a, window, 1, pad), F.avg_pool2d(b, window, 1, pad)
    va = F.avg_pool2d(a * a, window, 1, pad) - mu_a**2
    vb = F.avg_pool2d(b * b, window, 1, pad) - mu_b**2
    cov = F.avg_pool2d(a * b, window, 1, pad) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return s.mean()


def smoothness(m: torch.Tensor) -> torch.Tensor:
    """Total variation of a mask: penalises speckle."""
    return (m[..., 1:, :] - m[..., :-1, :]).abs().mean() + (m[..., :, 1:] - m[..., :, :-1]).abs().mean()

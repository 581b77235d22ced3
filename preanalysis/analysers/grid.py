"""Classical maps on the encoder's block grid: the mean over each 16x16 block's analysis pixels, on a fixed log
scale (not normalised per frame, so a static scene gives the same map every frame and QPs do not flicker)."""

from __future__ import annotations

import cv2
import numpy as np


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

"""Where the bits went: PSNR-Y inside and outside the salient region (the top 20% of each frame's mask).

Computed in numpy from the paired frames (eval.pairing), so any encode (mapped or not) can be judged on the
same region: the region comes from the analysis of the source, never from the encode under test.  10-bit
encodes are judged in 10 bits (peak 1023).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from preanalysis.errors import PreanalysisError

from .pairing import pairs

SALIENT_FRACTION = 0.2
MAX_PSNR = 100.0  # an identical region has infinite PSNR; cap it so means stay finite


def salient_mask(salience: np.ndarray, width: int, height: int, fraction: float = SALIENT_FRACTION) -> np.ndarray:
    """Full-resolution boolean mask of about the `fraction` most salient pixels.

    Ties at the threshold are all in or all out, whichever covers closer to `fraction` (a flat mask: all in).
    """
    if not 0 < fraction < 1:
        raise PreanalysisError(f"salient fraction must be within (0, 1), got {fraction}")
    threshold = np.quantile(salience, 1 - fraction)
    above, at_or_above = salience > threshold, salience >= threshold
    strict_closer = abs(above.mean() - fraction) < abs(at_or_above.mean() - fraction)
    small = (above if above.any() and strict_closer else at_or_above).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR of two equal-size pixel sets; NaN for an empty set."""
    if a.size == 0:
        return float("nan")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return MAX_PSNR if mse == 0 else min(MAX_PSNR, 10 * np.log10(peak * peak / mse))


def masked_psnr(
    reference: str | Path, encoded: str | Path, mask_for: Callable[[int, int, int], np.ndarray], stop: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR-Y inside and outside mask_for(i, width, height) (frame i's mask at the source's size), for
    every frame of the encode paired by index with the reference's first `stop` frames (eval.pairing, guarded);
    NaN on a side with no pixels."""
    inside, outside = [], []
    target, paired = pairs(reference, encoded, 0, stop)
    for pair in paired:
        a, b = pair.reference[0], pair.encoded[0]
        mask = mask_for(pair.index, target.source_width, target.source_height)[: a.shape[0], : a.shape[1]]
        inside.append(psnr(a[mask], b[mask], target.peak))  # [: a.shape] above: the encoder's even crop, if any
        outside.append(psnr(a[~mask], b[~mask], target.peak))
    return np.array(inside), np.array(outside)


def region_psnr(
    reference: str | Path, encoded: str | Path, salience: Sequence[np.ndarray], fraction: float = SALIENT_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR-Y inside and outside the salient region; the encode has one frame per salience map and
    is paired by index with the reference's first len(salience) frames (eval.pairing, guarded)."""
    return masked_psnr(reference, encoded, lambda i, w, h: salient_mask(salience[i], w, h, fraction), len(salience))

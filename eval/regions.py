"""Where the bits went: PSNR-Y inside and outside the salient region (the top 20% of each frame's mask).

Computed in numpy from decoded frames, so any encode (mapped or not) can be judged on the same region: the
region comes from the analysis of the source, never from the encode under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.video import decode

from .metrics import even_crop

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


def _luma(frame) -> np.ndarray:
    """8-bit luma plane (works for odd sizes, where to_ndarray of 4:2:0 does not)."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "gray"):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def region_psnr(
    reference: str | Path, encoded: str | Path, salience: Sequence[np.ndarray], fraction: float = SALIENT_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR-Y inside and outside the salient region, for the first len(salience) frames."""
    inside, outside = [], []
    pairs = zip(decode(reference, 0, len(salience)), decode(encoded, 0, len(salience)), salience)
    for ref, enc, sal in pairs:
        w, h = enc.frame.width, enc.frame.height
        if (w, h) not in ((ref.frame.width, ref.frame.height), even_crop(ref.frame.width, ref.frame.height)):
            raise PreanalysisError(f"encode {encoded} and reference {reference} differ in size: compare matching files")
        a, b = _luma(ref.frame), _luma(enc.frame)
        mask = salient_mask(sal, a.shape[1], a.shape[0], fraction)[:h, :w]  # the encoder's even crop, if any
        a = a[:h, :w]
        inside.append(psnr(a[mask], b[mask]))
        outside.append(psnr(a[~mask], b[~mask]))
    if len(inside) != len(salience):
        raise PreanalysisError(
            f"only {len(inside)} of {len(salience)} frames decoded from {encoded} or {reference}: re-encode the clip"
        )
    return np.array(inside), np.array(outside)

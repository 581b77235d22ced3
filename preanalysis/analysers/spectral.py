"""`spectral`: the spectral-residual salient-object cue (Hou & Zhang, CVPR 2007), for content no detector or
motion map sees (a still animal, a cartoon character, an object on a plain table).

What is unexpected in a picture's log amplitude spectrum (the log spectrum minus its local average) marks the
"proto-objects" that stand out from their surround.  Computed on the luma WIDTH pixels wide (the method's
scale: objects, not texture), smoothed, and mapped on a fixed scale of the frame's mean (the paper's object
threshold is 3x the mean), so a frame with nothing standing out gives a weak map, not a rescaled one.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Analyser, AnalysisContext, register_analyser

WIDTH = 64  # working width (the paper's)
SIGMA = 2.5  # Gaussian smoothing of the saliency, working pixels (the paper: 8 px at 64x64 over the map's support)
FLAT = 1 / 255  # luma standard deviation below which a frame is flat
OBJECT = 3.0  # saliency over its frame mean at which a pixel counts fully as an object (the paper's threshold)


def spectral_residual(luma: np.ndarray) -> np.ndarray:
    """Saliency over its frame mean, at the luma's size (float32)."""
    h, w = luma.shape
    small = cv2.resize(luma, (WIDTH, max(8, round(WIDTH * h / w))), interpolation=cv2.INTER_AREA).astype(np.float64)
    if small.std() < FLAT:  # nothing can stand out (and the residual of an empty spectrum is rounding noise)
        return np.ones((h, w), np.float32)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REFLECT)
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency, (0, 0), SIGMA)
    ratio = saliency / max(float(saliency.mean()), 1e-12)
    return cv2.resize(ratio.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


@register_analyser
class Spectral(Analyser):
    """Map `spectral`: 0 at the frame's mean saliency, 1 at OBJECT x the mean and above."""

    name = "spectral"
    maps = ("spectral",)

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        ratio = spectral_residual(ctx.luma)
        return {"spectral": np.clip((ratio - 1) / (OBJECT - 1), 0, 1).astype(np.float32)}

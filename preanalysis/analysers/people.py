"""`people`: OpenCV's HOG + linear SVM pedestrian detector (Dalal & Triggs; its coefficients are compiled into
opencv-python-headless 4.x, nothing is downloaded), tracked across frames (tracking.py).

Viewers follow people; motion maps only see them while they move and mark everything that moves.  The HOG
window is 64x128, so the luma is enlarged until a person a quarter of the frame tall fills it (at most 2x).
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import register_analyser
from .tracking import DetectorAnalyser, suppress, upscaled

WINDOW_WIDTH, WINDOW_HEIGHT = 64, 128  # the default people detector's window
MIN_HEIGHT_SHARE = 0.25  # smallest person found, as a share of the frame height
MAX_UPSCALE = 2.0
MIN_MARGIN = 0.3  # SVM margin below which a window is not a person (most false hits on real clips sit lower)


@register_analyser
class People(DetectorAnalyser):
    """Tracked HOG person detections as soft ellipses (1 = a confident, confirmed person)."""

    name = "people"
    maps = ("people",)
    every = 4
    grow = 0.9  # the HOG box has a margin of background around the body

    def __init__(self) -> None:
        super().__init__()
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        factor = float(np.clip(WINDOW_HEIGHT / (MIN_HEIGHT_SHARE * luma.shape[0]), 1.0, MAX_UPSCALE))
        image = upscaled(luma, factor)
        if image.shape[0] < WINDOW_HEIGHT or image.shape[1] < WINDOW_WIDTH:  # no person fits (and OpenCV crashes)
            return suppress(np.zeros((0, 4)), np.zeros(0))
        boxes, margins = self.hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.1)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4) / factor
        margins = np.asarray(margins, np.float64).ravel()
        sure = margins >= MIN_MARGIN
        return suppress(boxes[sure], 1 - np.exp(-2 * margins[sure]))

"""Mask morphology shared by the training labels and the classical analysers (numpy/OpenCV only, no torch):
a moving object's flat inside joins its outline, and specks too small to be objects go."""

from __future__ import annotations

import cv2
import numpy as np

MIN_OBJECT_PIXELS = 6  # components smaller than this (labels' working or analysis resolution) are specks, not objects


def filled(mask: np.ndarray) -> np.ndarray:
    """The mask closed (a 5x5 ellipse) with its enclosed holes filled: the flat inside of a moving object,
    where the frames cannot show motion, moves with its outline."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    outside = np.pad(1 - m, 1, constant_values=1)  # flood the background from the border: the rest is holes
    cv2.floodFill(outside, None, (0, 0), 2)
    return (m > 0) | (outside[1:-1, 1:-1] == 1)


def without_specks(mask: np.ndarray, min_pixels: int = MIN_OBJECT_PIXELS) -> np.ndarray:
    n, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[parts]

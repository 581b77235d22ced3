"""Text and graphics overlays (captions, tickers, logos, score boxes): classical, no model.

Overlays are drawn over the picture: thin high-contrast strokes (found as morphological top-hat / black-hat
responses: lines brighter or darker than their surroundings and thinner than a few pixels) that stay where
they are while the scene under them moves.  A stroke pixel counts as static when it was a stroke LAG frames
earlier too and its luma barely changed (one frame is too short: a slowly drifting city at night or the
middle of a forward-moving shot looked static and got 70% / 34% of the frame marked, LAG 8 marks 7% / 2%).
Its persistence is an exponential average over frames, so an overlay builds up over a few frames and a
moving edge never does.  The map is the density of persistent
strokes per encoder block.  On a static camera the scene's own edges are persistent as well: there only the
stroke density separates text from texture (see FINDINGS of issue 12 for what that costs).
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from .grid import analysis_block

STROKE_SIZE = 5  # structuring element (analysis pixels): strokes up to ~4 px wide
STROKE_CONTRAST = 0.2  # luma difference between a stroke and its surroundings (0..1 scale)
STILL = 0.015  # luma change under which a stroke pixel counts as unmoved (camera noise is larger)
LAG = 8  # frames between the two looks: slow drift (a time-lapse, a forward-moving camera) adds up over a lag
PERSISTENCE = 0.3  # weight of the current frame in the persistence average
DENSITY_LOW, DENSITY_HIGH = 0.06, 0.18  # persistent-stroke share of a block: map 0 below, 1 above
TEXT_GAP = 2  # blocks: fill the gaps between words and lines of one overlay


def strokes(luma: np.ndarray) -> np.ndarray:
    """Pixels on thin lines brighter or darker than their surroundings (text strokes, graphic outlines)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (STROKE_SIZE, STROKE_SIZE))
    bright = cv2.morphologyEx(luma, cv2.MORPH_TOPHAT, kernel)
    dark = cv2.morphologyEx(luma, cv2.MORPH_BLACKHAT, kernel)
    return np.maximum(bright, dark) > STROKE_CONTRAST


@register_analyser
class Text(Analyser):
    """Per-block density of strokes that stay put: 1 = an overlay, 0 = picture."""

    name = "text"
    maps = ("text",)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.persistence: np.ndarray | None = None
        self.history: deque[tuple[np.ndarray, np.ndarray]] = deque(
            maxlen=LAG
        )  # (luma, strokes), oldest first

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        current = strokes(ctx.luma)
        if ctx.previous is None or self.persistence is None or self.persistence.shape != current.shape:
            self.reset()
            self.persistence = np.zeros(current.shape, np.float32)
        still = np.zeros(current.shape, bool)
        if self.history:
            luma, earlier = self.history[0]  # LAG frames ago (fewer just after a cut)
            still = current & earlier & (np.abs(ctx.luma - luma) < STILL)
        self.persistence += PERSISTENCE * (still.astype(np.float32) - self.persistence)
        self.history.append((ctx.luma, current))
        return {"text": overlay_blocks(self.persistence, analysis_block(ctx.scale))}


def overlay_blocks(persistence: np.ndarray, block: int) -> np.ndarray:
    """Block map in [0, 1] from the persistent-stroke density; gaps of up to TEXT_GAP blocks closed."""
    h, w = persistence.shape
    rows, cols = -(-h // block), -(-w // block)
    padded = np.pad(persistence, ((0, rows * block - h), (0, cols * block - w)))
    density = padded.reshape(rows, block, cols, block).mean(axis=(1, 3))
    level = np.clip((density - DENSITY_LOW) / (DENSITY_HIGH - DENSITY_LOW), 0, 1).astype(np.float32)
    closing = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * TEXT_GAP + 1, 3))
    level = np.maximum(level, cv2.erode(cv2.dilate(level, closing), closing))
    return cv2.resize(level, (cols * block, rows * block), interpolation=cv2.INTER_NEAREST)[:h, :w]

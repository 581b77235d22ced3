"""`still_foreground`: on a still camera, what differs from the background the camera has seen, kept where it
moves; nothing while the camera moves.

Surveillance and fixed cameras are where a viewer follows whatever enters the picture, and where frame-pair
motion (`foreground`, `objects`) is weakest: a walker's flat inside shows no motion between two frames, and
sensor noise shows motion everywhere.  A background model learned over many frames (OpenCV's MOG2, a Gaussian
mixture per pixel, Zivkovic 2004) marks the whole walker and lets the noise go.  Only past frames are used.
A model learned while someone stood in the picture keeps a "ghost" where they stood once they leave: so only
off-background pixels that changed lately (frame differences above the noise within MOTION_MEMORY frames)
count, their outline closed and filled.  Forced cuts (analysis.max_scene_frames) start the model again.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .base import Analyser, AnalysisContext, register_analyser
from ..morphology import filled, without_specks

WORK_WIDTH = 320  # the model runs at most this wide (an integer downscale of the analysis frame)
MAX_OFF_SHARE = 0.3  # a frame more off the background than this share means the camera moved: learn again
#                      (a pan marks most of a frame: 0.62 on bikes; people passing a still camera 0.1-0.15; the
#                      optical flow cannot tell: on a flat table DIS spreads the walkers' motion into the table)
MATURE_FRAMES = 10  # frames of still camera before the model is trusted
LEARNING_RATE = 0.01  # per frame, fixed (MOG2's own rate starts at 1 and learns the first walkers in)
BACKGROUND_SHARE = 0.7  # the background is the modes holding this share of a pixel's weight: a new value joins
#                         it when its weight passes 0.3, after ~35 frames of someone standing still
VARIANCE_SIGMAS = 4.0  # a pixel is off the background beyond this many of its mode's standard deviations
MOTION_SIGMAS = 3.0  # a frame difference counts as motion beyond this many noise sigmas (of the pair's MAD)
MIN_MOTION = 2.0 / 255  # ... and at least this much (a clean source has a MAD of almost 0)
MOTION_MEMORY = 10  # frames a pixel counts as moving after it last changed (a ghost, where the model still
#                     shows someone who has left, shows the background again and stays still: it goes)
MIN_AREA = 0.0005  # regions smaller than this share of the frame are noise


@register_analyser
class StillForeground(Analyser):
    """Map `still_foreground`: 1 on regions off a still camera's learned background that move, else 0; map
    `still_camera`: 1 everywhere while the camera is still and its background model is trusted, else 0 (what
    a salience.stand_aside rule reads: the frame-pair motion maps and priors may stand aside then)."""

    name = "still_foreground"
    maps = ("still_foreground", "still_camera")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.model: cv2.BackgroundSubtractorMOG2 | None = None
        self.still_frames = 0
        self.last_moved: np.ndarray | None = None  # per work pixel: the still frame count when it last moved
        self.previous: np.ndarray | None = None

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        work = self._work(ctx.luma)
        off_background = None if self.model is None else self.model.apply(work, learningRate=LEARNING_RATE) > 0
        if off_background is None or off_background.mean() > MAX_OFF_SHARE:
            # a shot's first frame, or the background no longer describes the frame (the camera moved, the light
            # changed): learn it again from this frame
            self.reset()
            self.model, self.previous = self._new_model(), work
            self.model.apply(work, learningRate=1.0)
            return self._maps(np.zeros_like(ctx.luma), trusted=False)
        self.still_frames += 1
        self._remember_motion(work)
        self.previous = work
        if self.still_frames < MATURE_FRAMES:
            return self._maps(np.zeros_like(ctx.luma), trusted=False)
        regions = cv2.resize(self._moving_regions(off_background).astype(np.float32), ctx.luma.shape[::-1],
                             interpolation=cv2.INTER_LINEAR)
        return self._maps(regions.clip(0, 1), trusted=True)

    @staticmethod
    def _maps(regions: np.ndarray, trusted: bool) -> dict[str, np.ndarray]:
        return {"still_foreground": regions, "still_camera": np.full_like(regions, float(trusted))}

    @staticmethod
    def _new_model() -> cv2.BackgroundSubtractorMOG2:
        model = cv2.createBackgroundSubtractorMOG2(round(1 / LEARNING_RATE), VARIANCE_SIGMAS**2, detectShadows=False)
        model.setBackgroundRatio(BACKGROUND_SHARE)
        model.setVarMin(4.0)  # 2 grey levels: a clean synthetic background must not mark its own rounding
        return model

    @staticmethod
    def _work(luma: np.ndarray) -> np.ndarray:
        step = max(1, -(-luma.shape[1] // WORK_WIDTH))
        small = cv2.resize(luma, (luma.shape[1] // step, luma.shape[0] // step), interpolation=cv2.INTER_AREA)
        return (cv2.GaussianBlur(small, (3, 3), 0) * 255).astype(np.uint8)

    def _remember_motion(self, work: np.ndarray) -> None:
        difference = np.abs(work.astype(np.float32) - self.previous.astype(np.float32)) / 255
        noise = 1.4826 * float(np.median(difference))
        moved = cv2.blur(difference, (3, 3)) > max(MIN_MOTION, MOTION_SIGMAS * noise)
        if self.last_moved is None:
            self.last_moved = np.full(work.shape, -MOTION_MEMORY - 1, np.int32)
        self.last_moved[moved] = self.still_frames

    def _moving_regions(self, off_background: np.ndarray) -> np.ndarray:
        """Off-background pixels that moved lately, their outline closed and filled (a walker's flat inside
        shows no motion between frames), specks dropped.  A ghost, where the model still remembers someone
        who has left, shows the background again and stays still: it is dropped."""
        recent = self.last_moved >= self.still_frames - MOTION_MEMORY
        mask = cv2.morphologyEx((off_background & recent).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        return without_specks(filled(mask > 0), math.ceil(MIN_AREA * mask.size))

"""Boxes that persist: an IoU tracker with short memory for the detector analysers (people, faces).

Detectors are slow and miss objects in single frames (motion blur, a turned head), so a region must not
vanish when one detection is missed, nor appear for one false hit.  Tracks are born on a detection, confirmed
after `confirm` hits, moved with the scene's own motion (median optical flow inside the box) on frames the
detector does not run, and dropped after `memory` detector runs without a match.  The map drawn from the
tracks is a soft ellipse per box, so QP steps do not follow box edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from .base import Analyser, AnalysisContext
from .camera import dense_flow

MATCH_IOU = 0.3  # a detection continues a track when their boxes overlap at least this much


@dataclass
class Track:
    box: np.ndarray  # float64 (x, y, w, h) in analysis pixels
    confidence: float  # in [0, 1]: detector score smoothed over the track's life
    hits: int = 1
    misses: int = 0  # detector runs since the last match


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class BoxTracker:
    """Greedy IoU matching of detections to tracks; see the module docstring for the life of a track."""

    def __init__(self, confirm: int = 2, memory: int = 2, smoothing: float = 0.5):
        self.confirm, self.memory, self.smoothing = confirm, memory, smoothing
        self.tracks: list[Track] = []

    def reset(self) -> None:
        self.tracks = []

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> None:
        """One detector run: boxes (n, 4) as (x, y, w, h), scores (n,) in [0, 1]."""
        pairs = sorted(
            ((iou(t.box, b), ti, di) for ti, t in enumerate(self.tracks) for di, b in enumerate(boxes)),
            reverse=True,
        )
        used_tracks, used_dets = set(), set()
        for overlap, ti, di in pairs:
            if overlap < MATCH_IOU:
                break
            if ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            t, a = self.tracks[ti], self.smoothing
            t.box = a * t.box + (1 - a) * np.asarray(boxes[di], np.float64)
            t.confidence = a * t.confidence + (1 - a) * float(scores[di])
            t.hits, t.misses = t.hits + 1, 0
        for ti, t in enumerate(self.tracks):
            if ti not in used_tracks:
                t.misses += 1
                t.confidence *= 1 - self.smoothing / 2  # fade, so a lost object's bits return gradually
        self.tracks = [t for t in self.tracks if t.misses <= self.memory]
        for di, b in enumerate(boxes):
            if di not in used_dets:
                self.tracks.append(Track(np.asarray(b, np.float64), float(scores[di])))

    def follow(self, flow: np.ndarray) -> None:
        """Move every track by the median flow (previous -> current, analysis pixels) inside its box."""
        h, w = flow.shape[:2]
        for t in self.tracks:
            x, y, bw, bh = t.box
            x0, y0 = int(np.clip(x, 0, w - 1)), int(np.clip(y, 0, h - 1))
            x1, y1 = int(np.clip(x + bw, x0 + 1, w)), int(np.clip(y + bh, y0 + 1, h))
            inside = flow[y0:y1, x0:x1].reshape(-1, 2)
            t.box[:2] += np.median(inside, axis=0)

    def confirmed(self) -> list[Track]:
        return [t for t in self.tracks if t.hits >= self.confirm]


def ellipse_map(shape: tuple[int, int], tracks: list[Track], grow: float = 1.0) -> np.ndarray:
    """float32 map in [0, 1]: each box's confidence inside the ellipse inscribed in it (scaled by `grow`),
    full out to 3/4 of the ellipse's radius, falling to zero at 1.25 times it; overlaps take the maximum."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    for t in tracks:
        x, y, bw, bh = t.box
        cx, cy = x + bw / 2, y + bh / 2
        rx, ry = max(bw * grow / 2, 1.0), max(bh * grow / 2, 1.0)
        x0, x1 = int(max(0, np.floor(cx - 1.25 * rx))), int(min(w, np.ceil(cx + 1.25 * rx) + 1))
        y0, y1 = int(max(0, np.floor(cy - 1.25 * ry))), int(min(h, np.ceil(cy + 1.25 * ry) + 1))
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
        r = np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)
        value = np.float32(t.confidence) * np.clip((1.25 - r) / 0.5, 0, 1)
        np.maximum(out[y0:y1, x0:x1], value, out=out[y0:y1, x0:x1])
    return out


class DetectorAnalyser(Analyser):
    """An analyser whose map is tracked detections: subclasses implement `detect` on 8-bit luma.

    The detector runs on the first frame after a reset and every `every` frames after it; in between the
    tracks follow the shared dense flow (computed once per frame for the motion analysers too).
    """

    every: ClassVar[int] = 3
    memory: ClassVar[int] = 2  # detector runs a track survives without a match (following the flow, fading)
    grow: ClassVar[float] = 1.0  # the drawn ellipse against the detected box (faces: include hair and chin)

    def __init__(self) -> None:
        self.tracker = BoxTracker(memory=self.memory)
        self.frame = 0

    def reset(self) -> None:
        self.tracker.reset()
        self.frame = 0

    def detect(self, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (n, 4) as x, y, w, h in analysis pixels, scores (n,) in [0, 1]) for uint8 luma."""
        raise NotImplementedError

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        if ctx.previous is not None and self.tracker.tracks:
            self.tracker.follow(dense_flow(ctx))
        if self.frame % self.every == 0:
            boxes, scores = self.detect(np.round(ctx.luma * 255).astype(np.uint8))
            self.tracker.update(boxes, scores)
        self.frame += 1
        return {self.maps[0]: ellipse_map(ctx.luma.shape, self.tracker.confirmed(), self.grow)}


def suppress(
    boxes: np.ndarray, scores: np.ndarray, overlap: float = MATCH_IOU
) -> tuple[np.ndarray, np.ndarray]:
    """Non-maximum suppression: keep the best-scoring of boxes that overlap (detectors that run several
    models or scales report one object more than once)."""
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(iou(boxes[i], boxes[k]) < overlap for k in keep):
            keep.append(int(i))
    return boxes[keep].reshape(-1, 4), scores[keep]


def upscaled(luma: np.ndarray, factor: float) -> np.ndarray:
    """Luma enlarged for a detector whose smallest window is larger than the objects at analysis size."""
    if factor == 1:
        return luma
    return cv2.resize(luma, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)

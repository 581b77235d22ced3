"""`faces`: OpenCV's Haar cascades (Viola-Jones, frontal and profile), which ship inside
opencv-python-headless 4.x (cv2.data: nothing is downloaded), tracked across frames (tracking.py).

Faces are where viewers look first.  The cascades' windows are 20 pixels, so the luma is enlarged until a face
MIN_FACE_SHARE of the frame tall fills one (at most 2x).  One cascade sees one pose: upright frontal faces,
faces turned to one side (profile; the other side on the mirrored picture), or tilted heads (the frontal
cascade on the picture rotated by +-TILT).  Running all five on every frame would cost 5x, so each detector
run scans the whole frame upright plus one of the four other poses in turn (a new face in another pose is found
within 4 runs), and looks for every known face in all poses within a crop around it (small: cheap), so a track
survives its face turning or tilting.

Small faces (a webcam inset in a screen recording, a crowd, a wide shot: SMALL_FACE_SHARE to MIN_FACE_SHARE of
the height) are a few analysis pixels tall, too few for any window, and enlarging the analysis luma does not
bring back the detail its averaging took.  So every SMALL_EVERY-th run scans upright faces on the source
frame's Y plane (AnalysisContext.source) brought to WINDOW / SMALL_FACE_SHARE rows (667: a 3% face fills the
window), and a candidate it finds is confirmed (or dropped) on the next run by the crop around it, also taken
from the source.  Without a source (callers that hand only the analysis luma) the analysis luma is enlarged,
which finds small faces only from about 6-8%.  Faces of 10% and more take the old path unchanged.  Measured on
generated scenes (docs/results.md, "Small faces"): tracked recall 0.06 / 0.22 / 0.48 / 0.88 / 1.00 at 3 / 4 /
5 / 6 / 8% of the height (0 before); no false face added on real face-free frames; the analyser costs 2x at
1080p, the salience preset 1.07x (median of 3).  The scan every 4th run found more (0.29 at 4%) at 1.20x preset.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import PreanalysisError
from .base import AnalysisContext, register_analyser
from .tracking import DetectorAnalyser, suppress, upscaled

FRONTAL, PROFILE = "haarcascade_frontalface_alt2.xml", "haarcascade_profileface.xml"
WINDOW = 20  # the cascades' window (alt2 and profile: 20x20 pixels)
MIN_FACE_SHARE = 0.1  # smallest face found in a full-frame scan, as a share of the frame height
MAX_UPSCALE = 2.0
SMALL_FACE_SHARE = 0.03  # smallest face found by the small-face scan, as a share of the frame height
SMALL_MAX_UPSCALE = 4.0  # beyond this an enlargement finds nothing the picture does not hold
SOURCE_ABOVE = MAX_UPSCALE  # a picture enlarged more than this from the analysis luma is taken from the source
SMALL_EVERY = 8  # the small-face scan runs on every SMALL_EVERY-th detector run (known faces: the crops)
TILT = 25.0  # degrees: a head tilted 10-40 degrees is found on the picture rotated by this
MIN_NEIGHBOURS = 3  # overlapping hits a detection needs (fewer: false faces in texture)
SCALE_STEP = 1.15  # between the scan's window sizes
CROP = 2.0  # crop around a known face: this times its box, each way
POSES = ("profile", "profile-mirrored", "tilt-left", "tilt-right")


def load_cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise PreanalysisError(f"OpenCV's face cascade {path} is missing: pip install 'opencv-python-headless>=4.10,<5'")
    return cascade


def confidence(neighbours: np.ndarray) -> np.ndarray:
    """Overlapping hits -> [0, 1]: 3 hits 0.53 (a face, just), 10 hits 0.92."""
    return 1 - np.exp(-np.asarray(neighbours, np.float64).ravel() / 4)


@register_analyser
class Faces(DetectorAnalyser):
    """Tracked face detections as soft ellipses grown to take in hair and chin."""

    name = "faces"
    maps = ("faces",)
    every = 3
    memory = 3
    grow = 1.15

    def __init__(self) -> None:
        super().__init__()
        self.frontal, self.profile = load_cascade(FRONTAL), load_cascade(PROFILE)
        self.runs = 0
        self.source: np.ndarray | None = None  # this frame's full-resolution Y plane, when the caller has it

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        self.source = ctx.source
        return super().process(ctx)

    def reset(self) -> None:
        super().reset()
        self.runs = 0

    def scan(self, image: np.ndarray, pose: str, min_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Faces in one pose: boxes (x, y, w, h) in `image` pixels and their confidences."""
        h, w = image.shape
        cascade = self.frontal if pose in ("upright", "tilt-left", "tilt-right") else self.profile
        rotation = None
        if pose.startswith("tilt"):
            rotation = cv2.getRotationMatrix2D((w / 2, h / 2), TILT if pose == "tilt-left" else -TILT, 1.0)
            image = cv2.warpAffine(image, rotation, (w, h), borderMode=cv2.BORDER_REPLICATE)
        elif pose == "profile-mirrored":
            image = np.ascontiguousarray(image[:, ::-1])
        boxes, neighbours = cascade.detectMultiScale2(image, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS,
                                                      minSize=(min_size, min_size))
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if pose == "profile-mirrored":
            boxes[:, 0] = w - boxes[:, 0] - boxes[:, 2]
        elif rotation is not None and len(boxes):  # box centres back into the upright picture
            centres = boxes[:, :2] + boxes[:, 2:] / 2
            back = cv2.invertAffineTransform(rotation)
            boxes[:, :2] = centres @ back[:, :2].T + back[:, 2] - boxes[:, 2:] / 2
        return boxes, confidence(neighbours)

    def detect(self, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = luma.shape
        factor = float(np.clip(WINDOW / (MIN_FACE_SHARE * h), 1.0, MAX_UPSCALE))
        image = cv2.equalizeHist(self.picture(luma, (0, 0, w, h), factor))
        min_size = round(MIN_FACE_SHARE * h * factor)
        found = [self.scan(image, pose, min_size) for pose in ("upright", POSES[self.runs % len(POSES)])]
        boxes = [b / factor for b, _ in found]
        scores = [s for _, s in found]
        if self.runs % SMALL_EVERY == 0:
            small_boxes, small_scores = self.small(luma)
            boxes.append(small_boxes)
            scores.append(small_scores)
        for track in self.tracker.tracks:  # known faces, and small candidates (one small-scan hit: confirm them)
            if track.hits < self.tracker.confirm and max(track.box[2:]) >= MIN_FACE_SHARE * h:
                continue
            crop_boxes, crop_scores = self.around(luma, track.box)
            boxes.append(crop_boxes)
            scores.append(crop_scores)
        self.runs += 1
        return suppress(np.concatenate(boxes), np.concatenate(scores))

    def small(self, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Upright faces from SMALL_FACE_SHARE of the frame height up to where the full-frame scan starts, on a
        picture WINDOW / SMALL_FACE_SHARE rows tall (analysis pixels)."""
        h, w = luma.shape
        rows = h if self.source is None else max(h, self.source.shape[0])  # of the most detailed picture
        factor = min(WINDOW / (SMALL_FACE_SHARE * h), SMALL_MAX_UPSCALE * rows / h)
        if factor <= WINDOW / (MIN_FACE_SHARE * h) * SCALE_STEP:  # the full-frame scan already sees them
            return np.zeros((0, 4)), np.zeros(0)
        image = cv2.equalizeHist(self.picture(luma, (0, 0, w, h), factor))
        largest = round(MIN_FACE_SHARE * h * factor * SCALE_STEP)
        boxes, neighbours = self.frontal.detectMultiScale2(image, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS,
                                                           minSize=(WINDOW, WINDOW), maxSize=(largest, largest))
        return np.asarray(boxes, np.float64).reshape(-1, 4) / factor, confidence(neighbours)

    def picture(self, luma: np.ndarray, region: tuple[int, int, int, int], factor: float) -> np.ndarray:
        """uint8 `region` (x0, y0, x1, y1 in analysis pixels) at `factor` times the analysis size: from the
        source frame's Y plane where the caller carries one and the analysis luma would have to be enlarged
        (the source has the detail an enlargement would invent), else the analysis luma enlarged."""
        x0, y0, x1, y1 = region
        size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
        source = self.source
        if factor <= SOURCE_ABOVE or source is None or source.shape[0] <= luma.shape[0]:
            return upscaled(np.ascontiguousarray(luma[y0:y1, x0:x1]), factor)
        k = source.shape[0] / luma.shape[0]  # source pixels per analysis pixel
        crop = source[round(y0 * k) : round(y1 * k), round(x0 * k) : round(x1 * k)]
        shrink = size[0] < crop.shape[1]
        return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def around(self, luma: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A known face looked for in every pose, within a crop around its box (analysis pixels)."""
        h, w = luma.shape
        x, y, bw, bh = box
        side = CROP * max(bw, bh)
        x0, y0 = int(max(0, x + bw / 2 - side / 2)), int(max(0, y + bh / 2 - side / 2))
        x1, y1 = int(min(w, x + bw / 2 + side / 2)), int(min(h, y + bh / 2 + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return np.zeros((0, 4)), np.zeros(0)
        factor = float(np.clip(3 * WINDOW / max(bw, bh, 1.0), 1.0, 4 * MAX_UPSCALE))  # the face ~3 windows wide
        crop = cv2.equalizeHist(self.picture(luma, (x0, y0, x1, y1), factor))
        min_size = max(WINDOW, round(0.5 * max(bw, bh) * factor))
        found = [self.scan(crop, pose, min_size) for pose in ("upright", *POSES)]
        boxes = np.concatenate([b for b, _ in found]) / factor + [x0, y0, 0, 0]
        return boxes, np.concatenate([s for _, s in found])

"""(Baseline of bench/small_faces: the faces analyser of main 5b3beaa, before the small-face scan.)
`faces`: OpenCV's Haar cascades (Viola-Jones, frontal and profile), which ship inside
opencv-python-headless 4.x (cv2.data: nothing is downloaded), tracked across frames (tracking.py).

Faces are where viewers look first.  The cascades' windows are 20 pixels, so the luma is enlarged until a face
MIN_FACE_SHARE of the frame tall fills one (at most 2x).  One cascade sees one pose: upright frontal faces,
faces turned to one side (profile; the other side on the mirrored picture), or tilted heads (the frontal
cascade on the picture rotated by +-TILT).  Running all five on every frame would cost 5x, so each detector
run scans the whole frame upright plus one of the four other poses in turn (a new face in another pose is found
within 4 runs), and looks for every known face in all poses within a crop around it (small: cheap), so a track
survives its face turning or tilting.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from preanalysis.analysers.base import register_analyser
from preanalysis.analysers.tracking import DetectorAnalyser, suppress, upscaled
from preanalysis.errors import PreanalysisError

FRONTAL, PROFILE = "haarcascade_frontalface_alt2.xml", "haarcascade_profileface.xml"
WINDOW = 20  # the cascades' window (alt2 and profile: 20x20 pixels)
MIN_FACE_SHARE = 0.1  # smallest face found in a full-frame scan, as a share of the frame height
MAX_UPSCALE = 2.0
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

    name = "faces_before"
    maps = ("faces_before",)
    every = 3
    memory = 3
    grow = 1.15

    def __init__(self) -> None:
        super().__init__()
        self.frontal, self.profile = load_cascade(FRONTAL), load_cascade(PROFILE)
        self.runs = 0

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
        h = luma.shape[0]
        factor = float(np.clip(WINDOW / (MIN_FACE_SHARE * h), 1.0, MAX_UPSCALE))
        image = cv2.equalizeHist(upscaled(luma, factor))
        min_size = round(MIN_FACE_SHARE * h * factor)
        found = [self.scan(image, pose, min_size) for pose in ("upright", POSES[self.runs % len(POSES)])]
        boxes = [b / factor for b, _ in found]
        scores = [s for _, s in found]
        for track in self.tracker.confirmed():
            crop_boxes, crop_scores = self.around(luma, track.box)
            boxes.append(crop_boxes)
            scores.append(crop_scores)
        self.runs += 1
        return suppress(np.concatenate(boxes), np.concatenate(scores))

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
        crop = cv2.equalizeHist(upscaled(np.ascontiguousarray(luma[y0:y1, x0:x1]), factor))
        min_size = max(WINDOW, round(0.5 * max(bw, bh) * factor))
        found = [self.scan(crop, pose, min_size) for pose in ("upright", *POSES)]
        boxes = np.concatenate([b for b, _ in found]) / factor + [x0, y0, 0, 0]
        return boxes, np.concatenate([s for _, s in found])

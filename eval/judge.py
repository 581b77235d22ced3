"""An independent judge: quality inside regions the user supplies (gaze maps, hand-drawn boxes, a detector
they trust), never the product's own mask, so a mask cannot grade itself.

Region files:
- JSON, tracks with key boxes (hand annotation: draw a box every few frames, the frames between are
  interpolated linearly; a track exists from its first to its last key frame):
    {"width": 640, "height": 272,            # the frame size the boxes were drawn on (scaled to the clip)
     "tracks": [{"id": "cyclist", "boxes": {"110": [x, y, w, h], "140": [x, y, w, h]}}]}
- CSV, one box per line, no interpolation: frame,x,y,w,h[,id] (a header line is allowed); boxes are in
  the clip's own pixels.
- A mask video (any format PyAV decodes): luma above half scale is inside; frame i judges frame i.
- For a static camera without annotation: `MedianForeground`, the pixels far from the clip's temporal median
  (what moves past the camera), found independently of any analyser.
Frames are paired by index (decode order), never by timestamp.  A frame without a region is not scored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.video import decode

from .bdrate import bd_quality
from .metrics import even_crop
from .regions import _luma, psnr

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".y4m", ".webm", ".nut"}


@dataclass
class BoxRegions:
    """Boxes per frame index as (x, y, w, h) in the pixels of a width x height frame."""

    width: int
    height: int
    boxes: dict[int, list[tuple[float, float, float, float]]]

    def mask(self, index: int, width: int, height: int) -> np.ndarray:
        out = np.zeros((height, width), bool)
        sx, sy = width / self.width, height / self.height
        for x, y, w, h in self.boxes.get(index, ()):
            x0, y0 = int(np.clip(round(x * sx), 0, width)), int(np.clip(round(y * sy), 0, height))
            x1, y1 = int(np.clip(round((x + w) * sx), 0, width)), int(np.clip(round((y + h) * sy), 0, height))
            out[y0:y1, x0:x1] = True
        return out

    def frames(self) -> list[int]:
        return sorted(i for i, b in self.boxes.items() if b)


def _box(value, where: str) -> tuple[float, float, float, float]:
    if not (
        isinstance(value, (list, tuple))
        and len(value) == 4
        and all(isinstance(v, (int, float)) for v in value)
    ):
        raise PreanalysisError(f"{where}: a box is [x, y, width, height] in pixels, got {value!r}")
    if value[2] <= 0 or value[3] <= 0:
        raise PreanalysisError(f"{where}: box {value!r} has no area: width and height must be > 0")
    return tuple(float(v) for v in value)


def interpolate_track(keys: dict[int, tuple[float, float, float, float]]) -> dict[int, tuple[float, ...]]:
    """Every frame from the first key to the last, boxes linear between keys."""
    frames = sorted(keys)
    out = {frames[0]: keys[frames[0]]}
    for a, b in pairwise(frames):
        ka, kb = np.asarray(keys[a]), np.asarray(keys[b])
        for i in range(a + 1, b + 1):
            out[i] = tuple(float(v) for v in ka + (kb - ka) * (i - a) / (b - a))
    return out


def _json_regions(path: Path) -> BoxRegions:
    try:
        data = json.loads(path.read_text())
        width, height, tracks = int(data["width"]), int(data["height"]), data["tracks"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PreanalysisError(
            f'regions file {path} is not region JSON ({exc}): write {{"width", "height", "tracks": '
            '[{"id", "boxes": {"FRAME": [x, y, w, h]}}]}'
        ) from None
    boxes: dict[int, list] = {}
    for n, track in enumerate(tracks):
        where = f"{path} track {track.get('id', n) if isinstance(track, dict) else n}"
        try:
            keys = {int(f): _box(b, f"{where} frame {f}") for f, b in track["boxes"].items()}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, PreanalysisError):
                raise
            raise PreanalysisError(f"{where}: 'boxes' maps frame numbers to [x, y, w, h] ({exc})") from None
        if not keys or min(keys) < 0:
            raise PreanalysisError(f"{where}: needs at least one box, at frame numbers >= 0")
        for i, box in interpolate_track(keys).items():
            boxes.setdefault(i, []).append(box)
    return BoxRegions(width, height, boxes)


def _csv_regions(path: Path, width: int, height: int) -> BoxRegions:
    boxes: dict[int, list] = {}
    with path.open(newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if not row or row[0].strip().lower() in ("frame", "") or row[0].lstrip().startswith("#"):
                continue
            try:
                frame, box = int(row[0]), _box([float(v) for v in row[1:5]], f"{path} line {line}")
            except ValueError:
                raise PreanalysisError(
                    f"{path} line {line}: expected frame,x,y,w,h[,id], got {','.join(row)}"
                ) from None
            boxes.setdefault(frame, []).append(box)
    return BoxRegions(width, height, boxes)


class MaskVideo:
    """Regions as a mask video: luma > 127 is inside."""

    def __init__(self, path: Path):
        self.path = path
        self._masks: dict[int, np.ndarray] = {}
        for d in decode(path):
            self._masks[d.index] = _luma(d.frame) > 127

    def mask(self, index: int, width: int, height: int) -> np.ndarray:
        m = self._masks.get(index)
        if m is None:
            return np.zeros((height, width), bool)
        if m.shape != (height, width):
            m = cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
        return m

    def frames(self) -> list[int]:
        return sorted(i for i, m in self._masks.items() if m.any())


class MedianForeground:
    """Regions of a static-camera clip: pixels more than `threshold` grey levels (after a 5x5 blur) from the
    temporal median of its first `frames` frames, opened and dilated by 5x5 (people walking past a fixed
    camera).  Meaningless for a moving camera: the median is then a blur of the scene."""

    def __init__(self, path: str | Path, frames: int | None = None, threshold: float = 25.0):
        lumas = []
        for d in decode(path, 0, frames):
            lumas.append(cv2.GaussianBlur(_luma(d.frame).astype(np.float32), (5, 5), 0))
        median = np.median(np.array(lumas), axis=0)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._masks = []
        for y in lumas:
            far = (np.abs(y - median) > threshold).astype(np.uint8)
            self._masks.append(cv2.dilate(cv2.morphologyEx(far, cv2.MORPH_OPEN, kernel), kernel) > 0)

    def mask(self, index: int, width: int, height: int) -> np.ndarray:
        if index >= len(self._masks):
            return np.zeros((height, width), bool)
        m = self._masks[index]
        if m.shape[1] in (width, width + 1) and m.shape[0] in (height, height + 1):  # the encoder's even crop
            return m[:height, :width]
        return cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)

    def frames(self) -> list[int]:
        return [i for i, m in enumerate(self._masks) if m.any()]


def load_regions(path: str | Path, width: int, height: int) -> BoxRegions | MaskVideo:
    """Regions from JSON tracks, CSV boxes (in width x height pixels) or a mask video."""
    path = Path(path)
    if not path.is_file():
        raise PreanalysisError(f"regions file {path} does not exist: give a .json, .csv or mask video")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_regions(path)
    if suffix == ".csv":
        return _csv_regions(path, width, height)
    if suffix in VIDEO_SUFFIXES:
        return MaskVideo(path)
    raise PreanalysisError(
        f"regions file {path}: use .json (tracks), .csv (frame,x,y,w,h[,id]) or a mask video"
    )


def judged_psnr(
    reference: str | Path,
    encoded: str | Path,
    regions: BoxRegions | MaskVideo | MedianForeground,
    frames: int | None = None,
) -> np.ndarray:
    """PSNR-Y inside the regions for each of the first `frames` frames (all when None); NaN where a frame
    has no region.  Reference and encode are paired by frame index."""
    out = []
    for ref, enc in zip(decode(reference, 0, frames), decode(encoded, 0, frames)):
        if ref.index != enc.index:
            raise PreanalysisError(f"{encoded} and {reference} lost frame pairing at {ref.index}: re-encode")
        w, h = enc.frame.width, enc.frame.height
        if (w, h) not in ((ref.frame.width, ref.frame.height), even_crop(ref.frame.width, ref.frame.height)):
            raise PreanalysisError(
                f"encode {encoded} and reference {reference} differ in size: compare matching files"
            )
        a, b = _luma(ref.frame), _luma(enc.frame)
        mask = regions.mask(ref.index, a.shape[1], a.shape[0])[:h, :w]
        out.append(psnr(a[:h, :w][mask], b[mask]) if mask.any() else float("nan"))
    if frames is not None and len(out) != frames:
        raise PreanalysisError(f"only {len(out)} of {frames} frames decoded from {encoded} or {reference}")
    return np.array(out)


def mean_judged(values: np.ndarray) -> float:
    """Mean over the frames that have a region; NaN when none has."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def judged_bd_psnr(
    anchor_rates: Sequence[float],
    anchor_psnr: Sequence[float],
    test_rates: Sequence[float],
    test_psnr: Sequence[float],
) -> float:
    """dB gained inside the judged regions at equal bitrate (test against anchor; pchip BD-PSNR)."""
    return bd_quality(anchor_rates, anchor_psnr, test_rates, test_psnr)

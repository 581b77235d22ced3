"""Region files: where a user says the important pixels are, per frame, in the formats people have at hand.

Used twice, for two different jobs: as regions of interest the salience mask must protect (`salience.roi_files`,
`--roi-file`), and as the independent judge's regions in eval (`eval --regions`, eval.judge), so a region drawn
once can both steer the map and grade it.

- JSON, tracks with key boxes (hand annotation: draw a box every few frames, the frames between are
  interpolated linearly; a track exists from its first to its last key frame):
    {"width": 640, "height": 272,            # the frame size the boxes were drawn on (scaled to the clip)
     "tracks": [{"id": "cyclist", "boxes": {"110": [x, y, w, h], "140": [x, y, w, h]}}]}
- CSV, one box per line, no interpolation: frame,x,y,w,h[,id] (a header line is allowed), in the clip's pixels.
- A mask video (any format PyAV decodes): luma above half scale is inside; frame i is frame i of the clip.
Frames are counted by index (decode order), never by timestamp.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .errors import PreanalysisError
from .video import decode, to_luma

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".y4m", ".webm", ".nut"}


class Regions(Protocol):
    """What the judge needs of any region source (the regions of interest need only `mask`)."""

    source: str  # what the regions are, for the report (e.g. "boxes regions/a.json")

    def mask(self, index: int, width: int, height: int) -> np.ndarray:
        """bool (height, width): the judged pixels of frame `index` at that size (empty: frame not judged)."""

    def frames(self) -> list[int]:
        """Indices of the frames that have a region."""

    def key(self) -> str:
        """Identifies the regions' content (cache keys of judged points)."""


@dataclass
class BoxRegions:
    """Boxes per frame index as (x, y, w, h) in the pixels of a width x height frame."""

    width: int
    height: int
    boxes: dict[int, list[tuple[float, float, float, float]]]
    source: str = "boxes"

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

    def key(self) -> str:
        data = json.dumps([self.width, self.height, sorted(self.boxes.items())])
        return hashlib.sha256(data.encode()).hexdigest()[:24]


def _box(value, where: str) -> tuple[float, float, float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 4 and all(isinstance(v, (int, float)) for v in value)):
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
        width, height, tracks = int(data["width"]), int(data["height"]), list(data["tracks"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PreanalysisError(f'regions file {path} is not region JSON ({exc}): write {{"width", "height", '
                               '"tracks": [{"id", "boxes": {"FRAME": [x, y, w, h]}}]}') from None
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
    return BoxRegions(width, height, boxes, f"boxes {path.name}")


def _csv_regions(path: Path, width: int, height: int) -> BoxRegions:
    boxes: dict[int, list] = {}
    with path.open(newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if not row or row[0].strip().lower() in ("frame", "") or row[0].lstrip().startswith("#"):
                continue
            try:
                frame, box = int(row[0]), _box([float(v) for v in row[1:5]], f"{path} line {line}")
            except ValueError:
                raise PreanalysisError(f"{path} line {line}: expected frame,x,y,w,h[,id], got {','.join(row)}") from None
            boxes.setdefault(frame, []).append(box)
    return BoxRegions(width, height, boxes, f"boxes {path.name}")


class MaskRegions:
    """Regions as one boolean mask per frame index (a mask video, or the median-foreground judge)."""

    def __init__(self, masks: list[np.ndarray], source: str):
        self._masks, self.source = masks, source

    def mask(self, index: int, width: int, height: int) -> np.ndarray:
        if index >= len(self._masks):
            return np.zeros((height, width), bool)
        m = self._masks[index]
        if m.shape[1] in (width, width + 1) and m.shape[0] in (height, height + 1):  # the encoder's even crop
            return m[:height, :width]
        return cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)

    def frames(self) -> list[int]:
        return [i for i, m in enumerate(self._masks) if m.any()]

    def key(self) -> str:
        h = hashlib.sha256()
        for m in self._masks:
            h.update(np.packbits(m).tobytes() + str(m.shape).encode())
        return h.hexdigest()[:24]


def mask_video(path: Path) -> MaskRegions:
    """Regions from a mask video, every frame in memory at its own size (the judge's use): luma > 127 is inside."""
    return MaskRegions([grey_levels(d.frame) > 127 for d in decode(path)], f"mask video {path.name}")


class MaskVideoStream:
    """A mask video read as frames are asked for, in order (the analysis' use: a long mask video is never held
    in memory); asking for an earlier frame than the last decodes again from the start."""

    def __init__(self, path: Path):
        self.path, self.source = path, f"mask video {path.name}"
        self._frames, self._index, self._last = None, -1, None

    def mask(self, index: int, width: int, height: int) -> np.ndarray:
        if self._frames is None or index < self._index:
            self._frames, self._index, self._last = iter(decode(self.path, index)), index - 1, None
        while self._index < index:
            d = next(self._frames, None)
            if d is None:  # the mask video is shorter than the clip: no region on the frames after it
                return np.zeros((height, width), bool)
            self._index, self._last = d.index, d.frame
        grey = cv2.resize(grey_levels(self._last), (width, height), interpolation=cv2.INTER_AREA)
        return grey > 127


def load_region_file(path: str | Path, width: int, height: int, stream: bool = False
                     ) -> BoxRegions | MaskRegions | MaskVideoStream:
    """Regions from JSON tracks, CSV boxes (in width x height pixels, the clip's) or a mask video (stream: read
    as asked for, see MaskVideoStream)."""
    path = Path(path)
    if not path.is_file():
        raise PreanalysisError(f"regions file {path} does not exist: give a .json, .csv or mask video")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_regions(path)
    if suffix == ".csv":
        return _csv_regions(path, width, height)
    if suffix in VIDEO_SUFFIXES:
        return MaskVideoStream(path) if stream else mask_video(path)
    raise PreanalysisError(f"regions file {path}: use .json (tracks), .csv (frame,x,y,w,h[,id]) or a mask video "
                           f"({', '.join(sorted(VIDEO_SUFFIXES))})")


def grey_levels(frame) -> np.ndarray:
    """Full-size luma in grey levels 0-255 (any pixel format, odd sizes too)."""
    return to_luma(frame, (frame.width, frame.height)) * np.float32(255)

"""An independent judge: quality inside regions the user supplies (gaze maps, hand-drawn boxes, a detector
they trust), never the product's own mask, so a mask cannot grade itself (`preanalysis eval --regions`).

Region files, one per clip:
- JSON, tracks with key boxes (hand annotation: draw a box every few frames, the frames between are
  interpolated linearly; a track exists from its first to its last key frame):
    {"width": 640, "height": 272,            # the frame size the boxes were drawn on (scaled to the clip)
     "tracks": [{"id": "cyclist", "boxes": {"110": [x, y, w, h], "140": [x, y, w, h]}}]}
- CSV, one box per line, no interpolation: frame,x,y,w,h[,id] (a header line is allowed), in the clip's pixels.
- A mask video (any format PyAV decodes): luma above half scale is inside; frame i judges frame i.
- `median-foreground` instead of a file, for a static camera: the pixels far from the clip's temporal median
  (what moves past the camera), found independently of any analyser.  Meaningless for a moving camera.
Frames are paired by index (decode order), never by timestamp; frame 0 is the first frame evaluated.  A frame
without a region is not scored.  Only PSNR-Y is measured inside regions: VMAF's features (VIF, detail loss,
motion) are pooled over whole frames by libvmaf, and a masked VMAF would be a new metric, not VMAF.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from preanalysis.analysers.centre import CENTRE_SIGMA
from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.video import decode, probe, to_luma

from .regions import masked_psnr

MEDIAN = "median-foreground"  # the --regions value that asks for the static-camera judge
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".y4m", ".webm", ".nut"}


class Regions(Protocol):
    """What the judge needs of any region source."""

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
    """Regions from a mask video: luma > 127 is inside."""
    return MaskRegions([_grey(d.frame) > 127 for d in decode(path)], f"mask video {path.name}")


def median_foreground(path: str | Path, frames: int | None = None, threshold: float = 25.0) -> MaskRegions:
    """Regions of a static-camera clip: pixels more than `threshold` grey levels (after a 5x5 blur) from the
    temporal median of its first `frames` frames, opened and dilated by 5x5 (people walking past a fixed
    camera).  Meaningless for a moving camera: the median is then a blur of the scene."""
    lumas = [cv2.GaussianBlur(_grey(d.frame), (5, 5), 0) for d in decode(path, 0, frames)]
    if not lumas:
        raise PreanalysisError(f"no frames decoded from {path}: check the input")
    median = np.median(np.array(lumas), axis=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    masks = []
    for y in lumas:
        far = (np.abs(y - median) > threshold).astype(np.uint8)
        masks.append(cv2.dilate(cv2.morphologyEx(far, cv2.MORPH_OPEN, kernel), kernel) > 0)
    return MaskRegions(masks, MEDIAN)


def load_regions(spec: str | Path, width: int, height: int, clip: str | Path | None = None,
                 frames: int | None = None) -> Regions:
    """Regions from JSON tracks, CSV boxes (in width x height pixels), a mask video, or `median-foreground`
    (computed from `clip`'s first `frames` frames)."""
    if str(spec) == MEDIAN:
        if clip is None:
            raise PreanalysisError(f"{MEDIAN} needs the clip it is computed from")
        return median_foreground(clip, frames)
    path = Path(spec)
    if not path.is_file():
        raise PreanalysisError(f"regions file {path} does not exist: give a .json, .csv, mask video or {MEDIAN}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_regions(path)
    if suffix == ".csv":
        return _csv_regions(path, width, height)
    if suffix in VIDEO_SUFFIXES:
        return mask_video(path)
    raise PreanalysisError(f"regions file {path}: use .json (tracks), .csv (frame,x,y,w,h[,id]), a mask video "
                           f"or {MEDIAN}")


def regions_for_inputs(items: Sequence[str], inputs: Sequence[str | Path], names: Sequence[str]) -> dict[str, str]:
    """`--regions CLIP=FILE` values -> {report name: FILE}; CLIP is an input as given, its file name or its
    report name (the file stem)."""
    out: dict[str, str] = {}
    for item in items:
        clip, sep, spec = item.rpartition("=")
        match = [n for p, n in zip(inputs, names) if clip in (str(p), Path(p).name, n)]
        if not sep or not spec:
            raise PreanalysisError(f"--regions {item!r} must look like CLIP=FILE (e.g. bikes=bikes_people.json)")
        if len(match) != 1:
            raise PreanalysisError(f"--regions {item!r}: {clip!r} is not one of the inputs "
                                   f"({', '.join(names)}): name the clip as given, by file name or by stem")
        if match[0] in out:
            raise PreanalysisError(f"--regions names clip {match[0]!r} twice: give one regions file per clip")
        out[match[0]] = spec
    return out


def judges_for(inputs: Sequence[Path], names: Sequence[str], items: Sequence[str], frames: int | None) -> dict:
    """The user's regions per clip name from `--regions CLIP=FILE` values, loaded (checked) before any encode."""
    paths = dict(zip(names, inputs))
    judges = {}
    for clip, spec in regions_for_inputs(items, inputs, names).items():
        info = probe(paths[clip])
        judges[clip] = load_regions(spec, info.width, info.height, paths[clip], frames)
    return judges


def judged_psnr(reference: str | Path, encoded: str | Path, regions: Regions, frames: int | None = None) -> np.ndarray:
    """PSNR-Y inside the regions for each frame of the encode (the reference's first `frames`, all when None);
    NaN where a frame has no region.  Reference and encode are paired by frame index and guarded (eval.pairing)."""
    out, _ = masked_psnr(reference, encoded, regions.mask, frames)
    if frames is not None and len(out) != frames:
        raise PreanalysisError(f"only {len(out)} of {frames} frames decoded from {encoded} or {reference}: "
                               "evaluate as many frames as both files hold (--frames)")
    return out


def _grey(frame) -> np.ndarray:
    """Full-size luma in grey levels 0-255 (any pixel format, odd sizes too)."""
    return to_luma(frame, (frame.width, frame.height)) * np.float32(255)


def mean_judged(values: np.ndarray) -> float:
    """Mean over the frames that have a region; NaN when none has."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def coverage(qp: Sequence[QpMap], regions: Regions) -> dict[str, float]:
    """Where the map put its bits against the judged regions, on the encoder's block grid, mean over frames:
    judged_share (of the frame judged), protected_share (blocks with a negative QP offset: more bits),
    protected_covers_judged (judged area inside protected blocks; frames with a region), and
    centre_prior_share (of the protected blocks, the share the centre prior alone would have picked: the same
    number of blocks ranked by the `centre` analyser's Gaussian)."""
    judged, protected, covers, centre = [], [], [], []
    for i, q in enumerate(qp):
        rows, cols = q.offsets.shape
        block = q.block_size
        full = regions.mask(i, q.width, q.height).astype(np.float32)
        padded = np.zeros((rows * block, cols * block), np.float32)
        padded[: q.height, : q.width] = full
        share = padded.reshape(rows, block, cols, block).mean(axis=(1, 3))
        mask = q.offsets < 0
        protected.append(mask.mean())
        judged.append(full.mean())
        if full.any():
            covers.append(float((share * mask).sum() / share.sum()))
        if mask.any():
            y = ((np.arange(rows) + 0.5) * block / q.height - 0.5)[:, None]
            x = ((np.arange(cols) + 0.5) * block / q.width - 0.5)[None, :]
            prior = np.exp(-(y**2 + x**2) / (2 * CENTRE_SIGMA**2)).ravel()
            top = np.zeros(prior.size, bool)
            top[np.argsort(-prior, kind="stable")[: int(mask.sum())]] = True
            centre.append(float((top & mask.ravel()).sum() / mask.sum()))
    avg = lambda v: float(np.mean(v)) if v else float("nan")
    return {"judged_share": avg(judged), "protected_share": avg(protected), "protected_covers_judged": avg(covers),
            "centre_prior_share": avg(centre)}

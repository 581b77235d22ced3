"""An independent judge: quality inside regions the user supplies (gaze maps, hand-drawn boxes, a detector
they trust), never the product's own mask, so a mask cannot grade itself (`preanalysis eval --regions`).

Regions, one per clip: a region file (JSON tracks of key boxes, CSV boxes or a mask video:
preanalysis.region_files, the same files `--roi-file` steers the map with), or
- `median-foreground` instead of a file, for a static camera: the pixels far from the clip's temporal median
  (what moves past the camera), found independently of any analyser.  Meaningless for a moving camera.
Frames are paired by index (decode order), never by timestamp; frame 0 is the first frame evaluated.  A frame
without a region is not scored.  Only PSNR-Y is measured inside regions: VMAF's features (VIF, detail loss,
motion) are pooled over whole frames by libvmaf, and a masked VMAF would be a new metric, not VMAF.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from preanalysis.analysers.centre import CENTRE_SIGMA
from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.region_files import MaskRegions, Regions, grey_levels, load_region_file
from preanalysis.video import decode, probe

from .regions import masked_psnr

MEDIAN = "median-foreground"  # the --regions value that asks for the static-camera judge


def median_foreground(path: str | Path, frames: int | None = None, threshold: float = 25.0) -> MaskRegions:
    """Regions of a static-camera clip: pixels more than `threshold` grey levels (after a 5x5 blur) from the
    temporal median of its first `frames` frames, opened and dilated by 5x5 (people walking past a fixed
    camera).  Meaningless for a moving camera: the median is then a blur of the scene."""
    lumas = [cv2.GaussianBlur(grey_levels(d.frame), (5, 5), 0) for d in decode(path, 0, frames)]
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
    if not Path(spec).is_file():
        raise PreanalysisError(f"regions file {spec} does not exist: give a .json, .csv, mask video or "
                               f"{MEDIAN}")
    return load_region_file(spec, width, height)


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

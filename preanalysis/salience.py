"""Salience: a weighted combination of the analysers' maps plus user regions of interest -> 0..255 mask.

The score is normalised by the weights' own range (not per frame), so the same content gives the same
mask in every frame and QPs do not flicker.  Negative weights mean "fewer bits where this map is high".
Content evidence (people, faces, text) is combined differently ("evidence"): each pixel takes its strongest
weighted map, so a detected person marks its own extent at its own weight however many maps are weighted,
and a prior (the centre) decides only where there is no evidence: the protected region is as large as the
evidence, not a fixed share of the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import Roi
from .errors import PreanalysisError
from .qpmap import BLOCK  # full-resolution pixels of an encoder block (salience.grow counts these)

TOP_FRACTION = 0.2  # normalise "top": the share of the frame marked salient (eval scores the same top fifth)
PRIORS = ("centre", "spectral")  # where viewers look when the content evidence says nothing (normalise evidence)


def combine(
    maps: dict[str, np.ndarray],
    weights: dict[str, float],
    rois: list[Roi] = (),
    frame_index: int = 0,
    scale: float = 1.0,
    normalise: str = "weights",
    grow: int = 0,
    prior: str = "pixel",
    roi_score: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 mask at the maps' resolution; scale = full-resolution pixels per map pixel (for ROI rectangles);
    roi_score: the user's region files' weights at the maps' resolution, added like the rectangles.

    normalise="weights" maps the weights' own range to 0..255 (stable over time, but a frame's mask often
    spans only a third of it); "rank" uses each pixel's rank in the frame, so the top 20% of the mask is
    exactly the most salient fifth of the frame and the allocator sees full contrast; "top" marks only that
    fifth (1 inside, 0 elsewhere), so bits go to it and the rest of the frame pays evenly (salience objective);
    "evidence" takes each pixel's largest weighted map over the largest weight (weights must be >= 0), the
    evidence (every map but the PRIORS) grown by `grow` encoder blocks, the priors counted everywhere
    (prior="pixel") or only in a frame with no evidence as strong as the prior in any block (prior="frame").
    """
    active = {k: w for k, w in weights.items() if w != 0}
    missing = sorted(set(active) - set(maps))
    if missing:
        raise PreanalysisError(f"salience weight names map {missing[0]!r} but no analyser produced it")
    shape = next(iter(maps.values())).shape if maps else getattr(roi_score, "shape", None)
    if shape is None:
        raise PreanalysisError("salience needs at least one map: weight a map or give a region of interest file")
    score = np.zeros(shape, np.float32)
    if normalise == "evidence":
        if any(w < 0 for w in active.values()):
            raise PreanalysisError("salience normalise evidence takes weights >= 0: give the negative ones 0")
        return _with_rois(evidence_score(maps, active, scale, grow, prior, shape), rois, frame_index, scale, roi_score)
    for name, w in active.items():
        score += np.float32(w) * maps[name]
    low = sum(min(w, 0.0) for w in active.values())
    high = sum(max(w, 0.0) for w in active.values())
    if normalise == "rank":
        score = rank_normalise(score)
    elif normalise == "top":
        score = (rank_normalise(score) > 1 - TOP_FRACTION).astype(np.float32)
    else:
        score = (score - low) / (high - low) if high > low else np.full(shape, 0.5, np.float32)
    return _with_rois(score, rois, frame_index, scale, roi_score)


def evidence_score(maps: dict[str, np.ndarray], weights: dict[str, float], scale: float, grow: int,
                   prior: str, shape: tuple[int, int]) -> np.ndarray:
    """normalise "evidence" (see combine): 0..1 float score.  Growing: a detector's ellipse or a motion blob
    stops short of the object's outline, and the blocks on the outline pay the positive offset."""
    evidence, priors = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for name, w in weights.items():
        target = priors if name in PRIORS else evidence
        np.maximum(target, np.float32(w) * maps[name], out=target)
    block = max(1, round(BLOCK / scale))  # analysis pixels per encoder block
    if grow > 0 and evidence.any():
        side = 2 * grow * block + 1
        evidence = cv2.dilate(evidence, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    if prior == "frame" and priors.any():
        h, w = shape
        blocks = cv2.resize(evidence, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
        if blocks.max() >= priors.max():  # the content says where to look: the prior stands aside
            priors[:] = 0
    return np.maximum(evidence, priors) / np.float32(max(weights.values(), default=1.0))


def _with_rois(score: np.ndarray, rois: list[Roi], frame_index: int, scale: float,
               roi_score: np.ndarray | None = None) -> np.ndarray:
    """The user's regions (rectangles, and region files' roi_score) added to a 0..1 score, as the uint8 mask."""
    if roi_score is not None:
        score = score + roi_score
    for roi in rois:
        if roi.active(frame_index):
            y0, x0 = int(roi.y / scale), int(roi.x / scale)
            y1, x1 = int(np.ceil((roi.y + roi.height) / scale)), int(np.ceil((roi.x + roi.width) / scale))
            score[y0:y1, x0:x1] += np.float32(roi.weight)
    return np.round(np.clip(score, 0, 1) * 255).astype(np.uint8)


def rank_normalise(score: np.ndarray) -> np.ndarray:
    """Each value's mid-rank in the frame as a fraction in [0, 1]; equal scores get equal ranks."""
    values, inverse, counts = np.unique(score.ravel(), return_inverse=True, return_counts=True)
    if len(values) == 1:
        return np.full(score.shape, 0.5, np.float32)
    mid = (np.cumsum(counts) - 0.5 * counts) / score.size
    return ((mid - mid[0]) / (mid[-1] - mid[0]))[inverse].reshape(score.shape).astype(np.float32)

"""Self-supervised moving-object labels for real clips: the pixels that move unlike the camera, consistently.

One frame pair's teacher flow minus a fitted camera model marks far too much on real video: flow is
unreliable in flat regions, at occlusions and where the lighting changes, and on a static camera sensor
noise and compression flicker read as motion.  So a pixel of frame t is labelled moving only when both its
neighbouring frames (t-1 and t+1) say so (motion seen in one noisy pair does not count).  One neighbour says
so where:

  - the teacher flow (DIS medium, full resolution) differs from the camera's motion by more than MOVING_PX
    full-resolution pixels.  The camera is an affine field fitted to the pixels that agree with it (started
    from the median flow), or no motion at all where that agrees with nearly as much of the frame (within
    STILL_MARGIN): a static camera is still, not a small affine drift fitted to its moving objects;
  - and the frames show it (evidence): moved by the camera alone, the neighbour differs from the frame by
    more than NOISE_SIGMAS x the pair's difference noise (after a gain and offset fitted over the frame:
    exposure and lighting ramps are not motion), and moved by the flow it matches EXPLAINED times better
    (occlusions and local lighting changes, which no motion explains, are not motion);
  - or the pixel is flat along its flow (moving it would change nothing visible, so the frames cannot tell)
    and joined to such evidence: the flat inside of a moving object moves with it.

Labels are made at label resolution (the frame scaled by a power of two to at most LABEL_WIDTH: cheap, and
compression noise averages out) and handed on at the networks' working resolution without specks.
On generated scenes with exact masks (tests/test_models_seg_static_temporal.py) they reach about 0.97
precision and 0.77 coverage, with noise, a panning camera and lighting ramps.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..morphology import filled, without_specks
from ..video import analysis_size
from .blocks import work_size
from .teacher import resize_flow, teacher_flow, warp

MOVING_PX = 1.0  # full-resolution pixels per frame of motion unlike the camera's
STILL_MARGIN = 0.1  # the camera is still unless its fitted motion agrees with 10% more of the frame
NOISE_SIGMAS = 1.5  # the 5x5 mean |difference| counts above this many sigmas of the pair's difference noise
#                    (noise alone gives 0.8 sigma, +-0.12)
MIN_DIFFERENCE = 3 / 255  # ... and above this (clean animation has next to no noise)
EXPLAINED = 2.0  # the flow must explain the difference at least this many times better than the camera
LABEL_WIDTH = 640
BOX = 5
REACH = 6  # label pixels: how far flat pixels moving with evidence join it


def _affine_field(coef: np.ndarray, w: int, h: int, step: int = 1) -> np.ndarray:
    """The affine field of coefficients `coef` (3, 2) on a w x h image, at every `step`-th pixel."""
    x = (np.arange(w, dtype=np.float32) / w)[None, ::step, None]
    y = (np.arange(h, dtype=np.float32) / h)[::step, None, None]
    return coef[0] + x * coef[1] + y * coef[2]


def _length(v: np.ndarray) -> np.ndarray:
    """|v| over the last axis (2): the same floats as np.linalg.norm(v, axis=-1), four times faster."""
    return np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


def camera_model(flow: np.ndarray, threshold: float) -> np.ndarray:
    """The camera's motion (h, w, 2): affine, refitted on the pixels within `threshold` of it, from the
    median flow; zero where no motion agrees with nearly as many pixels (STILL_MARGIN).  The fit looks at
    every `step`-th pixel only (so does the agreement it iterates on); the final choice at every pixel."""
    h, w = flow.shape[:2]
    step = max(1, min(h, w) // 48)
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    basis = np.stack([np.ones(xs.size), xs.ravel() / w, ys.ravel() / h], 1)
    sampled = flow[::step, ::step]
    agree = lambda f, model: _length(f - model) < threshold  # noqa: E731
    coef = np.zeros((3, 2), np.float32)
    coef[0] = np.median(sampled.reshape(-1, 2), axis=0)
    model = _affine_field(coef, w, h, step)
    for _ in range(4):
        keep = agree(sampled, model).ravel()
        if keep.sum() < 20:
            break
        fit, *_ = np.linalg.lstsq(basis[keep], sampled.reshape(-1, 2)[keep].astype(np.float64), rcond=None)
        coef = fit.astype(np.float32)
        model = _affine_field(coef, w, h, step)
    still = np.zeros_like(flow)
    model = _affine_field(coef, w, h)
    return still if agree(flow, still).mean() + STILL_MARGIN >= agree(flow, model).mean() else model


def _gain(cur: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """cur ~ a * ref + b over the frame, refitted on the better-agreeing half (moving pixels are outliers).
    Where the pixels fitted on are all of one level (a black frame, a letterbox, a flat card) there is no gain
    to fit, only the offset (the line fit does not converge there, or warns it is poorly conditioned)."""
    x, y = ref[::2, ::2].ravel().astype(np.float64), cur[::2, ::2].ravel().astype(np.float64)
    keep = np.ones(len(x), bool)
    for _ in range(3):
        flat = np.ptp(x[keep]) < 1 / 255
        a, b = (1.0, float(np.median(y[keep] - x[keep]))) if flat else np.polyfit(x[keep], y[keep], 1)
        r = np.abs(y - a * x - b)
        keep = r <= np.median(r)
    return float(a), float(b)


def moves_unlike_camera(cur: np.ndarray, other: np.ndarray, flow: np.ndarray, scale: float) -> np.ndarray:
    """bool (h, w): pixels of `cur` that one neighbouring frame `other` shows moving unlike the camera.
    cur, other: label-resolution luma in [0, 1]; flow = teacher_flow(cur, other) at label resolution;
    scale: full-resolution pixels per label pixel."""
    threshold = MOVING_PX / scale
    camera = camera_model(flow, threshold)
    residual = flow - camera
    moving = _length(residual) > threshold
    by_camera = warp(other, camera) if camera.any() else other.astype(np.float32)  # a still camera: the same
    a, b = _gain(cur, by_camera)
    difference = cur - (a * by_camera + b)
    floor = max(MIN_DIFFERENCE, NOISE_SIGMAS * 1.4826 * float(np.median(np.abs(difference))))
    box = lambda image: cv2.blur(image, (BOX, BOX))  # noqa: E731
    by_camera = box(np.abs(difference))
    by_flow = box(np.abs(cur - (a * warp(other, flow) + b)))
    evidence = moving & (by_camera > floor) & (EXPLAINED * by_flow < by_camera)
    gx = cv2.Sobel(cur, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(cur, cv2.CV_32F, 0, 1, ksize=3) / 8
    flat = box(np.abs(gx * residual[..., 0] + gy * residual[..., 1])) < floor  # motion there shows nothing
    near = cv2.dilate(evidence.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * REACH + 1,) * 2)) > 0
    return evidence | (moving & flat & (by_camera <= floor) & near)


def label_frames(full: np.ndarray, frames: list[int] | range | None = None) -> np.ndarray:
    """Labels (len(frames), h, w) float32 in {0, 1} at working resolution for frames of `full` (T, H, W
    full-resolution luma in [0, 1]; default frames 1..T-1), each checked against t-1 and t+1 (t-1 and t-2
    for the last frame; a two-frame clip has one pair)."""
    n = len(full)
    frames = range(1, n) if frames is None else frames
    h, w = full.shape[1:]
    size = analysis_size(w, h, LABEL_WIDTH)
    scale = w / size[0]
    small = lambda k: full[k] if size == (w, h) else cv2.resize(full[k], size, interpolation=cv2.INTER_AREA)  # noqa: E731
    work = work_size(w, h)  # the networks' input size for these frames
    out = []
    for t in frames:
        moving = None
        for k in [k for k in (t - 1, t + 1, t - 2) if 0 <= k < n][:2]:
            m = moves_unlike_camera(small(t), small(k), resize_flow(teacher_flow(full[t], full[k]), size), scale)
            moving = m if moving is None else moving & m
        out.append(without_specks(cv2.resize(filled(moving).astype(np.float32), work, interpolation=cv2.INTER_AREA) > 0.5))
    return np.stack(out).astype(np.float32)

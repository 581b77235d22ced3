"""Motion-compensated temporal pre-filter (MCTF): each frame averaged with its flow-aligned neighbours.

Why this design (BASELINES.md): on noisy sources a filter that aligns t±1 and t±2 by optical flow and weights
each aligned neighbour by how well it matches saved 7-11% VMAF BD-rate against x264 with AQ off, while every
filter lost on clean sources.  So `auto` (preanalysis.prefilter) scales the strength with the measured source noise σ (off below
SIGMA_OFF), and a neighbour only counts where its local mismatch is what noise explains: occlusions, scene cuts and flow errors get
weight 0 and the frame is left as it is there.

Per pixel: out = (F + Σ w_k·P_k) / (1 + Σ w_k), P_k = neighbour k warped onto F,
w_k = strength · BASE[|k|] · exp(-GAMMA · max(e_k / 2σ² - 1, 0)), e_k = local mean of (P_k - F)² on luma.
Flow is DIS on the luma at half resolution (the area downscale halves the noise the flow sees).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import av
import cv2
import numpy as np

from .errors import PreanalysisError
from .video import DecodedFrame

SIGMA_OFF, SIGMA_FULL = 2.5, 4.0  # auto strength ramps from 0 to 1 between these noise levels (8-bit units)
SIGMA_FRAMES = 5  # frames the source noise is measured on
RADIUS = 2  # neighbours t-2 .. t+2
BASE = {1: 0.4, 2: 0.24}  # weight of a perfectly matching neighbour at distance 1, 2 (full strength)
GAMMA = 4.0  # how fast a neighbour's weight falls once its mismatch exceeds what noise explains
WINDOW = 3  # side of the box over which the mismatch is measured (luma pixels)


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkær's fast noise estimate in 8-bit units, for luma in [0, 1] at the resolution it was captured."""
    y = luma.astype(np.float64) * 255
    if min(y.shape) < 3:
        return 0.0
    lap = (y[:-2, :-2] - 2 * y[:-2, 1:-1] + y[:-2, 2:] - 2 * y[1:-1, :-2] + 4 * y[1:-1, 1:-1]
           - 2 * y[1:-1, 2:] + y[2:, :-2] - 2 * y[2:, 1:-1] + y[2:, 2:])
    return float(np.sqrt(np.pi / 2) * np.abs(lap).mean() / 6)


def auto_strength(sigma: float) -> float:
    """0 on clean sources (where every temporal filter measured a loss), 1 from SIGMA_FULL up."""
    return float(np.clip((sigma - SIGMA_OFF) / (SIGMA_FULL - SIGMA_OFF), 0, 1))


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Y, U, V of a frame as float32 in [0, 1] (converted to 8-bit 4:2:0); an odd last column or row is dropped,
    as the encoder drops it (4:2:0 needs even sides)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    w, h = frame.width - frame.width % 2, frame.height - frame.height % 2
    out = []
    for plane, (pw, ph) in zip(frame.planes, ((w, h), (w // 2, h // 2), (w // 2, h // 2))):
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:ph, :pw].astype(np.float32) / 255)
    return out


def to_frame(yuv: list[np.ndarray], like: av.VideoFrame) -> av.VideoFrame:
    """8-bit yuv420p frame from float planes, with the timing of `like`."""
    h, w = yuv[0].shape
    out = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(out.planes, yuv):
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        rows[:, : plane.width] = np.clip(np.rint(data * 255), 0, 255).astype(np.uint8)
    out.pts, out.time_base = like.pts, like.time_base
    return out


def source_sigma(frames: list[DecodedFrame]) -> float:
    """Noise of a source: median Immerkær σ of the Y planes of its first frames (8-bit units)."""
    return float(np.median([noise_sigma(planes(d.frame)[0]) for d in frames]))


class _Frame:
    """A frame's planes plus the half-resolution 8-bit luma its flows are computed on."""

    def __init__(self, decoded: DecodedFrame):
        self.decoded = decoded
        self.yuv = planes(decoded.frame)
        y = self.yuv[0]
        half = cv2.resize(y, (max(y.shape[1] // 2, 1), max(y.shape[0] // 2, 1)), interpolation=cv2.INTER_AREA)
        self.half = np.clip(np.rint(half * 255), 0, 255).astype(np.uint8)


def _aligned(cur: _Frame, other: _Frame, dis) -> list[np.ndarray]:
    """`other`'s planes warped onto `cur` by DIS flow computed at half resolution."""
    from .models.teacher import resize_flow, warp  # lazily: it pulls in torch, which loading a config must not

    flow = dis.calc(cur.half, other.half, None)
    return [warp(plane, resize_flow(flow, (plane.shape[1], plane.shape[0]))) for plane in other.yuv]


def filter_frame(cur: _Frame, neighbours: dict[int, _Frame], strength: float, sigma: float, dis) -> list[np.ndarray]:
    """The MCTF of one frame from its neighbours (distance -> frame); σ in [0, 1] units."""
    var2 = 2 * max(sigma, 0.5 / 255) ** 2
    num = [p.copy() for p in cur.yuv]
    den = np.ones_like(cur.yuv[0])
    for distance, other in neighbours.items():
        warped = _aligned(cur, other, dis)
        err = cv2.blur((warped[0] - cur.yuv[0]) ** 2, (WINDOW, WINDOW))
        w = strength * BASE[abs(distance)] * np.exp(-GAMMA * np.maximum(err / var2 - 1, 0))
        w_c = cv2.resize(w, (cur.yuv[1].shape[1], cur.yuv[1].shape[0]), interpolation=cv2.INTER_AREA)
        for i, (plane, weight) in enumerate(zip(warped, (w, w_c, w_c))):
            num[i] += weight * plane
        den += w
    den_c = cv2.resize(den, (cur.yuv[1].shape[1], cur.yuv[1].shape[0]), interpolation=cv2.INTER_AREA)
    return [num[0] / den, num[1] / den_c, num[2] / den_c]


def mctf_frames(decoded_frames: Iterable[DecodedFrame], strength: float = 1.0) -> Iterator[DecodedFrame]:
    """The same frames (index, pts, time) filtered, 8-bit 4:2:0, at strength 0..1 (0 passes them through); the
    noise σ that scales the mismatch test is measured on the first SIGMA_FRAMES frames."""
    if not (isinstance(strength, (int, float)) and 0 <= strength <= 1):
        raise PreanalysisError(f"MCTF strength {strength!r} is not valid: use a number in 0..1")
    rest = iter(decoded_frames)
    first = list(itertools.islice(rest, SIGMA_FRAMES))
    if not first:
        return
    if strength == 0:
        yield from itertools.chain(first, rest)
        return
    sigma = source_sigma(first)
    s = float(strength)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    buffer: dict[int, _Frame] = {}  # frames t-RADIUS .. t+RADIUS around the next one to emit

    def emit(t: int) -> DecodedFrame:
        cur = buffer[t].decoded
        near = {k - t: buffer[k] for k in range(t - RADIUS, t + RADIUS + 1) if k != t and k in buffer}
        return DecodedFrame(cur.index, cur.pts, cur.time, to_frame(filter_frame(buffer[t], near, s, sigma / 255, dis), cur.frame))

    emitted = 0
    for i, d in enumerate(itertools.chain(first, rest)):
        buffer[i] = _Frame(d)
        if i - RADIUS >= emitted:  # the frame RADIUS back now has all its neighbours
            yield emit(emitted)
            buffer.pop(emitted - RADIUS, None)
            emitted += 1
    while emitted in buffer:
        yield emit(emitted)
        emitted += 1

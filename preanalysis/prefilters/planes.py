"""A frame's planes as float arrays and back: what the pre-filters compute on (8-bit 4:2:0, [0, 1])."""

from __future__ import annotations

import av
import numpy as np


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

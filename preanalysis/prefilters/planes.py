"""A frame's planes as float arrays and back: what the pre-filters compute on (8-bit 4:2:0, [0, 1])."""

from __future__ import annotations

import av
import numpy as np

from ..errors import PreanalysisError


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Y, U, V of a frame as float32 in [0, 1] (converted to 8-bit 4:2:0)."""
    if frame.width % 2 or frame.height % 2:
        raise PreanalysisError(f"the pre-filter needs even frame sides, got {frame.width}x{frame.height}:"
                               " crop or scale the video to even sides")
    yuv = frame.to_ndarray(format="yuv420p").astype(np.float32) / 255
    h, w = frame.height, frame.width
    return [yuv[:h], yuv[h:h + h // 4].reshape(h // 2, w // 2), yuv[h + h // 4:].reshape(h // 2, w // 2)]


def to_frame(yuv: list[np.ndarray], like: av.VideoFrame) -> av.VideoFrame:
    """8-bit yuv420p frame from float planes, with the timing of `like`."""
    h, w = yuv[0].shape
    data = np.concatenate([yuv[0], yuv[1].reshape(h // 4, w), yuv[2].reshape(h // 4, w)])
    out = av.VideoFrame.from_ndarray(np.clip(np.rint(data * 255), 0, 255).astype(np.uint8), format="yuv420p")
    out.pts, out.time_base = like.pts, like.time_base
    return out

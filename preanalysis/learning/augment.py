"""What real footage does to frames that a moving-object mask must not follow: sensor noise, lighting
changes, compression (a real x264 re-encode, not a blur standing in for one) and a camera that does not
move at all.  Training draws from these so a network learns that none of them is an object."""

from __future__ import annotations

import io

import av
import cv2
import numpy as np

COMPRESSION_CRFS = (30, 40)  # x264 re-encodes at working resolution: visible blocking and flicker at 40


def noisy(frames: np.ndarray, rng: np.random.Generator, max_sigma: float = 6 / 255) -> np.ndarray:
    """Gaussian sensor noise of one random sigma, drawn afresh for every frame."""
    sigma = rng.uniform(0, max_sigma)
    return np.clip(frames + rng.normal(0, sigma, frames.shape), 0, 1).astype(np.float32)


def relit(frames: np.ndarray, rng: np.random.Generator, max_gain: float = 0.15, max_offset: float = 0.05,
          ) -> np.ndarray:
    """A different brightness gain and offset for every frame (auto exposure, flicker, a light going on)."""
    n = len(frames)
    gain = 1 + rng.uniform(-max_gain, max_gain, n)[:, None, None]
    offset = rng.uniform(-max_offset, max_offset, n)[:, None, None]
    return np.clip(frames * gain + offset, 0, 1).astype(np.float32)


def compressed(frames: np.ndarray, crf: int) -> np.ndarray:
    """The frames (T, H, W, luma in [0, 1]) after an x264 encode at `crf` and a decode (ultrafast preset,
    4:2:0; odd sizes are padded and cropped back)."""
    n, h, w = frames.shape
    pad = ((0, 0), (0, h % 2), (0, w % 2))
    luma = np.pad(np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8), pad, mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = luma.shape[2], luma.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast", "threads": "1"}
        for plane in luma:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(plane, format="gray").reformat(format="yuv420p")))
        out.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer, "r", format="h264") as src:
        decoded = [f.to_ndarray(format="gray") for f in src.decode(video=0)]
    if len(decoded) != n:
        raise RuntimeError(f"x264 round trip gave {len(decoded)} frames for {n}")
    return (np.stack(decoded)[:, :h, :w].astype(np.float32) / 255).astype(np.float32)


def still_camera(frame: np.ndarray, n: int, rng: np.random.Generator, max_shift: float = 0.5) -> np.ndarray:
    """n views of one frame by a camera that does not move: at most a sub-pixel tremor (the mount, the
    resampling) between them; nothing in them moves."""
    h, w = frame.shape
    out = []
    for _ in range(n):
        dx, dy = rng.uniform(-max_shift, max_shift, 2)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(frame, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out).astype(np.float32)

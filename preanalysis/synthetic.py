"""Generated clips with known ground truth (moving objects over a panning textured background).

Used by tests (exact masks and motion), by the demo when no real clip is installed, and as training data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .io import atomic_output


@dataclass
class Scene:
    frames: np.ndarray  # uint8 (n, h, w, 3) RGB
    masks: np.ndarray  # bool (n, h, w): pixels of moving objects
    pan: tuple[float, float]  # background motion in pixels per frame (dx, dy)


def texture(rng: np.random.Generator, h: int, w: int, smooth: float) -> np.ndarray:
    """Smoothed noise in [0, 1]: natural-looking detail at a chosen scale."""
    noise = rng.random((h, w)).astype(np.float32)
    out = cv2.GaussianBlur(noise, (0, 0), smooth)
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def moving_objects(
    width: int = 320,
    height: int = 192,
    frames: int = 24,
    objects: int = 2,
    pan: tuple[float, float] = (1.0, 0.0),
    noise_sigma: float = 0.0,
    seed: int = 0,
) -> Scene:
    """Textured squares moving across a panning textured background."""
    rng = np.random.default_rng(seed)
    margin = int(abs(pan[0]) * frames + abs(pan[1]) * frames) + 8
    bg = texture(rng, height + 2 * margin, width + 2 * margin, 3.0)
    bg_rgb = np.stack([bg * 0.8 + 0.1, bg * 0.6 + 0.2, 1.0 - bg * 0.7], axis=2)
    sprites = []
    for _ in range(objects):
        size = int(rng.integers(height // 6, height // 3))
        tex = texture(rng, size, size, 1.5)
        color = rng.random(3) * 0.6 + 0.3
        pos = np.array([rng.uniform(0, width - size), rng.uniform(0, height - size)])
        vel = rng.uniform(-4, 4, 2)
        vel += np.sign(vel) * 1.5  # never (almost) still
        sprites.append((size, tex[..., None] * 0.5 + color * 0.5, pos, vel))
    out = np.empty((frames, height, width, 3), np.uint8)
    masks = np.zeros((frames, height, width), bool)
    for t in range(frames):
        ox, oy = margin + pan[0] * t, margin + pan[1] * t
        shift = np.float32([[1, 0, -ox], [0, 1, -oy]])
        img = cv2.warpAffine(bg_rgb, shift, (width, height), flags=cv2.INTER_LINEAR)
        for size, spr, pos, vel in sprites:
            x, y = pos + vel * t
            x, y = int(round(x)) % (width - size), int(round(y)) % (height - size)
            img[y : y + size, x : x + size] = spr
            masks[t, y : y + size, x : x + size] = True
        if noise_sigma:
            img = img + rng.normal(0, noise_sigma / 255, img.shape).astype(np.float32)
        out[t] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return Scene(out, masks, pan)


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: int = 25, pix_fmt: str = "yuv420p") -> Path:
    """Write RGB uint8 frames losslessly enough for tests: .y4m raw, .mkv FFV1, .mp4 x264 at QP 0."""
    path = Path(path)
    codec = {".y4m": "rawvideo", ".mkv": "ffv1", ".mp4": "libx264"}.get(path.suffix)
    if codec is None:
        raise ValueError(f"write_video supports .y4m, .mkv and .mp4, not {path.suffix}")
    frames = iter(frames)
    first = next(frames)
    with atomic_output(path) as tmp:
        with av.open(str(tmp), "w", format="yuv4mpegpipe" if codec == "rawvideo" else None) as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = first.shape[1], first.shape[0], pix_fmt
            if codec == "libx264":
                stream.options = {"qp": "0", "preset": "ultrafast"}
            for i, rgb in enumerate(_chain(first, frames)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
                frame.pts, frame.time_base = i, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
    return path


def _chain(first, rest):
    yield first
    yield from rest

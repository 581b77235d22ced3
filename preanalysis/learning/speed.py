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

from .. import video
from ..analysers.base import ANALYSERS, LEARNED, load_learned
from ..config import Config, from_dict, with_overrides
from ..errors import PreanalysisError
from ..pipeline import analyser_names, analyze
from .models import flow_motion as backbone
from . import zoo


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
    """The networks the product runs per frame: segment-level ones (the VMAF teacher, x264 encodes inside) are
    timed on their own."""
    for name in LEARNED:
        load_learned(name)
    return [n for n in LEARNED if not ANALYSERS[n].segment_level]


def learned_config(only: list[str] | None = None) -> Config:
    """Every learned map weighted, the salience mask stabilised: the product path with all networks on."""
    names = only or learned_analysers()
    for name in names:
        load_learned(name)  # learned analysers register on first import
    maps = [m for name in names for m in ANALYSERS[name].maps]
    # allocate.sensitivity the student's map: the default's teacher is segment-level, timed on its own
    return from_dict(Config, {"salience": {"weights": {m: 0.5 for m in maps}}, "analysis": {"stabilise": True},
                              "allocate": {"sensitivity": "sensitivity"}})


def analysis_fps(path: Path, max_width: int = 480, warmup: int = 3, only: list[str] | None = None) -> dict:
    """fps of preanalysis.pipeline.analyze (decode, every learned analyser, salience, stabiliser, allocation)
    over the whole file, the first `warmup` frames (model loading, first passes) excluded.  Allocated per
    frame: under a segment budget frames come out when their segment closes, all at once on a short clip,
    and the clock (started at the warm-up-th frame out) would measure nothing."""
    config = with_overrides(learned_config(only), {"analysis.max_width": max_width, "allocate.segment": "frame",
                                                   "allocate.verify": False})
    count, t0 = 0, None
    for _ in analyze(path, config):
        count += 1
        if count == warmup:
            t0 = time.perf_counter()
    seconds = time.perf_counter() - t0
    t1, n = time.perf_counter(), sum(1 for _ in video.frames(path, max_width))
    decode_fps = n / (time.perf_counter() - t1)
    return {"fps": (count - warmup) / seconds, "decode_only_fps": decode_fps, "frames": count,
            "analysers": analyser_names(config) + ["stabilise"], "threads": torch.get_num_threads()}


def speed_source(clips: list[Path]) -> Path:
    """The clip the speed is measured on: the largest given (bigbuckbunny of the shipped three)."""
    if not clips:
        raise PreanalysisError("the speed measurement needs a clip: give one")
    return max(clips, key=_pixels)


def _pixels(clip: Path) -> int:
    info = video.probe(clip)
    return info.width * info.height


def measure(clips: list[Path], heights: tuple[int, ...] = (720, 1080), count: int = 150, threads: int = 2,
            only: list[str] | None = None) -> dict:
    """fps at each source height (the largest of `clips`, scaled), with the machine's load noted beside them,
    and the networks' batched throughput at 1080p (batches 1/8/32 on CUDA, 1/8 on the CPU)."""
    torch.set_num_threads(threads)
    source = speed_source(clips)
    result = {"device": str(backbone.engine().device), "cpu_count": os.cpu_count(), "source": str(source),
              "load_average_before": round(os.getloadavg()[0], 2)}  # a shared, busy CPU lowers these numbers
    with tempfile.TemporaryDirectory() as tmp:
        for h in heights:
            result[f"{h}p"] = analysis_fps(scaled_clip(source, h, count, Path(tmp)), only=only)
    cuda = torch.cuda.is_available()
    result["networks_1080p"] = network_fps(1080, (1, 8, 32) if cuda else (1, 8))  # the GPU figure
    return result


@torch.inference_mode()
def network_fps(height: int = 1080, batches: tuple[int, ...] = (1, 8, 32), device: str = "auto",
                steps: int = 8, warmup: int = 2) -> dict:
    """Frames per second of the learned networks alone on B streams stepped together: every network takes
    frame t of all B streams in one batch, recurrent state kept per stream — how a GPU runs many channels.
    Decode, the OpenCV/numpy glue (alignment, resizing), salience and allocation are not counted."""
    from .blocks import work_size
    from .teacher import warp_torch
    from .weights import pick_device

    dev = pick_device(device)
    w, h = video.analysis_size(height * 16 // 9, height, 480)
    ww, wh = work_size(w, h)
    models = {name: zoo.model(name)(device=dev) for name in zoo.MODELS}
    flow_net, predictor, segment, static, refine = (
        models[name].net for name in ("flow_motion", "predicted_motion", "objects", "static", "stabilise"))
    generator = torch.Generator(device="cpu").manual_seed(0)
    result = {"device": str(dev), "analysis_size": [w, h], "work_size": [ww, wh], "networks_only": True}
    for b in batches:
        rand = lambda *shape: torch.rand(*shape, generator=generator).to(dev)
        frames = [rand(b, 1, h, w) for _ in range(3)]
        seg_in, static_in, work = rand(b, 5, wh, ww), rand(b, 7, wh, ww), rand(b, 1, wh, ww)
        sigma, mask = torch.full((b,), 2 / 255, device=dev), rand(b, 1, h, w)
        prev_feats, prev_flow, state, stable = flow_net.features(frames[0]), None, None, mask
        temporal_state = models["predictability"].infer()
        for i in range(warmup + steps):
            if i == warmup:
                _synchronise(dev)
                t0 = time.perf_counter()
            cur = frames[(i + 1) % 3]
            feats = flow_net.features(cur)
            flow = backbone.crop_grid(flow_net.flow(feats, prev_feats), (h, w))
            feat = backbone.crop_grid(feats[1], (h, w))
            prev_flow = flow if prev_flow is None else prev_flow
            state = predictor.initial_state(flow) if state is None else state
            _, state = predictor.step(feat, flow, prev_flow, state, backbone.crop_grid(prev_feats[1], (h, w)))
            segment(seg_in), static(static_in), temporal_state.feed(work, sigma)
            stable = refine(mask, warp_torch(stable, backbone.analysis_flow(flow, (h, w))), cur, frames[i % 3], flow)
            prev_feats, prev_flow = feats, flow
        _synchronise(dev)
        result[f"batch_{b}"] = round(b * steps / (time.perf_counter() - t0), 1)
    return result


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()

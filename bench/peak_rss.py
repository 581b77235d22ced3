"""Peak memory of `analyze` and `eval` on one clip at 1x and 10x its length: flat memory means the ratio
stays near 1 (frames are streamed; only per-frame maps, a few hundred bytes each, grow with length).

    PYTHONPATH=. python bench/peak_rss.py [--width 640 --height 360 --frames 48 --times 10]

The clip is generated (moving textured objects over a panning background, FFV1), 10x being the 1x frames
played forward, backward, forward...; each command runs in a process of its own and its peak RSS is the
largest of that process and everything it started (libvmaf's ffmpeg included), from wait4().
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preanalysis.learning.scenes import moving_objects, write_video


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB of the command's process tree, seconds)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "preanalysis.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    stderr = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"preanalysis {' '.join(args)} failed:\n{stderr[-2000:]}")
    return usage.ru_maxrss / 1024, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--frames", type=int, default=48, help="frames of the 1x clip")
    p.add_argument("--times", type=int, default=10, help="length of the long clip, in 1x clips")
    args = p.parse_args()
    scene = moving_objects(args.width, args.height, args.frames, objects=3, pan=(1.5, 0.5), seed=7).rgb
    tmp = Path(tempfile.mkdtemp(prefix="peak-rss-"))
    try:
        clips = {}
        for times in (1, args.times):
            passes = (scene if k % 2 == 0 else scene[::-1] for k in range(times))
            clips[times] = write_video(itertools.chain.from_iterable(passes), tmp / f"clip_{times}x.mkv")
        commands = {
            "analyze": lambda clip, out: ["analyze", clip, "-o", out / "maps.npz"],
            "eval": lambda clip, out: [
                "eval",
                clip,
                "-o",
                out / "report",
                "--crf",
                "22",
                "32",
                "--baseline",
                "aq-mode=1",
                "--preset",
                "veryfast",
                "--jobs",
                "1",
            ],
        }
        print(
            f"clip {args.width}x{args.height}, {args.frames} frames (1x) and"
            f" {args.frames * args.times} frames "
            f"({args.times}x); peak RSS of the process tree"
        )
        print(
            f"{'command':<10}{'1x MB':>10}{f'{args.times}x MB':>10}{'ratio':>8}"
            f"{'1x s':>8}{f'{args.times}x s':>8}"
        )
        for name, make in commands.items():
            row = []
            for times, clip in clips.items():
                out = tmp / f"{name}_{times}"
                out.mkdir()
                row.append(peak_rss_mb([str(a) for a in make(clip, out)]))
            (m1, s1), (m10, s10) = row
            print(f"{name:<10}{m1:>10.0f}{m10:>10.0f}{m10 / m1:>8.2f}{s1:>8.1f}{s10:>8.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How much a config's QP map moves between consecutive frames: per clip and mean, the mean |dQP| of a block,
the share of blocks whose offset changes, and the share that jumps by 3 QP or more (detail that breathes).
Also the mean |dQP| within frames: each frame's mean offset taken out first, so a frame-level QP step (a segment
budget's temporal masking moves whole frames) is told apart from blocks that breathe against their neighbours.

    python bench/salience_candidates/flicker.py NAME=CONFIG[,NAME=CONFIG...] CLIP... [--frames 60]
"""

from __future__ import annotations

import argparse

import numpy as np

from preanalysis.config import load_config
from preanalysis.pipeline import analyze

JUMP = 3  # QP steps between consecutive frames that count as a jump


def flicker(clip: str, config, frames: int) -> tuple[float, float, float, float]:
    q = np.stack([fa.qp.offsets.astype(np.int16) for fa in analyze(clip, config, 0, frames)])
    d = np.abs(np.diff(q, axis=0))
    within = np.abs(np.diff(q - q.mean(axis=(1, 2), keepdims=True), axis=0))
    return float(d.mean()), float((d > 0).mean()), float((d >= JUMP).mean()), float(within.mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("configs")
    p.add_argument("clips", nargs="+")
    p.add_argument("--frames", type=int, default=60)
    args = p.parse_args()
    for item in args.configs.split(","):
        name, _, path = item.partition("=")
        rows = []
        for clip in args.clips:
            rows.append(flicker(clip, load_config(path), args.frames))
            print(f"{name} {clip.split('/')[-1]}: |dQP| {rows[-1][0]:.3f}  changing {rows[-1][1]:.3f}  "
                  f"jumping {rows[-1][2]:.3f}  within frames {rows[-1][3]:.3f}", flush=True)
        mean = np.mean(rows, axis=0)
        print(f"{name} MEAN: |dQP| {mean[0]:.3f}  changing {mean[1]:.3f}  jumping {mean[2]:.3f}  "
              f"within frames {mean[3]:.3f}", flush=True)


if __name__ == "__main__":
    main()

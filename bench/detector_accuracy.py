"""A content analyser's map against hand-drawn regions (docs/results.md, "People, faces and text detectors"):

    PYTHONPATH=. python bench/detector_accuracy.py CLIP REGIONS {faces|people|text|still_foreground} \
        [--max-width 480] [--frames N]          (REGIONS: a region file, or median-foreground)

Prints one JSON line: frames_found (share of annotated frames where the map > 0.5 covers > 30% of the
regions), coverage (mean covered share), precision (marked pixels inside the regions, all frames and annotated
frames only), marked_share, fps and x_dis (the analyser's time over DIS ultrafast flow's on the same frames, so
a busy machine still gives a usable ratio).  Frames are read as the pipeline reads them (analysis luma and the
source frame's Y plane, which the faces' small-face scan uses; scene cuts reset the analyser).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.judge import load_regions
from preanalysis import video
from preanalysis.analysers import ANALYSERS, AnalysisContext
from preanalysis.analysers.camera import dense_flow
from preanalysis.pipeline import SceneCutDetector


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("regions")
    p.add_argument("analyser", choices=["faces", "people", "text", "still_foreground"])
    p.add_argument("--max-width", type=int, default=480)
    p.add_argument("--frames", type=int, default=None, help="first N frames only (default: all)")
    args = p.parse_args()
    info = video.probe(args.clip)
    regions = load_regions(args.regions, info.width, info.height, clip=args.clip, frames=args.frames)
    analyser, cuts = ANALYSERS[args.analyser](), SceneCutDetector()
    annotated = set(regions.frames())
    prev, t_flow, t_an, n = None, 0.0, 0.0, 0
    cover, inside, marked, inside_ann, marked_ann = [], 0, 0, 0, 0
    size = video.analysis_size(info.width, info.height, args.max_width)
    for d in video.decode(args.clip, 0, args.frames):
        source = video.y_plane(d.frame)
        f = video.Frame(d.index, d.pts, d.time, video.shrink_luma(source, size))
        if cuts.is_cut(f.luma):
            analyser.reset()
            prev = None
        ctx = AnalysisContext(f.index, f.luma, prev, info.width / f.luma.shape[1], source=source)
        t0 = time.perf_counter()
        dense_flow(ctx)
        t1 = time.perf_counter()
        hit = analyser.process(ctx)[args.analyser] > 0.5
        t2 = time.perf_counter()
        t_flow, t_an, n = t_flow + t1 - t0, t_an + t2 - t1, n + 1
        truth = regions.mask(f.index, hit.shape[1], hit.shape[0])
        marked, inside = marked + hit.sum(), inside + (hit & truth).sum()
        if f.index in annotated:
            cover.append((hit & truth).sum() / max(1, truth.sum()))
            marked_ann, inside_ann = marked_ann + hit.sum(), inside_ann + (hit & truth).sum()
        prev = f.luma
    result = {
        "clip": Path(args.clip).name,
        "analyser": args.analyser,
        "size": list(f.luma.shape[::-1]),
        "frames": n,
        "coverage": round(float(np.mean(cover)), 3),
        "frames_found": round(float(np.mean(np.array(cover) > 0.3)), 3),
        "precision_all": round(float(inside / max(1, marked)), 3),
        "precision_annotated": round(float(inside_ann / max(1, marked_ann)), 3),
        "marked_share": round(float(marked / (n * hit.size)), 4),
        "fps": round(n / t_an, 1),
        "x_dis": round(t_an / t_flow, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

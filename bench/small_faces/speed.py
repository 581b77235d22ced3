"""(PYTHONPATH=. python bench/small_faces/speed.py analyser before,srcS+-0.03-8 | preset srcS+-0.03-4,srcS+-0.03-8)
Analyser CPU time per frame at 1080p (analysis 480x270), candidates interleaved with before; then
optionally the salience preset's analysis time, chosen vs before (i12e RULE.md)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[2])]
import accuracy as A
import faces_before
import scenes as S

from preanalysis.analysers import ANALYSERS, AnalysisContext, faces
from preanalysis.analysers.camera import dense_flow
from preanalysis.video import shrink_luma

CLIP = Path("/tmp/small_faces_face1080.mkv")


def scene():
    bg = S.background("natural", 60, 1920, 1080, seed=5)
    frames, _truth = S.paste(bg, *S.face_patch("single_face"), 0.04, seed=1)
    return frames


def analyser_time(name, ys):
    cls, src = A.configure(name)
    a, prev, cpu = cls(), None, 0.0
    for t, y in enumerate(ys):
        luma = shrink_luma(y, (480, 270))
        ctx = AnalysisContext(t, luma, prev, 4.0, source=y if src else None)
        if prev is not None:
            dense_flow(ctx)
        c0 = time.process_time()
        a.process(ctx)
        cpu += time.process_time() - c0
        prev = luma
    return cpu / len(ys)


def preset_time(use_before: bool) -> float:
    from preanalysis.config import load_config
    from preanalysis.pipeline import analyze

    ANALYSERS["faces"] = faces_before.Faces if use_before else faces.Faces
    faces_before.Faces.name, faces_before.Faces.maps = ("faces", ("faces",)) if use_before else ("faces_before", ("faces_before",))
    config = load_config("salience")
    c0, w0 = time.process_time(), time.perf_counter()
    n = sum(1 for _ in analyze(CLIP, config, 0, 60))
    return (time.process_time() - c0) / n, (time.perf_counter() - w0) / n


def main():
    what = sys.argv[1]
    if what == "analyser":
        frames = scene()
        ys = [S.gray(f) for f in frames]
        names = sys.argv[2].split(",")
        for p in range(2):
            res = {n: analyser_time(n, ys) for n in names}
            print(f"pass {p}:", {n: f"{v * 1000:.1f} ms ({v / res['before']:.2f}x)" for n, v in res.items()}, flush=True)
    else:
        if not CLIP.exists():
            from preanalysis.learning.scenes import write_video
            write_video(scene(), CLIP)
        names = sys.argv[2].split(",")
        for p in range(3):
            b = preset_time(True)
            for n in names:
                A.configure(n)
                c = preset_time(False)
                print(f"pass {p} {n}: before cpu {b[0]*1000:.0f} ms/frame wall {b[1]*1000:.0f}; chosen cpu {c[0]*1000:.0f} "
                      f"wall {c[1]*1000:.0f}; ratio cpu {c[0]/b[0]:.2f} wall {c[1]/b[1]:.2f}", flush=True)
            continue
            print(f"pass {p}: before cpu {b[0]*1000:.0f} ms/frame wall {b[1]*1000:.0f}; chosen cpu {c[0]*1000:.0f} "
                  f"wall {c[1]*1000:.0f}; ratio cpu {c[0]/b[0]:.2f} wall {c[1]/b[1]:.2f}", flush=True)


if __name__ == "__main__":
    main()

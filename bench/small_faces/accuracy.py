"""Small faces (issue 12, i12e): tracked recall per face size and false tracks, candidates vs `before`
(the analyser of main 5b3beaa, faces_before.py), on generated 1280x720 scenes (scenes.py); rule: RULE.md.

    PYTHONPATH=. python bench/small_faces/accuracy.py before,srcS+-0.03-8 OUT.json [--skip-free]
    python bench/small_faces/summary.py OUT.json          # the table in docs/results.md, "Small faces"

A candidate is the shipped code with SMALL_FACE_SHARE / SMALL_EVERY / SOURCE_ABOVE set and the source frame given
or not (`up-*`: the analysis luma enlarged).  The `src-*`/`srcS-*` rows of docs/results.md were measured on the
code of commit f8dacca (crops only around confirmed tracks); since 4da9fff the crops also confirm small
candidates (`srcS+-*`), so running a `srcS-*` name now measures the srcS+ code.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[2])]
import faces_before
import scenes as S

from preanalysis.analysers import AnalysisContext, faces
from preanalysis.analysers.camera import dense_flow
from preanalysis.video import shrink_luma

AW, AH = 320, 180
CANDIDATES = {  # name: (class, SMALL_FACE_SHARE, SMALL_EVERY, give source, SOURCE_ABOVE)
    "before": (faces_before.Faces, None, None, False, None),
    "up-0.03-2": (faces.Faces, 0.03, 2, False, 2.0),
    "src-0.03-2": (faces.Faces, 0.03, 2, True, 1.0),
    "srcS-0.03-2": (faces.Faces, 0.03, 2, True, 2.0),
    "srcS-0.04-2": (faces.Faces, 0.04, 2, True, 2.0),
    "srcS-0.03-3": (faces.Faces, 0.03, 3, True, 2.0),
    "srcS-0.03-4": (faces.Faces, 0.03, 4, True, 2.0),
    # after 18:32 the code's crops also confirm small candidates: srcS+ (the srcS rows above are the code before)
    "srcS+-0.03-4": (faces.Faces, 0.03, 4, True, 2.0), "srcS+-0.03-2": (faces.Faces, 0.03, 2, True, 2.0),
    "srcS+-0.03-8": (faces.Faces, 0.03, 8, True, 2.0),
}


def configure(name):
    cls, share, every, src, above = CANDIDATES[name]
    if share:
        faces.SMALL_FACE_SHARE, faces.SMALL_EVERY, faces.SOURCE_ABOVE = share, every, above
    return cls, src


def run(name, ys, truth=None):
    cls, src = configure(name)
    a = cls()
    prev, hits, fps, marked, cpu = None, [], [], [], 0.0
    for t, y in enumerate(ys):
        luma = shrink_luma(y, (AW, AH))
        ctx = AnalysisContext(t, luma, prev, y.shape[1] / AW, source=y if src else None)
        if prev is not None:
            dense_flow(ctx)
        c0 = time.process_time()
        m = a.process(ctx)[a.maps[0]] > 0.5
        cpu += time.process_time() - c0
        prev = luma
        k = y.shape[1] / AW
        tracks = a.tracker.confirmed()
        marked.append(m.mean())
        if truth is not None:
            x, yy, w, h = truth[t] / k
            box = np.zeros_like(m)
            box[int(yy) : int(np.ceil(yy + h)), int(x) : int(np.ceil(x + w))] = True
            if t >= 6:
                hits.append((m & box).sum() / box.sum() >= 0.3)
            cx, cy = x + w / 2, yy + h / 2
            false = [tr for tr in tracks if not (abs(tr.box[0] + tr.box[2] / 2 - cx) < 1.5 * w
                                                and abs(tr.box[1] + tr.box[3] / 2 - cy) < 1.5 * h)]
        else:
            false = tracks
        fps.append(len(false))
    return {"recall": float(np.mean(hits)) if hits else None, "fp": float(np.mean(fps)),
                "marked": float(np.mean(marked)), "cpu": cpu / len(ys)}


def main():
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else list(CANDIDATES)
    T = 30
    patches = {n: S.face_patch(n) for n in ("carphone", "single_face")}
    bgs = {k: S.background(k, T, seed=3) for k in ("screen", "natural")}
    out = {}
    for kind in (("screen", "natural", "board") if "--skip-free" not in sys.argv else ()):  # face-free
        ys = [S.gray(f) for f in (S.background(kind, 60, seed=9) if kind != "screen" else S.background(kind, 60))]
        for n in names:
            out[f"nofaces/{kind}/{n}"] = run(n, ys)
            print(kind, n, out[f"nofaces/{kind}/{n}"], flush=True)
    for share in (0.03, 0.04, 0.05, 0.06, 0.08, 0.12, 0.02):
        for fname, (patch, box) in patches.items():
            for kind, bg in bgs.items():
                frames, truth = S.paste(bg, patch, box, share, seed=int(share * 1000))
                ys = [S.gray(f) for f in frames]
                for n in names:
                    r = run(n, ys, truth)
                    out[f"{share}/{fname}/{kind}/{n}"] = r
                    print(share, fname, kind, n, r, flush=True)
    Path(sys.argv[2]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

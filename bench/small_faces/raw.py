"""Raw per-frame small-scan detection rate (no tracking) on the generated scenes, by scan parameters."""
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[2])]
import scenes as S

from preanalysis.analysers.faces import FRONTAL, load_cascade

c = load_cascade(FRONTAL)
patches = {n: S.face_patch(n) for n in ("carphone", "single_face")}
bgs = {k: S.background(k, 8, seed=3) for k in ("screen", "natural")}
free = [S.gray(f) for f in S.background("screen", 60)[::6]] + [S.gray(f) for f in S.background("natural", 60, seed=9)[::6]]
VARIANTS = [(1.0, 1.15, 3), (1.0, 1.1, 3), (1.0, 1.15, 2), (1.25, 1.15, 3), (1.5, 1.15, 3), (1.25, 1.1, 3), (1.5, 1.15, 2)]
S_MIN = float(sys.argv[1]) if len(sys.argv) > 1 else 0.03
for over, step, nb in VARIANTS:
    rows = round(over * 20 / S_MIN)
    hits, cpu, fp = {}, 0.0, 0
    for share in (0.03, 0.04, 0.05, 0.06, 0.08):
        got = []
        for (patch, box) in patches.values():
            for bg in bgs.values():
                frames, truth = S.paste(bg, patch, box, share, seed=int(share * 1000))
                for f, tb in zip(frames, truth):
                    y = S.gray(f)
                    k = rows / 720
                    img = cv2.equalizeHist(cv2.resize(y, (round(1280 * k), rows), interpolation=cv2.INTER_AREA))
                    c0 = time.process_time()
                    b, n = c.detectMultiScale2(img, step, nb, minSize=(20, 20), maxSize=(round(0.1 * rows * 1.15),) * 2)
                    cpu += time.process_time() - c0
                    b = np.asarray(b, float).reshape(-1, 4) / k
                    cx, cy = tb[0] + tb[2] / 2, tb[1] + tb[3] / 2
                    ok = [abs(x + w / 2 - cx) < tb[2] / 2 and abs(y_ + h / 2 - cy) < tb[3] / 2 for x, y_, w, h in b]
                    got.append(any(ok))
                    fp += len(ok) - sum(ok)
        hits[share] = np.mean(got)
    nf = 0
    for y in free:
        k = rows / 720
        img = cv2.equalizeHist(cv2.resize(y, (round(1280 * k), rows), interpolation=cv2.INTER_AREA))
        b, n = c.detectMultiScale2(img, step, nb, minSize=(20, 20), maxSize=(round(0.1 * rows * 1.15),) * 2)
        nf += len(b)
    print(f"rows {rows} step {step} nb {nb}: hit", {s: round(v, 2) for s, v in hits.items()},
          f"fp/frame (face scenes) {fp / 160:.2f} free {nf / len(free):.2f} cpu/scan {cpu / 160 * 1000:.0f} ms", flush=True)

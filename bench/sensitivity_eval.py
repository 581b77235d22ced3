"""The map's own contribution of the VMAF sensitivity teacher (both formulations) and of its learned student:
each mapped curve against the same encoder settings without a map, on clips none of them was fitted on.

    python bench/sensitivity_eval.py CLIP.y4m [...] --cache DIR [--frames 60] [--every 4] [--gain 1.5]

Variants (x264 medium, aq-mode=1:aq-strength=0.0 = own AQ off, mbtree on; CRF 22 27 32 37; libvmaf):
  without map   no QP map
  teacher       dQP = -gain (log2 w - frame mean), w = -dVMAF-NEG / dMSE from the clip's own CRF 27 -> 32
                encodes (learning.teacher_vmaf.teach, every `every`-th frame scored, held for the frames between)
  libaom        libaom tune=vmaf's blur formulation (teacher_vmaf.teach_aom / aom_offsets, gain 1)
  student       the shipped `sensitivity` preset (the student's map through the allocator)
Teacher and libaom offsets are rounded and re-centred under the no-map bits by allocate.recentre, as the
allocator does with the student's.  Prints BD-rate (VMAF / VMAF-NEG / PSNR-Y, %) of each against `without map`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from eval.bdrate import bd_rate
from eval.sweep import Cache, ClipAnalysis, PointSpec, Prober, SweepSettings, Variant, analyse_clip, file_hash
from preanalysis.allocate import block_complexity, recentre
from preanalysis.config import load_config
from preanalysis.learning import teacher_vmaf as T
from preanalysis.qpmap import QpMap
from preanalysis.video import probe

PARAMS = {"aq-mode": "1", "aq-strength": "0.0"}
METRICS = ("vmaf", "vmaf_neg", "psnr_y")


def budgeted(raw: np.ndarray, lumas: np.ndarray, width: int, height: int) -> list[QpMap]:
    """Float offsets per frame -> integer QpMaps whose predicted bits stay at the no-map bits."""
    out = []
    for q, y in zip(raw, lumas):
        c = block_complexity(y, width, height)
        out.append(QpMap(recentre(q, c, -6, 6), width, height))
    return out


def neutral_chroma(source_frames):
    """source_frames with chroma set to 128: a diagnosis of what the teacher loses by seeing luma only."""

    def frames(*args, **kwargs):
        out = T.yuv_frames(np.stack([T.luma_of(f) for f in source_frames(*args, **kwargs)]))
        for i, f in enumerate(out):
            f.pts = i
        return out

    return frames


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", type=Path)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--gain", type=float, default=1.5)
    p.add_argument("--variants", default="teacher,libaom,student")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--config", default="sensitivity", help="the student's config (default: the preset)")
    p.add_argument("--neutral-chroma", action="store_true",
                   help="the teacher's own encodes get neutral chroma (what an analyser, which sees luma, can code)")
    args = p.parse_args()
    if args.neutral_chroma:
        T.source_frames = neutral_chroma(T.source_frames)
    torch.set_num_threads(1)
    cache = Cache(args.cache)
    settings = SweepSettings(frames=args.frames, jobs=args.jobs)
    prober = Prober(settings, cache)
    student_config = load_config(args.config)
    results = {}
    for path in args.clips:
        info, h = probe(path), file_hash(path)
        region = analyse_clip(path, load_config(None), args.frames, cache, h)  # salient region: the default's
        grid = region.qp[0].offsets.shape
        lumas = np.stack([T.luma_of(f).astype(np.float32) / 255
                          for f in T.source_frames(path, 0, args.frames, (info.width, info.height))])
        maps: dict[str, list[QpMap] | None] = {"without map": None}
        for v in args.variants.split(","):
            if v == "teacher":
                t = T.teach(path, 0, args.frames, every=args.every, metrics=("neg",), cache=args.cache / "teach")
                if t.size != (info.width, info.height):
                    raise SystemExit(f"{path}: teacher measured at {t.size}, clip is {info.width}x{info.height}")
                raw = T.offsets(T.log_ratio(-t.dv["neg"], t.dmse), args.gain)
                maps["teacher"] = budgeted(raw, lumas, info.width, info.height)
            elif v == "libaom":
                kept = args.cache / "teach" / f"{path.stem}_aom.npz"
                if not kept.is_file():
                    dv, mse, size = T.teach_aom(path, 0, args.frames, every=args.every)
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    np.savez(kept, dv=dv, mse=mse, size=np.array(size))
                dv, mse = np.load(kept)["dv"], np.load(kept)["mse"]
                raw = T.aom_offsets(dv, mse, grid)
                maps["libaom"] = budgeted(raw, lumas, info.width, info.height)
            elif v == "student":
                maps["student"] = analyse_clip(path, student_config, args.frames, cache, h).qp
        curves = {}
        for name, qp in maps.items():
            variant = Variant(name, PARAMS, student_config if qp is not None else None)
            analysis = ClipAnalysis(qp or [], region.salience, region.salience_key + name)
            specs = [PointSpec(path, path.stem, h, info, variant, crf, analysis) for crf in settings.crfs]
            curves[name] = prober.points(specs)
        anchor = curves["without map"]
        row = {}
        for name, pts in curves.items():
            if name == "without map":
                continue
            sd = float(np.mean([np.std(q.offsets) for q in maps[name]]))
            row[name] = {m: bd_rate([a.bitrate_kbps for a in anchor], [getattr(a, m) for a in anchor],
                                    [b.bitrate_kbps for b in pts], [getattr(b, m) for b in pts]) for m in METRICS}
            row[name]["offsets_sd"] = sd
            print(f"{path.stem:10s} {name:8s} " + " / ".join(f"{row[name][m]:+.2f}" for m in METRICS)
                  + f"   (offsets sd {sd:.2f})", flush=True)
        results[path.stem] = row
    names = sorted({n for r in results.values() for n in r})
    for name in names:
        vals = [r[name] for r in results.values() if name in r]
        print(f"{'mean':10s} {name:8s} " + " / ".join(f"{np.mean([v[m] for v in vals]):+.2f}" for m in METRICS))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

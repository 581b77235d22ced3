"""Salience candidates side by side on the same clips, judged inside the user's regions (`eval --regions`).

The numbers per candidate are those `preanalysis eval --config CANDIDATE --baseline B --regions ...` reports
for the mapped encode against B (judged BD-PSNR-Y, full-frame VMAF BD-rate, coverage), but every candidate is
swept against one shared baseline: the own-mask region metrics come from one fixed config for all of them
(--region-config, default the `salience` preset of issue 12's first round, evidence_strength0.75.yaml), so the
baseline's points are encoded once and cached, not once per candidate.  Also prints each
candidate's protected precision (judged share of the protected blocks) and its analysis seconds.

    python bench/salience_candidates/compare.py CLIP... --regions CLIP=FILE... --frames 60 \
        --candidate shipped=salience --candidate objects=bench/salience_candidates/objects.yaml -o OUT
    (--coverage-only: analyses and coverage, no encodes)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from eval.judge import coverage, judges_for
from eval.report import summarise, write_report
from eval.sweep import Cache, SweepSettings, Variant, analyse_clip, clip_names, file_hash, parse_params, sweep
from preanalysis.config import load_config

BASELINE = "aq-mode=1:aq-strength=0.0"


def precision(qp, regions) -> float:
    """Judged share of the protected (negative-offset) blocks' area, mean over frames with protected blocks."""
    out = []
    for i, q in enumerate(qp):
        rows, cols = q.offsets.shape
        b = q.block_size
        padded = np.zeros((rows * b, cols * b), np.float32)
        padded[: q.height, : q.width] = regions.mask(i, q.width, q.height)
        share = padded.reshape(rows, b, cols, b).mean(axis=(1, 3))
        mask = q.offsets < 0
        if mask.any():
            out.append(float(share[mask].mean()))
    return float(np.mean(out)) if out else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+")
    p.add_argument("--regions", action="append", default=[])
    p.add_argument("--candidate", action="append", required=True, metavar="NAME=CONFIG")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--cache", required=True)
    p.add_argument("--coverage-only", action="store_true")
    p.add_argument("--region-config", default=str(Path(__file__).with_name("evidence_strength0.75.yaml")))
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    cache = Cache(args.cache)
    inputs = [Path(i) for i in args.inputs]
    names = clip_names(inputs)
    judges = judges_for(inputs, names, args.regions, args.frames)
    candidates = {n: load_config(c) for n, c in (item.split("=", 1) for item in args.candidate)}
    table = {}
    for name, config in candidates.items():
        for path, clip in zip(inputs, names):
            t0 = time.perf_counter()
            qp = analyse_clip(path, config, args.frames, cache, file_hash(path)).qp
            row = {"analysis_s": time.perf_counter() - t0, **coverage(qp, judges[clip]),
                   "protected_precision": precision(qp, judges[clip])}
            table.setdefault(name, {})[clip] = row
            print(name, clip, {k: round(v, 3) for k, v in row.items()}, flush=True)
    if not args.coverage_only:
        settings = SweepSettings("x264", "medium", (22, 27, 32, 37), args.frames, args.jobs)
        mapped = [Variant.full(n, parse_params(BASELINE), c, "x264") for n, c in candidates.items()]
        points = sweep(inputs, [Variant(BASELINE, parse_params(BASELINE))] + mapped, settings, cache,
                       load_config(args.region_config), judges)
        report = summarise(points, [BASELINE], [m.name for m in mapped], {"candidates": args.candidate})
        write_report(report, points, out)
        for name in candidates:
            for clip in names + ["mean"]:
                e = (report["clips"][clip] if clip != "mean" else report["mean"])["variants"][name][BASELINE]
                table[name].setdefault(clip, {}).update(judged_db=e["judged_psnr_gain_db"], vmaf_bd=e["bd_rate"]["vmaf"])
    (out / "candidates.json").write_text(json.dumps(table, indent=1))
    for name, rows in table.items():
        cells = [f"{c}: {r.get('judged_db', float('nan')):+.2f} / {r.get('vmaf_bd', float('nan')):+.2f}% "
                 f"cov {r.get('protected_covers_judged', float('nan')):.2f} prec {r.get('protected_precision', float('nan')):.2f}"
                 for c, r in rows.items()]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

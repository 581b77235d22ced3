"""`preanalysis eval INPUT... -o REPORT_DIR`: RD sweep of baselines vs the salience-mapped encode, BD-rates.

Besides the --baseline encodes, every sweep has the baseline `without map`: the mapped configuration's own
encoder settings and pre-filter with the map switched off, so report.json's mean.baselines["without map"] is
what the map alone contributes."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..config import Config, check_one_clip_regions, from_dict
from ..errors import PreanalysisError
from .options import add_config_options, config_from_args, warn_guard_encoder

HELP = "RD sweep: encode baselines and the mapped configuration at several CRFs, report VMAF BD-rates"
WITHOUT_MAP = "without map"  # always swept: the full configuration with the map off (issue 11)
log = logging.getLogger("preanalysis")


def add_arguments(p):
    from eval.encoder_defaults import EVAL_DEFAULTS, per_encoder

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="source clips (metrics are always against these)")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR",
                   help="folder for report.json, rd_points.csv and rd_<clip>.png")
    p.add_argument("--encoder", choices=tuple(EVAL_DEFAULTS), default="x264")
    p.add_argument("--preset", default="medium",
                   help="encoder preset (default medium, each encoder's own default; svtav1 -1..13, vp9 cpu-used 5..9)")
    p.add_argument("--crf", type=float, nargs="+", default=None,
                   help="CRFs of the sweep, >= 4 for pchip (default "
                        + per_encoder(lambda d: " ".join(f"{c:g}" for c in d.crfs)) + ")")
    p.add_argument("--baseline", action="append", default=None, metavar="PARAMS",
                   help="encoder params of a baseline without map, e.g. aq-mode=1; repeatable (default "
                        + per_encoder(lambda d: " and ".join(d.baselines)) + ")")
    p.add_argument("--map-params", default=None, metavar="PARAMS",
                   help="encoder params of the mapped encode (default " + per_encoder(lambda d: d.map_params) + ")")
    p.add_argument("--frames", type=int, default=None, help="first N frames of each clip (default: all)")
    p.add_argument("--ablation", action="store_true",
                   help="also sweep each weighted map alone (texture only, motion only, ...)")
    p.add_argument("--regions", action="append", default=[], metavar="CLIP=FILE",
                   help="judge each clip also inside regions of your own (hand boxes, gaze maps, a detector you trust), "
                        "never the map's own mask: FILE is .json tracks, .csv frame,x,y,w,h[,id], a mask video or "
                        "median-foreground (static cameras); CLIP an input, its file name or stem; repeatable, one "
                        "per clip (docs/usage.md)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel encodes/metrics (default: cores)")
    p.add_argument("--cache", metavar="DIR", help="cache of points and analyses (default REPORT_DIR/cache)")
    p.add_argument("--ffmpeg", metavar="PATH", help="ffmpeg with libvmaf (default $PREANALYSIS_FFMPEG or imageio-ffmpeg's)")
    add_config_options(p)


def ablation_variants(config: Config, map_params: dict[str, str], encoder: str) -> list:
    """Where the gain comes from: each weighted map alone, then (when the config has them) all maps without the
    encoder settings and pre-filter, the encoder settings alone, the pre-filter alone."""
    from eval.sweep import Variant

    out = []
    params = Variant.full("mapped", map_params, config, encoder).params  # the preset's params, --map-params over them
    combined = params != map_params or config.encode.prefilter != "off"
    weighted = {name: w for name, w in config.salience.weights.items() if w != 0}
    if len(weighted) > 1 or not combined:  # one map alone would repeat "maps only"
        for name, w in weighted.items():
            data = config.to_dict()
            data["salience"]["weights"] = {name: w}
            out.append(Variant(f"{name} only", map_params, from_dict(Config, data)))
    if combined:
        out.append(Variant("maps only", map_params, config))
    if params != map_params:
        out.append(Variant("encoder settings only", params))
    if config.encode.prefilter != "off":
        out.append(Variant("pre-filter only", map_params, None, config.encode.prefilter))
    return out


def sweep_variants(config: Config, baselines: list[str], map_params: dict[str, str], encoder: str,
                   ablation: bool) -> tuple[list, list]:
    """(baselines, mapped variants): the --baseline encodes and `without map` (the mapped configuration with
    the map off); `mapped` first, then the ablation's variants when asked for."""
    from eval.sweep import Variant, parse_params

    mapped = [Variant.full("mapped", map_params, config, encoder)]
    anchors = [Variant(b, parse_params(b)) for b in baselines] + [mapped[0].without_map(WITHOUT_MAP)]
    if ablation:
        mapped += ablation_variants(config, map_params, encoder)
    return anchors, mapped


def visual_sheets(inputs, clips, config, frames, cache, out: Path) -> dict:
    """Per clip: its RD curve and a contact sheet of the mapped analysis (salience, objects, QP grid, the guard's
    verdict), drawn from the sweep's cached analysis: the clip is not analysed (nor the guard run) again."""
    from eval.sweep import analyse_clip, file_hash
    from ..verify import run_verdict, verdict_text
    from ..visualize import write_contact_sheet

    allocate, plots = config.to_dict()["allocate"], {}
    for path, clip in zip(inputs, clips):
        a = analyse_clip(path, config, frames, cache, file_hash(path))
        drawn = lambda i, a=a: (a.salience[i], a.qp[i], None if a.ids is None else a.ids[i],
                                verdict_text(*run_verdict(a.guard, i), allocate))
        sheet = write_contact_sheet(path, drawn, len(a.qp), out / f"visual_{clip}.png")
        plots[clip] = {"rd_curve": f"rd_{clip}.png", "contact_sheet": sheet.name}
    return plots


def run(args) -> int:
    from eval.encoder_defaults import eval_defaults
    from eval.judge import judges_for
    from eval.report import summarise, write_report
    from eval.sweep import Cache, SweepSettings, clip_guard, clip_names, judged_coverage, parse_params, sweep

    config = config_from_args(args, args.encoder)
    check_one_clip_regions(config, args.inputs, "eval")
    warn_guard_encoder(config, args.encoder)
    defaults = eval_defaults(args.encoder)
    args.crf = args.crf or list(defaults.crfs)
    args.map_params = args.map_params or defaults.map_params
    if len(args.crf) < 2:
        raise PreanalysisError("--crf needs at least 2 values (4 for a pchip BD-rate, as every published table uses)")
    if args.frames is not None and args.frames < 1:
        raise PreanalysisError("--frames must be >= 1")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise PreanalysisError(f"report folder {out} is a file: give a folder path")
    out.mkdir(parents=True, exist_ok=True)
    baselines, mapped = sweep_variants(config, args.baseline or defaults.baselines, parse_params(args.map_params),
                                       args.encoder, args.ablation)
    settings = SweepSettings(args.encoder, args.preset, tuple(args.crf), args.frames, max(1, args.jobs), args.ffmpeg)
    cache = Cache(args.cache or out / "cache")
    inputs = [Path(p) for p in args.inputs]
    judges = judges_for(inputs, clip_names(inputs), args.regions, args.frames)
    t0 = time.perf_counter()
    points = sweep(args.inputs, baselines + mapped, settings, cache, config, judges)
    report = summarise(points, [b.name for b in baselines], [m.name for m in mapped], {
        "encoder": args.encoder, "preset": args.preset, "crfs": list(args.crf), "frames": args.frames,
        "map_params": args.map_params, "prefilter": config.encode.prefilter, "config": config.to_dict(), "inputs": [str(p) for p in args.inputs],
        "regions": args.regions,
    })
    for clip, judge in judges.items():
        path = inputs[clip_names(inputs).index(clip)]
        report["clips"][clip]["judge"] = {"source": judge.source,
                                          **judged_coverage(path, config, args.frames, cache, judge)}
    if config.allocate.verify:  # what the segment guard decided on each clip (from the cached analysis)
        for path, clip in zip(inputs, clip_names(inputs)):
            report["clips"][clip]["guard"] = clip_guard(path, config, args.frames, cache)
    report["plots"] = visual_sheets(inputs, clip_names(inputs), config, args.frames, cache, out)
    written = write_report(report, points, out)
    log.info("%d points (%d cached) in %.0f s -> %s", len(points), cache.hits, time.perf_counter() - t0,
             ", ".join(str(w) for w in written))
    for b, e in report["mean"]["baselines"].items():
        bd = e["bd_rate"]
        log.info("mapped vs %s: BD-rate VMAF %+.2f%%  VMAF-NEG %+.2f%%  PSNR-Y %+.2f%%  salient PSNR %+.2f dB%s",
                 b, bd["vmaf"], bd["vmaf_neg"], bd["psnr_y"], e["salient_psnr_gain_db"],
                 f"  judged PSNR {e['judged_psnr_gain_db']:+.2f} dB" if judges else "")
    return 0

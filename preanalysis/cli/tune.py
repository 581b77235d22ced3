"""`preanalysis tune INPUT... -o TUNED.yaml`: search salience weights, strength and offset range by VMAF BD-rate."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import yaml

from ..config import check_one_clip_regions
from ..errors import PreanalysisError
from ..io import atomic_write_text, check_output_path
from .options import add_config_options, config_from_args

HELP = "tune salience weights / allocation per title by measured VMAF BD-rate (Optuna TPE, few probe encodes)"
log = logging.getLogger("preanalysis")


def add_arguments(p):
    from eval.encoder_defaults import EVAL_DEFAULTS, per_encoder

    from ..config import SALIENCE_VMAF_LIMIT

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="titles to tune on (one config for all of them)")
    p.add_argument("-o", "--output", required=True, metavar="TUNED.yaml", help="config file to write")
    p.add_argument("--encoder", choices=tuple(EVAL_DEFAULTS), default="x264")
    p.add_argument("--preset", default="medium",
                   help="encoder preset (default medium, each encoder's own default; svtav1 -1..13, vp9 cpu-used 5..9)")
    p.add_argument("--crf", type=float, nargs="+", default=None,
                   help="CRFs of each probe curve (default " + per_encoder(lambda d: " ".join(f"{c:g}" for c in d.crfs))
                        + ")")
    p.add_argument("--baseline", default=None, metavar="PARAMS",
                   help="encoder params of the anchor without map (default " + per_encoder(lambda d: d.anchor) + ")")
    p.add_argument("--map-params", default=None, metavar="PARAMS",
                   help="params of mapped probes (default " + per_encoder(lambda d: d.map_params) + ")")
    p.add_argument("--frames", type=int, default=60, help="probe segment: the first N frames of each title (60)")
    p.add_argument("--trials", type=int, default=16, help="probe configurations (default 16)")
    p.add_argument("--seed", type=int, default=0, help="TPE seed (default 0)")
    p.add_argument("--vmaf-limit", type=float, default=SALIENCE_VMAF_LIMIT, metavar="PERCENT",
                   help="objective salience: the VMAF BD-rate the map may cost on the probes before it is penalised "
                        f"(default {SALIENCE_VMAF_LIMIT:g}; lower it to leave a margin for unseen content)")
    p.add_argument("--maps", nargs="+", default=None, metavar="MAP",
                   help="maps whose weights are searched (default: those weighted in the config; objective salience "
                        "searches weights, in [0, 1], only of the maps named here)")
    p.add_argument("--regions", action="append", default=[], metavar="CLIP=FILE",
                   help="objective salience: score the PSNR-Y gain inside these regions (as `eval --regions`; give one "
                        "for every title) instead of inside the starting config's own salient region")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel probe encodes (default: cores)")
    p.add_argument("--cache", metavar="DIR", help="probe cache (default: TUNED.cache beside the output)")
    p.add_argument("--ffmpeg", metavar="PATH", help="ffmpeg with libvmaf")
    p.add_argument("--probe-metric", default="auto", choices=("auto", "libvmaf", "vmaf-torch"),
                   help="what scores the probes: auto = vmaf-torch on a CUDA GPU, else libvmaf; the tuned config is "
                        "re-measured with libvmaf whenever vmaf-torch was used")
    add_config_options(p)


def tuned_yaml(result, args, seconds: float) -> str:
    """The config as YAML, headed by what was measured (comments, so the file loads like any config)."""
    lines = [
        (f"# tuned by `preanalysis tune` on {', '.join(Path(i).name for i in args.inputs)} "
        f"(first {args.frames} frames, {args.encoder} {args.preset}, CRF {' '.join(f'{c:g}' for c in args.crf)})"),
        (f"# anchor: {args.baseline}; mapped encodes: {args.map_params}; {len(result.trials)} probe configs, "
        f"seed {args.seed}, {seconds:.0f} s"),
        f"# objective ({result.config.objective}): start {result.start_value:+.3f} -> tuned {result.value:+.3f}",
    ]
    for path, s0, s in zip(args.inputs, result.start_scores, result.scores):
        judged = (f", judged PSNR {s0['judged_psnr_gain_db']:+.2f} -> {s['judged_psnr_gain_db']:+.2f} dB"
                  if "judged_psnr_gain_db" in s else "")
        lines.append(f"# {Path(path).name}: VMAF BD-rate {s0['vmaf']:+.2f}% -> {s['vmaf']:+.2f}%, VMAF-NEG "
                     f"{s0['vmaf_neg']:+.2f}% -> {s['vmaf_neg']:+.2f}%, salient PSNR "
                     f"{s0['salient_psnr_gain_db']:+.2f} -> {s['salient_psnr_gain_db']:+.2f} dB{judged}")
    if result.check:
        lines.append("# probes scored by vmaf-torch; libvmaf re-measure of the tuned config: VMAF BD-rate "
                     + ", ".join(f"{Path(p).name} {s['vmaf']:+.2f}%" for p, s in zip(args.inputs, result.check["scores"]))
                     + f"; vmaf-torch off by {result.check['mean_abs_vmaf_difference']:.3f} VMAF per point "
                     f"(mean of {result.check['points']})")
    return "\n".join(lines) + "\n" + yaml.safe_dump(result.config.to_dict(), sort_keys=False)


def run(args) -> int:
    from eval.encoder_defaults import eval_defaults
    from eval.judge import judges_for
    from eval.sweep import Cache, Prober, SweepSettings, Variant, clip_names, parse_params
    from eval.tune import load_title, tune

    start = config_from_args(args, args.encoder)
    check_one_clip_regions(start, args.inputs, "tune")
    defaults = eval_defaults(args.encoder)
    args.crf = args.crf or list(defaults.crfs)
    args.baseline = args.baseline or defaults.anchor
    args.map_params = args.map_params or defaults.map_params
    out = check_output_path(args.output, *args.inputs)
    if args.frames < 2:
        raise PreanalysisError("--frames must be >= 2 for a probe segment")
    if len(args.crf) < 2:
        raise PreanalysisError("--crf needs at least 2 values (4 for a pchip BD-rate)")
    searched = args.maps or [m for m, w in start.salience.weights.items() if w != 0]
    if not searched:
        raise PreanalysisError("no maps to tune: give --maps texture motion ... or weights in the config")
    from eval.torch_metrics import probe_metric

    settings = SweepSettings(args.encoder, args.preset, tuple(args.crf), args.frames, max(1, args.jobs), args.ffmpeg,
                             probe_metric(args.probe_metric))
    cache = Cache(args.cache or out.with_suffix(".cache"))
    log.info("probes: %s, scored by %s", f"{args.encoder} {args.preset}, first {args.frames} frames", settings.metric)
    t0 = time.perf_counter()
    inputs = [Path(i) for i in args.inputs]
    names = clip_names(inputs)
    judges = judges_for(inputs, names, args.regions, args.frames)
    if judges and len(judges) != len(names):
        raise PreanalysisError(f"--regions names {len(judges)} of {len(names)} titles: give one for every title or none")
    titles = [load_title(p, n, start, searched, args.frames, judges.get(n)) for p, n in zip(inputs, names)]
    result = tune(titles, start, searched, Prober(settings, cache), Variant("anchor", parse_params(args.baseline)),
                  parse_params(args.map_params), args.trials, args.seed, args.vmaf_limit,
                  salience_weights=args.maps is not None)
    seconds = time.perf_counter() - t0
    atomic_write_text(out, tuned_yaml(result, args, seconds))
    log.info("tuned in %.0f s: objective %+.3f -> %+.3f; wrote %s", seconds, result.start_value, result.value, out)
    return 0

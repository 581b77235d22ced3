"""`preanalysis models report CLIP... --json OUT.json`: every learned model measured on real clips."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..errors import PreanalysisError
from ..io import atomic_write_text, check_output_path
from ..models import zoo

HELP = "evaluate the learned models on real clips (quality vs baselines, speed) and write a JSON report"
log = logging.getLogger("preanalysis")

# report key in the JSON -> model in the zoo
SECTIONS = {"motion": "motion", "prediction": "predictor", "segmentation": "segmentation", "static": "static",
            "temporal": "temporal", "stabilise": "stabilise"}


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("report", help="evaluate every model on the clips (held-out frames) and write JSON")
    r.add_argument("clips", nargs="+", type=Path, metavar="CLIP", help="real video clips")
    r.add_argument("--json", required=True, type=Path, metavar="OUT.json", help="report to write")
    r.add_argument("--only", default=",".join([*SECTIONS, "speed"]),
                   help=f"comma-separated sections (default: all of {', '.join(SECTIONS)}, speed)")
    r.add_argument("--skip-speed", action="store_true", help="leave out the 720p/1080p speed measurement")
    r.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")


def run(args) -> int:
    for clip in args.clips:
        if not clip.is_file():
            raise PreanalysisError(f"clip {clip} does not exist: give real video files")
    check_output_path(args.json, *args.clips)
    torch.set_num_threads(max(1, args.threads))
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS) - {"speed"})
    if unknown:
        raise PreanalysisError(f"--only {unknown[0]!r} is not a report section: use {', '.join(SECTIONS)} or speed")
    result: dict = {"clips": [str(c) for c in args.clips]}
    for section in wanted:
        if section == "speed":
            continue
        log.info("report: %s", section)
        try:
            result[section] = zoo.report(SECTIONS[section], args.clips)
        except PreanalysisError as exc:
            if "is not part of this install" not in str(exc):
                raise
            result[section] = {"error": str(exc)}
    if "speed" in wanted and not args.skip_speed:
        from ..models import speed

        log.info("report: speed")
        result["speed"] = speed.measure(args.clips, threads=max(1, args.threads))
    atomic_write_text(args.json, json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps({k: v.get("mean", v) if isinstance(v, dict) else v for k, v in result.items()}, indent=2, default=float))
    return 0

"""`preanalysis models report CLIP... --json OUT.json`: every learned model measured on real clips."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..errors import PreanalysisError
from ..io import atomic_write_text, check_output_path
from ..learning import zoo
from ..learning.data import clip_window

HELP = "evaluate the learned models on real clips (quality vs baselines, speed) and write a JSON report"
log = logging.getLogger("preanalysis")



def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("report", help="evaluate every model on the clips (held-out frames) and write JSON")
    r.add_argument("clips", nargs="+", type=Path, metavar="CLIP",
                   help="real video clips (their held-out tails), or PATH@START: the frames from START of a clip"
                        " never trained on")
    r.add_argument("--json", required=True, type=Path, metavar="OUT.json", help="report to write")
    r.add_argument("--only", default=",".join([*zoo.MODELS, "speed"]),
                   help=f"comma-separated sections (default: all of {', '.join(zoo.MODELS)}, speed; older model "
                        f"names {', '.join(zoo.ALIASES)} are accepted)")
    r.add_argument("--skip-speed", action="store_true", help="leave out the 720p/1080p speed measurement")
    r.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")


def run(args) -> int:
    paths = [clip_window(clip)[0] for clip in args.clips]
    for clip in paths:
        if not clip.is_file():
            raise PreanalysisError(f"clip {clip} does not exist: give real video files")
    check_output_path(args.json, *paths)
    torch.set_num_threads(max(1, args.threads))
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(zoo.MODELS) - set(zoo.ALIASES) - {"speed"})
    if unknown:
        raise PreanalysisError(f"--only {unknown[0]!r} is not a report section: use {', '.join(zoo.MODELS)} or speed")
    result: dict = {"clips": [str(c) for c in args.clips]}
    for section in dict.fromkeys(zoo.canonical(s) for s in wanted if s != "speed"):
        log.info("report: %s", section)
        result[section] = zoo.report(section, args.clips)
        if section == "predictability":  # what the learned pre-filter does to encodes (needs eval)
            from eval.temporal_report import encode_report

            encodes = encode_report(paths)  # keyed by the file's name; the report by the clip as given
            for clip, path in zip(args.clips, paths):
                result[section]["clips"][clip.name]["encode"] = encodes[path.name]
    if "speed" in wanted and not args.skip_speed:
        from ..learning import speed

        log.info("report: speed")
        result["speed"] = speed.measure(args.clips, threads=max(1, args.threads))
    atomic_write_text(args.json, json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps({k: v.get("mean", v) if isinstance(v, dict) else v for k, v in result.items()}, indent=2, default=float))
    return 0

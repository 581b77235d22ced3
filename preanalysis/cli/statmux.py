"""`preanalysis statmux CONFIG.yaml`: share one aggregate bitrate between channels by complexity and salience."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from ..statmux.run import StatmuxResult, load_statmux_config, run_statmux
from ..io import atomic_write_text

HELP = "allocate one aggregate bitrate over several channels, encode them, report per-channel VMAF vs an equal split"
log = logging.getLogger("preanalysis")


def add_arguments(p):
    p.add_argument("config", metavar="CONFIG.yaml",
                   help="channels: [{input: a.mp4}, ...], aggregate_kbps, output_dir (see docs/farm_and_channels.md)")
    p.add_argument("--no-equal-split", action="store_true", help="skip the equal-split comparison encodes")


def run(args) -> int:
    cfg = load_statmux_config(args.config)
    if args.no_equal_split:
        cfg.compare_equal_split = False
    result = run_statmux(cfg, progress=True)
    report = {"aggregate_kbps": cfg.aggregate_kbps, "window_seconds": cfg.window_seconds,
              "windows_kbps": result.windows_kbps,
              "statmux": {"channels": [dataclasses.asdict(r) for r in result.statmux],
                          **StatmuxResult.summary(result.statmux)}}
    if result.equal_split:
        report["equal_split"] = {"channels": [dataclasses.asdict(r) for r in result.equal_split],
                                 **StatmuxResult.summary(result.equal_split)}
    path = Path(cfg.output_dir) / "statmux.json"
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    for label in ("statmux", "equal_split"):
        if label not in report:
            continue
        for r in report[label]["channels"]:
            log.info("%-11s %-20s allocated %7.0f kbps  spent %7.0f kbps  VMAF %6.2f",
                     label, r["name"], r["allocated_kbps"], r["bitrate_kbps"], r["vmaf"])
        log.info("%-11s total %.0f kbps of %.0f; worst VMAF %.2f (%s)", label, report[label]["total_kbps"],
                 cfg.aggregate_kbps, report[label]["worst_vmaf"], report[label]["worst_channel"])
    log.info("report -> %s", path)
    return 0

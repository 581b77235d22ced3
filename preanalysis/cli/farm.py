"""`preanalysis farm JOB.yaml`: run a batch (many inputs, chunked at scene cuts) locally or on Ray; resumable."""

from __future__ import annotations

import logging

from ..farm import load_job, run_job

HELP = "run a batch job file on a local process pool or a Ray cluster (rerun the same command to resume)"
log = logging.getLogger("preanalysis")


def add_arguments(p):
    p.add_argument("job", metavar="JOB.yaml",
                   help="job file: inputs: [a.mp4, ...], output_dir: out/, produce: [maps] (see docs/farm_and_channels.md)")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes (overrides the job file)")
    p.add_argument("--ray-address", metavar="auto|ADDR|local",
                   help="run chunks as Ray tasks: 'auto' (the running cluster), 'ray://host:10001', or 'local' "
                   "(a private Ray on this machine)")
    p.add_argument("--retries", type=int, metavar="N", help="extra attempts per failing chunk (overrides the job file)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    job = load_job(args.job)
    for name in ("workers", "ray_address", "retries"):
        if getattr(args, name) is not None:
            setattr(job, name, getattr(args, name))
    job.__post_init__()  # re-validate the overrides
    report = run_job(job, progress=not args.no_progress)
    log.info("farm: %d output(s), %d chunk(s) run, %d resumed from the done-list, %.1f s on %s",
             len(report.outputs), report.chunks_run, report.chunks_resumed, report.seconds, report.backend or "-")
    for failure in report.failures:
        log.error("farm: FAILED %s", failure)
    return 1 if report.failures else 0

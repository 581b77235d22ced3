"""`preanalysis analyze INPUT -o MAPS.npz`: run the analysis and write the maps file."""

from __future__ import annotations

import logging
import time

from .. import video
from ..io import check_output_path
from ..maps import write_maps
from ..pipeline import analyze
from ..verify import candidate_gains, guard_runs, guard_summary
from .options import add_config_options, config_from_args, frame_stop

HELP = "analyse a video and write per-frame salience masks and QP offsets to an .npz"
log = logging.getLogger("preanalysis")


def add_arguments(p):
    p.add_argument("input", help="video file (anything FFmpeg decodes)")
    p.add_argument("-o", "--output", required=True, metavar="MAPS.npz", help="maps file to write")
    p.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    p.add_argument("--frames", type=int, default=None, help="number of frames (default: all)")
    add_config_options(p)


def run(args) -> int:
    stop = frame_stop(args)
    config = config_from_args(args)
    info = video.probe(args.input)
    out = check_output_path(args.output, args.input)
    t0 = time.perf_counter()
    verdicts = []  # the segment guard's verdict per frame, for the summary line

    def noted(frames):
        for fa in frames:
            verdicts.append((fa.guard, fa.guard_bd))
            yield fa

    count = write_maps(noted(analyze(args.input, config, start=args.start, stop=stop, progress=True)), out, info,
                       config.to_yaml())
    seconds = time.perf_counter() - t0
    log.info("analysed %d frames of %dx%d in %.1f s (%.1f fps) -> %s", count, info.width, info.height,
             seconds, count / seconds, out)
    runs = guard_runs(*zip(*verdicts)) if verdicts else None
    if summary := guard_summary(runs, candidate_gains(config.to_dict()["allocate"])):
        log.info("%s; per frame in the maps file (guard, guard_bd) and on `preanalysis visualize --maps` sheets",
                 summary)
    return 0

"""`preanalysis visualize INPUT -o OUT.mp4|DIR`: the video with salience, object ids and QP grid drawn on."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import video
from ..errors import PreanalysisError
from ..io import check_output_path
from ..maps import load_maps
from ..visualize import MODES, visual_frames, write_report
from .options import add_config_options, config_from_args, frame_stop

HELP = "render salience heatmap, object ids and QP-offset grid over the video (MP4 or PNG folder) + a contact sheet"
log = logging.getLogger("preanalysis")


def add_arguments(p):
    p.add_argument("input", help="video file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4|DIR",
                   help="an .mp4/.mkv/.mov video, or a folder for one PNG per frame; the contact sheet goes beside it")
    p.add_argument("--maps", metavar="MAPS.npz", help="draw these maps (from `preanalysis analyze`) instead of analysing")
    p.add_argument("--layout", choices=MODES, default="side",
                   help="side: source | salience + ids | QP grid; blend: all on the source (default side)")
    p.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    p.add_argument("--frames", type=int, default=None, help="number of frames (default: all)")
    p.add_argument("--sheet-frames", type=int, default=12, help="frames on the contact sheet (default 12)")
    add_config_options(p)


def run(args) -> int:
    info = video.probe(args.input)
    out = Path(args.output)
    if out.suffix.lower() in (".mp4", ".mkv", ".mov"):
        check_output_path(out, args.input)
    elif out.suffix:
        raise PreanalysisError(f"output {out} is neither a video (.mp4/.mkv/.mov) nor a folder: fix -o")
    stop = frame_stop(args)
    if args.sheet_frames < 1:
        raise PreanalysisError("--sheet-frames must be >= 1")
    maps = load_maps(args.maps) if args.maps else None
    if maps is not None and (maps.width, maps.height) != (info.width, info.height):
        raise PreanalysisError(f"maps are for {maps.width}x{maps.height} but {args.input} is "
                               f"{info.width}x{info.height}: give the maps of this video")
    config = None if maps is not None else config_from_args(args)
    total = len(maps) if maps is not None else info.frame_count
    count = max(0, min(total, stop or total) - args.start) or (args.frames or 1)
    frames = visual_frames(args.input, config=config, maps=maps, start=args.start, stop=stop)
    sheet, written = write_report(frames, out, count, args.layout, args.sheet_frames, info.fps)
    log.info("rendered %d frame(s) -> %s; contact sheet %s", written, out, sheet)
    return 0

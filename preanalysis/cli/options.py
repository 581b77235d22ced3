"""Options shared by subcommands, generated from the config dataclasses so the CLI cannot drift from the API."""

from __future__ import annotations

import argparse
import logging

from ..config import Config, Roi, RoiFile, for_encoder, load_config, scalar_fields, with_overrides
from ..errors import PreanalysisError

SHORT_FLAGS = {"encode.prefilter": "--prefilter", "allocate.segment": "--segment",
               "allocate.frame_qp_range": "--frame-qp-range", "allocate.temporal_gain": "--temporal-gain"}  # config fields everyone types: a short option
HELP = {"encode.prefilter": "pre-filter before the encoder: off, auto (MCTF following the measured source noise, off on "
                            "clean sources), mctf[:S], temporal[:S] (the learned filter); metrics stay against the "
                            "source (default auto)",
        "allocate.segment": "bit budget: frame (each frame keeps its no-map bits), scene, or gop (whole scenes of >= "
                            "--allocate-segment-frames frames): frames of a segment may trade bits (default gop)",
        "allocate.frame_qp_range": "how far a frame's mean QP offset may move within its segment (default 4)",
        "allocate.temporal_gain": "frame-level VMAF motion masking: QP offset per log2 step of motion2 (runs the "
                                  "temporal_masking analyser; needs --segment scene|gop; default 2, 0 = off)"}


def _flag(dotted: str) -> str:
    return SHORT_FLAGS.get(dotted) or "--" + dotted.replace(".", "-").replace("_", "-")


def frame_stop(args: argparse.Namespace) -> int | None:
    """The end of the frames --start and --frames ask for (None: to the end), after checking them: --frames 0 would
    otherwise read as "every frame"."""
    if args.start < 0 or (args.frames is not None and args.frames < 1):
        raise PreanalysisError("--start must be >= 0 and --frames >= 1 (leave --frames out for every frame)")
    return args.start + args.frames if args.frames else None


def add_config_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis config (a YAML file, then single values on top)")
    group.add_argument("--config", metavar="C.yaml|PRESET", help="YAML config (keys as in preanalysis.config), or a "
                       "shipped preset: default (efficiency, VMAF per bit), salience (protect the salient regions), "
                       "regions (protect the regions of --roi-file), sensitivity or vmaf-teacher (the VMAF "
                       "sensitivity map alone)")
    for dotted, kind, default in scalar_fields():
        if kind is bool:
            group.add_argument(_flag(dotted), dest="cfg:" + dotted, action=argparse.BooleanOptionalAction,
                               default=None, help=f"{dotted} (default {'on' if default else 'off'})")
        else:
            group.add_argument(_flag(dotted), dest="cfg:" + dotted, type=kind, metavar=kind.__name__.upper(),
                               help=HELP.get(dotted, f"{dotted} (default {default})"))
    group.add_argument("--weight", action="append", default=[], metavar="MAP=W",
                       help="salience weight of a map, e.g. texture=0.5 (negative = fewer bits); repeatable")
    group.add_argument("--roi", action="append", default=[], metavar="X,Y,W,H,WEIGHT[,START,END]",
                       help="region of interest in source pixels, optional frame range; repeatable")
    group.add_argument("--roi-file", action="append", default=[], metavar="FILE[,WEIGHT]",
                       help="regions of interest that move: JSON tracks of key boxes (interpolated between "
                            "keys), CSV frame,x,y,w,h or a mask video, as eval --regions reads them; weight "
                            "default 1; repeatable")


def config_from_args(args: argparse.Namespace, encoder: str | None = None) -> Config:
    """The config of --config and the single values on top; for maps made for `encoder` when one is named (an
    `auto` guard encoder becomes it: config.for_encoder)."""
    config = load_config(args.config)
    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg:") and v is not None}
    config = with_overrides(config, overrides) if overrides else config
    for item in args.weight:
        name, sep, value = item.partition("=")
        try:
            config.salience.weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise PreanalysisError(f"--weight {item!r} must look like NAME=NUMBER, e.g. texture=0.5")
    for item in args.roi:
        parts = item.split(",")
        try:
            nums = [float(p) for p in parts]
            if len(nums) not in (5, 7):
                raise ValueError
            x, y, w, h = (int(v) for v in nums[:4])
            config.salience.rois.append(
                Roi(x, y, w, h, nums[4], *(int(v) for v in nums[5:7])) if len(nums) == 7 else Roi(x, y, w, h, nums[4])
            )
        except ValueError:
            raise PreanalysisError(f"--roi {item!r} must be X,Y,W,H,WEIGHT or X,Y,W,H,WEIGHT,START,END") from None
    for item in args.roi_file:
        path, _, weight = item.rpartition(",") if _weighted(item) else (item, "", "1")
        config.salience.roi_files.append(RoiFile(path, float(weight)))
    config = with_overrides(config, {})  # re-validate everything together
    return for_encoder(config, encoder) if encoder else config


def _weighted(item: str) -> bool:
    """Whether a --roi-file value ends in ,WEIGHT (a file name may itself contain commas)."""
    try:
        float(item.rpartition(",")[2])
    except ValueError:
        return False
    return "," in item


def warn_guard_encoder(config: Config, encoder: str) -> None:
    """The segment guard judges a map with the encoder it codes with: say so when that is not the one encoding."""
    a = config.allocate
    if a.verify and encoder in ("x264", "x265") and a.guard_encoder != encoder:
        logging.getLogger("preanalysis").warning(
            "the segment guard judges the map with %s but this encodes with %s: use --allocate-verify-encoder %s "
            "(or auto, the default: the encoding one)", a.guard_encoder, encoder, encoder)

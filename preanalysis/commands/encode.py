"""`preanalysis encode INPUT -o OUTPUT --encoder x264|x265|svtav1|vp9 (--crf N | --bitrate KBPS)`: encode with the maps.

The maps come from `--maps MAPS.npz` (from `preanalysis analyze`), or from an analysis run in step with the
encode (2-pass runs it once per pass: analyse once with `analyze` and pass --maps to avoid that), or not at
all with `--no-map` (the baseline: the same encode without a map).
"""

from __future__ import annotations

from pathlib import Path

from encoder_adapters import ADAPTERS, EncodeSettings, encode_file

from .. import video
from ..allocate import QpMap
from ..errors import PreanalysisError
from ..io import check_output_path
from ._options import add_config_options, config_from_args

HELP = "encode a video with x264/x265/svtav1/vp9, spending bits where the salience maps say (or --no-map for the baseline)"


def add_arguments(p):
    p.add_argument("input", help="video file (anything FFmpeg decodes)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="encoded file: .mp4 .mkv .mov, or raw .264/.h264 (x264) .265/.hevc (x265); svtav1: .mp4 .mkv "
                        ".ivf .obu; vp9: .webm .mkv .mp4 .ivf")
    p.add_argument("--encoder", required=True, choices=sorted(ADAPTERS),
                   help="encoder that receives the per-block QP map (x264/x265/vp9 through PyAV, svtav1 through its "
                        "library; docs/encoders.md)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--crf", type=float, help="constant rate factor (one pass)")
    mode.add_argument("--bitrate", type=float, metavar="KBPS", help="target bitrate in kbit/s (2-pass)")
    p.add_argument("--preset", default="medium", help="encoder preset (default medium)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="encoder option as the encoder spells it, e.g. aq-strength=0; repeatable")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--maps", metavar="MAPS.npz", help="use maps from `preanalysis analyze` instead of analysing")
    source.add_argument("--no-map", action="store_true", help="encode without a QP map (the baseline)")
    p.add_argument("--target-vmaf", type=float, metavar="T",
                   help="encode in chunks, measure each with VMAF and steer map strength/CRF to reach T at the "
                        "fewest bits (--crf is the starting point; output .mp4)")
    add_config_options(p)


def parse_params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PreanalysisError(f"--param {item!r} must look like KEY=VALUE, e.g. aq-strength=0")
        params[key.strip()] = value.strip()
    return params


def maps_from_file(path: str, info: video.VideoInfo):
    """QpMap per frame from a maps file, after checking it was made from a video of this size and length."""
    from ..maps import load_maps

    maps = load_maps(path)
    if (maps.width, maps.height) != (info.width, info.height):
        raise PreanalysisError(
            f"maps {path} are for a {maps.width}x{maps.height} video but {info.path} is {info.width}x{info.height}: "
            "analyse this input or pass its own maps"
        )
    if info.frame_count and len(maps) != info.frame_count:
        raise PreanalysisError(
            f"maps {path} have {len(maps)} frames but {info.path} has {info.frame_count}: "
            "analyse the whole input (`preanalysis analyze`) and pass those maps"
        )

    def qp_for_frame(index: int) -> QpMap:
        if index >= len(maps):
            raise PreanalysisError(f"maps {path} end at frame {len(maps)} but {info.path} goes on: "
                                   "analyse the whole input and pass those maps")
        return maps.qp_map(index)

    return qp_for_frame


class AnalysisInStep:
    """QP maps analysed while encoding: frames are requested in order; a restart (pass 2) re-runs the analysis."""

    def __init__(self, path: str, config):
        self.path, self.config = path, config
        self.frames, self.next_index = None, 0

    def __call__(self, index: int) -> QpMap:
        from ..pipeline import analyze

        if self.frames is None or index < self.next_index:
            self.frames = analyze(self.path, self.config)
        for fa in self.frames:
            self.next_index = fa.index + 1
            if fa.index == index:
                return fa.qp
        raise PreanalysisError(f"the analysis of {self.path} stopped before frame {index}: the input is truncated")


def run(args) -> int:
    out = check_output_path(args.output, args.input, args.maps)
    info = video.probe(args.input)
    config = config_from_args(args)
    settings = EncodeSettings(args.encoder, crf=args.crf, bitrate_kbps=args.bitrate, preset=args.preset,
                              params={**config.encode.params(args.encoder), **parse_params(args.param)})
    if args.target_vmaf is not None:
        from eval.feedback import encode_to_target

        if args.maps:
            raise PreanalysisError("--target-vmaf analyses each chunk at its own map strength: drop --maps")
        result = encode_to_target(args.input, out, settings, config, args.target_vmaf, use_map=not args.no_map)
        print(f"target VMAF {args.target_vmaf:g}: {result.frames} frames, {result.bitrate_kbps:.1f} kbps, "
              f"VMAF {result.vmaf:.2f} over {len(result.chunks)} chunks -> {out}")
        return 0
    if args.no_map:
        qp_for_frame = None
    elif args.maps:
        qp_for_frame = maps_from_file(args.maps, info)
    else:
        qp_for_frame = AnalysisInStep(args.input, config)
    result = encode_file(args.input, out, settings, qp_for_frame, progress=True, prefilter=config.encode.prefilter)
    how = "no map" if qp_for_frame is None else f"maps from {Path(args.maps).name}" if args.maps else "analysed maps"
    how += f", pre-filter {config.encode.prefilter}" + "".join(f", {k} {v}" for k, v in settings.params.items())
    rate = f"crf {settings.crf:g}" if settings.crf is not None else f"2-pass {settings.bitrate_kbps:g} kbps"
    print(f"{settings.encoder} {settings.preset} {rate} ({how}): {result.frames} frames, "
          f"{result.bitrate_kbps:.1f} kbps, {result.size_bytes} bytes, {result.seconds:.1f} s "
          f"({result.frames / max(result.seconds, 1e-9):.1f} fps) -> {result.path}")
    return 0

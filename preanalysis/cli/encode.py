"""`preanalysis encode INPUT -o OUTPUT --encoder NAME (--crf N | --bitrate KBPS)`: encode with the QP maps.

The maps come from `--maps MAPS.npz` (from `preanalysis analyze`), or from an analysis run in the same decode
as the encode (preanalysis.facade; 2-pass analyses once per pass), or not at all with `--no-map` (the
baseline: the same encode without a map).
"""

from __future__ import annotations

from pathlib import Path

from encoder_adapters import ADAPTERS

from ..errors import PreanalysisError
from ..io import check_output_path
from .options import add_config_options, config_from_args, warn_guard_encoder

HELP = ("encode a video with x264/x265/SVT-AV1/VP9/NVENC, spending bits where the salience maps say (or --no-map "
        "for the baseline)")


def add_arguments(p):
    p.add_argument("input", help="video file (anything FFmpeg decodes)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="encoded file: " + "; ".join(f"{name} {' '.join(a.suffixes())}" for name, a in sorted(ADAPTERS.items())))
    p.add_argument("--encoder", required=True, choices=sorted(ADAPTERS),
                   help="encoder that receives the per-block QP map (x264/x265/vp9 through PyAV, svtav1 through its "
                        "library, nvenc-* through the NVENC SDK; docs/encoders.md)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--crf", type=float, help="constant rate factor (one pass)")
    mode.add_argument("--bitrate", type=float, metavar="KBPS", help="target bitrate in kbit/s (2-pass)")
    p.add_argument("--preset", default=None, help="encoder preset (default: the encoder's own, medium for x264/x265)")
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


def run(args) -> int:
    from ..facade import Preanalysis

    config = config_from_args(args, args.encoder)
    warn_guard_encoder(config, args.encoder)
    preanalysis = Preanalysis(config)
    settings = preanalysis.settings(args.encoder, args.crf, args.bitrate, args.preset, parse_params(args.param))
    if args.target_vmaf is not None:
        from eval.feedback import encode_to_target

        if args.maps:
            raise PreanalysisError("--target-vmaf analyses each chunk at its own map strength: drop --maps")
        out = check_output_path(args.output, args.input)
        result = encode_to_target(args.input, out, settings, config, args.target_vmaf, use_map=not args.no_map)
        print(f"target VMAF {args.target_vmaf:g}: {result.frames} frames, {result.bitrate_kbps:.1f} kbps, "
              f"VMAF {result.vmaf:.2f} over {len(result.chunks)} chunks -> {out}")
        return 0
    result = preanalysis.encode(args.input, args.output, args.encoder, args.crf, args.bitrate, args.preset,
                                parse_params(args.param), maps=args.maps, use_map=not args.no_map, progress=True)
    how = "no map" if args.no_map else f"maps from {Path(args.maps).name}" if args.maps else "analysed maps"
    how += f", pre-filter {config.encode.prefilter}" + "".join(f", {k} {v}" for k, v in settings.params.items())
    rate = f"crf {settings.crf:g}" if settings.crf is not None else f"{settings.mode} {settings.bitrate_kbps:g} kbps"
    print(f"{settings.encoder} {settings.preset} {rate} ({how}): {result.frames} frames, "
          f"{result.bitrate_kbps:.1f} kbps, {result.size_bytes} bytes, {result.seconds:.1f} s "
          f"({result.frames / max(result.seconds, 1e-9):.1f} fps) -> {result.path}")
    return 0

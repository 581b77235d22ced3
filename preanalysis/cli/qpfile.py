"""`preanalysis qpfile INPUT --format F -o FILE`: the QP maps as a file an external encoder reads itself."""

from __future__ import annotations

import logging

import numpy as np

from encoder_adapters import files

from .. import video
from ..io import check_output_path
from .options import add_config_options, config_from_args

HELP = "write the QP maps as an encoder's own file (x264/x265 qpfile, NVENC, SVT-AV1, kvazaar, ffmpeg)"
log = logging.getLogger("preanalysis")

FORMATS = ("x264", "x265", "nvenc", "nvenc-h264", "nvenc-hevc", "svtav1", "kvazaar", "addroi", "x265-zones")
USAGE = {
    "x264": "x264 --qpfile {out} --aq-mode 0 --no-mbtree ... (frame QPs exact only with AQ and mbtree off)",
    "x265": "x265 --qpfile {out} --aq-mode 0 --no-cutree ... (frame QPs exact only with AQ and cutree off)",
    "nvenc": "NVENC SDK: qpMapMode=NV_ENC_QP_MAP_DELTA, qpDeltaMap = frame i of {out} (layout: files.py)",
    "svtav1": "SvtAv1EncApp --roi-map-file {out} ...",
    "kvazaar": "kvazaar --roi {out} ...  or  ffmpeg -i {input} -c:v libkvazaar -kvazaar-params roi={out} ...",
    "addroi": "ffmpeg -i {input} -/filter:v {out} -c:v libx264 ...  (AQ must stay on)",
    "x265-zones": "ffmpeg -i {input} -c:v libx265 -x265-params zones=$(cat {out}) ...",
}


def add_arguments(p):
    p.add_argument("input", help="video file (anything FFmpeg decodes)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="x264/x265: --qpfile; nvenc (with --codec), nvenc-h264, nvenc-hevc: delta-QP maps; "
        "svtav1: --roi-map-file; kvazaar: --roi; addroi: ffmpeg filter script; "
        "x265-zones: the value of -x265-params zones=",
    )
    p.add_argument(
        "--maps", metavar="MAPS.npz", help="use maps from `preanalysis analyze` instead of analysing"
    )
    p.add_argument(
        "--base-qp", type=float, default=26.0, help="qpfile frame QP = base + mean offset (default 26)"
    )
    p.add_argument(
        "--codec", choices=("h264", "hevc"), default="h264", help="codec for --format nvenc (default h264)"
    )
    p.add_argument(
        "--ctb", type=int, choices=(16, 32, 64), default=32, help="HEVC CTB size for NVENC maps (default 32)"
    )
    add_config_options(p)


def load_qp_maps(args) -> tuple[list, list[int]]:
    """(QpMap per frame, scene-cut frames) from --maps or from a fresh analysis of INPUT."""
    info = video.probe(args.input)
    if args.maps:
        from ..maps import load_maps

        maps = load_maps(args.maps).check_video(info, whole=False)
        return [maps.qp_map(i) for i in range(len(maps))], np.flatnonzero(maps.scene_start).tolist()
    from ..pipeline import analyze

    qps, cuts = [], []
    for fa in analyze(args.input, config_from_args(args, args.format.split("-")[0]), progress=True):
        qps.append(fa.qp)
        if fa.scene_start:
            cuts.append(fa.index)
    return qps, cuts


def run(args) -> int:
    out = check_output_path(args.output, args.input, args.maps)
    fmt = {"nvenc": f"nvenc-{args.codec}"}.get(args.format, args.format)
    maps, cuts = load_qp_maps(args)
    if fmt in ("x264", "x265"):
        qps = [q for q in files.write_qpfile(out, maps, args.base_qp, keyframes=set(cuts)) if q is not None]
        log.info(
            "wrote %d frame QPs (%d..%d, %d scene cuts forced to I) to %s",
            len(qps),
            min(qps),
            max(qps),
            len(cuts),
            out,
        )
    elif fmt.startswith("nvenc-"):
        nv = files.write_nvenc_maps(out, maps, codec=fmt[6:], ctb_size=args.ctb)
        log.info(
            "wrote %d NVENC %s maps of %dx%d blocks (%d px) to %s",
            *nv.offsets.shape[:1],
            nv.codec,
            nv.offsets.shape[2],
            nv.offsets.shape[1],
            nv.block_size,
            out,
        )
    elif fmt == "svtav1":
        q = files.write_svtav1_roi_map(out, maps)
        log.info("wrote SVT-AV1 ROI events for %d pictures of %d superblocks to %s", len(q), q[0].size, out)
    elif fmt == "kvazaar":
        roi = files.write_kvazaar_roi(out, maps)
        log.info("wrote a %dx%d kvazaar ROI map (temporal median) to %s", roi.shape[1], roi.shape[0], out)
    elif fmt == "addroi":
        rois = files.write_addroi_script(out, maps)
        log.info("wrote %d addroi rectangles (temporally stable regions) to %s", len(rois), out)
    else:
        zones = files.write_x265_zones(out, maps)
        log.info("wrote x265 zones %r to %s", zones or "(none: no scene differs)", out)
    log.info(
        "use it with: %s",
        USAGE[fmt.split("-")[0] if fmt.startswith("nvenc") else fmt].format(out=out, input=args.input),
    )
    return 0

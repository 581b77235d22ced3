"""Streaming input: odd sizes, 10-bit, VFR, and every kind of bad input gives a clear one-line error."""

import logging
from fractions import Fraction

import av
import numpy as np
import pytest

from preanalysis import video
from preanalysis.errors import PreanalysisError
from preanalysis.learning.scenes import moving_objects, write_video


def _encode(path, frames, pix_fmt="yuv420p", codec="ffv1", pts=None, time_base=Fraction(1, 25)):
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        s.time_base = s.codec_context.time_base = time_base
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            f.pts, f.time_base = (pts[i] if pts else i), time_base
            c.mux(s.encode(f))
        c.mux(s.encode())
    return path


def test_streams_real_clip_at_reduced_resolution(carphone):
    info = video.probe(carphone)
    frames = list(video.frames(carphone, max_width=96, stop=5))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].luma.shape == (72, 88) and frames[0].luma.dtype == np.float32  # 176x144 / 2
    assert 0 <= frames[0].luma.min() and frames[0].luma.max() <= 1
    assert info.width == 176 and info.height == 144 and info.bit_depth == 8


def test_odd_size(tmp_path):
    s = moving_objects(width=333, height=187, frames=4)
    path = _encode(tmp_path / "odd.mkv", list(s.rgb))
    info = video.probe(path)
    assert (info.width, info.height) == (333, 187)
    assert len(list(video.frames(path, max_width=200))) == 4
    assert video.analysis_size(333, 187, 200) == (166, 93)


def test_ten_bit(tmp_path):
    s = moving_objects(width=128, height=96, frames=3)
    path = _encode(tmp_path / "ten.mkv", list(s.rgb), pix_fmt="yuv420p10le")
    info = video.probe(path)
    assert info.bit_depth == 10
    luma = next(video.frames(path)).luma
    expected = np.asarray(av.VideoFrame.from_ndarray(s.rgb[0], format="rgb24").reformat(format="yuv420p").to_ndarray()[:96])
    assert np.abs(luma * 255 - expected).mean() < 1.5  # same picture, 10-bit precision reduced to analysis


def test_variable_frame_rate_keeps_pts(tmp_path):
    s = moving_objects(width=96, height=64, frames=5)
    pts = [0, 40, 60, 140, 150]
    path = _encode(tmp_path / "vfr.mkv", list(s.rgb), pts=pts, time_base=Fraction(1, 1000))
    frames = list(video.frames(path))
    assert [f.pts for f in frames] == pts
    assert [round(f.time, 3) for f in frames] == [0.0, 0.04, 0.06, 0.14, 0.15]


def test_raw_elementary_stream_length_is_counted_not_guessed(tmp_path):
    """A raw elementary stream has no timestamps and FFmpeg guesses its duration from the bit rate its header
    declares (a real 79-frame MPEG-1 stream read as 1 frame): its length is unknown (0) until decoded, and the
    report windows count it.  Here the header declares 200 kbit/s and the frames use more: 18 frames, not 30."""
    from preanalysis.learning.data import frame_count, tail

    path = tmp_path / "raw.mpeg"
    with av.open(str(path), "w", format="mpeg1video") as out:
        stream = out.add_stream("mpeg1video", rate=25, options={"maxrate": "200k", "bufsize": "2M", "b": "200k"})
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for rgb in moving_objects(width=96, height=64, frames=30).rgb:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    assert video.probe(path).frame_count == 0
    assert frame_count(path) == 30 == sum(1 for _ in video.decode(path))
    assert tail(f"{path}@20", 30) == (20, 30)


def test_truncated_file_decodes_what_it_can(tmp_path, caplog):
    s = moving_objects(width=160, height=96, frames=12)
    full = write_video(s.rgb, tmp_path / "full.y4m")
    data = full.read_bytes()
    cut = tmp_path / "cut.y4m"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with caplog.at_level(logging.WARNING, logger="preanalysis"):
        n = sum(1 for _ in video.decode(cut))
    assert 5 <= n <= 8
    assert full.read_bytes() == data  # input untouched


def test_truncated_mkv_reports_the_loss(tmp_path, caplog):
    s = moving_objects(width=160, height=96, frames=12)
    full = write_video(s.rgb, tmp_path / "full.mkv")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="preanalysis"):
        n = sum(1 for _ in video.decode(cut))
    assert 1 <= n < 12
    assert "truncated or corrupt" in caplog.text and f"decoded {n} frame(s) of the 12" in caplog.text


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "does not exist"),
    (lambda p: (p / "notes.mp4").write_text("hello, not a video") and p / "notes.mp4", "not a readable video"),
    (lambda p: p, "is a folder"),
])
def test_bad_paths(tmp_path, make, message):
    with pytest.raises(PreanalysisError, match=message):
        video.probe(make(tmp_path))


def test_audio_only(audio_only):
    with pytest.raises(PreanalysisError, match="no video stream"):
        video.probe(audio_only)


def test_zero_frames(tmp_path):
    path = tmp_path / "empty.y4m"
    path.write_bytes(b"YUV4MPEG2 W64 H64 F25:1 Ip A1:1 C420jpeg\n")  # a video stream without frames
    with pytest.raises(PreanalysisError, match="no decodable video frames"):
        list(video.decode(path))


def test_huge_dimensions_refused():
    with pytest.raises(PreanalysisError, match="frame sides"):
        video._check_size("x", video.MAX_DIMENSION + 2, 100)
    with pytest.raises(PreanalysisError, match="frame sides"):
        video._check_size("x", 8, 8)

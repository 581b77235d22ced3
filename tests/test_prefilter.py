"""The pre-filter by name (preanalysis.prefilters) and the MCTF behind `auto` (preanalysis.prefilters.mctf)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from preanalysis import video
from preanalysis.config import Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.learning.data import load_clip
from preanalysis.prefilters import apply_prefilter, filtered, parse_prefilter, prefilter_version
from preanalysis.prefilters import mctf
from preanalysis.prefilters.stage import auto_spec
from preanalysis.learning.scenes import write_video


def _gray_video(frames: np.ndarray, path):
    rgb = np.repeat(np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    return write_video(rgb, path)


def _luma(frames) -> np.ndarray:
    return np.stack([d.frame.to_ndarray(format="gray") / 255 for d in frames])


def test_specs_are_canonical_and_bad_ones_say_what_is_accepted():
    assert parse_prefilter("auto") == "auto" and parse_prefilter("mctf:0.50") == "mctf:0.5"
    assert parse_prefilter("temporal") == "temporal" and parse_prefilter(" off ") == "off"
    for bad in ("on", "auto:0.5", "mctf:2", "mctf:x", "0.5", ""):
        with pytest.raises(PreanalysisError, match="use off, auto, mctf"):
            parse_prefilter(bad)
    with pytest.raises(PreanalysisError, match="invalid config: encode.prefilter"):
        from_dict(Config, {"encode": {"prefilter": "strong"}})
    assert parse_prefilter("mctf:0.5+fft:3") == "mctf:0.5+fft:3"
    assert prefilter_version("mctf:0.3") == prefilter_version("mctf") != prefilter_version("temporal")
    assert prefilter_version("auto") not in (prefilter_version("mctf"), prefilter_version("off"))
    # auto: nothing on clean sources, MCTF then FFT denoise scaled with the noise on noisy ones
    assert auto_spec(1.8) == "off" and auto_spec(4.0) == "mctf:0.5+fft:2.8"
    assert auto_spec(3.25) == "mctf:0.25+fft:1.14"


def test_mctf_keeps_timing_denoises_noisy_sources_and_passes_clean_ones(carphone, tmp_path):
    clean = load_clip(carphone, 0, 10, max_width=176, teacher=False).luma
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 6 / 255, clean.shape), 0, 1).astype(np.float32)
    path = _gray_video(noisy, tmp_path / "noisy.mkv")
    original = list(video.decode(path))
    out = list(apply_prefilter(video.decode(path), "auto"))
    assert [(d.index, d.pts) for d in out] == [(d.index, d.pts) for d in original]
    assert all(d.frame.time_base == o.frame.time_base for d, o in zip(out, original))
    err_in = np.abs(_luma(original) - clean).mean()
    err_out = np.abs(_luma(out) - clean).mean()
    assert err_out < 0.75 * err_in  # ~2.5 dB or more closer to the clean clip
    # carphone as it is measures clean: auto passes every frame through untouched
    passed = list(apply_prefilter(video.decode(carphone, 0, 6), "auto"))
    assert all(np.array_equal(p.frame.to_ndarray(), o.frame.to_ndarray())
               for p, o in zip(passed, video.decode(carphone, 0, 6)))
    assert len(passed) == 6


def test_mctf_does_not_blend_across_a_scene_cut(carphone, tmp_path):
    a = load_clip(carphone, 0, 4, max_width=176, teacher=False).luma
    clean = np.concatenate([a, 1 - a[:, ::-1, ::-1]])  # the second "scene": turned and inverted
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 5 / 255, clean.shape), 0, 1).astype(np.float32)
    out = _luma(mctf.mctf_frames(video.decode(_gray_video(noisy, tmp_path / "cut.mkv")), 1.0))
    for t in (3, 4):  # the last frame before the cut and the first after it: nothing of the other scene leaks in
        assert np.abs(out[t] - clean[t]).mean() < np.abs(noisy[t] - clean[t]).mean() * 1.05


def test_mctf_rejects_bad_strength_and_filters_odd_sides_at_the_encoders_crop(tmp_path):
    frames = np.random.default_rng(0).random((3, 33, 32)).astype(np.float32)
    with pytest.raises(PreanalysisError, match="strength"):
        list(mctf.mctf_frames(video.decode(_gray_video(frames[:, :32], tmp_path / "a.mkv")), 2.0))
    rgb = np.repeat(np.rint(frames[0] * 255).astype(np.uint8)[..., None], 3, axis=-1)
    odd = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    odd.pts, odd.time_base = 0, Fraction(1, 25)
    out = list(mctf.mctf_frames([video.DecodedFrame(0, 0, 0.0, odd)], 1.0))
    assert (out[0].frame.width, out[0].frame.height) == (32, 32)  # the last row dropped, as the encoder drops it


def test_every_encoder_pass_sees_the_same_filtered_frames(carphone, tmp_path):
    """The pre-filter is a stage of the frame source: 2-pass calls the source once per pass, and both passes
    must get the filtered frames (not the noisy ones, not different ones)."""
    from encoder_adapters import EncodeSettings, encode_frames

    clean = load_clip(carphone, 0, 10, max_width=176, teacher=False).luma
    noisy = np.clip(clean + np.random.default_rng(2).normal(0, 6 / 255, clean.shape), 0, 1).astype(np.float32)
    path = _gray_video(noisy, tmp_path / "noisy.mkv")
    seen: list[list[bytes]] = []

    def recorded(source):
        def frames():
            seen.append([])
            for d in source():
                seen[-1].append(d.frame.to_ndarray(format="yuv420p").tobytes())
                yield d
        return frames

    expected = [d.frame.to_ndarray(format="yuv420p").tobytes()
                for d in apply_prefilter(video.decode(path), "mctf:1")]
    raw = [d.frame.to_ndarray(format="yuv420p").tobytes() for d in video.decode(path)]
    settings = EncodeSettings("x264", bitrate_kbps=150, preset="veryfast")
    result = encode_frames(recorded(filtered(lambda: video.decode(path), "mctf:1")), video.probe(path),
                           tmp_path / "two_pass.mp4", settings)
    assert result.frames == 10 and len(seen) == 2  # two passes, each from the source
    assert seen[0] == seen[1] == expected  # both passes: the filtered frames, identical
    assert all(a != b for a, b in zip(expected, raw))
    assert filtered(video.decode, "off") is video.decode  # off: the source as it is

    sizes = {mode: encode_frames(filtered(lambda: video.decode(path), mode), video.probe(path),
                                 tmp_path / f"{mode}.mp4", EncodeSettings("x264", crf=26, preset="veryfast")).size_bytes
             for mode in ("off", "auto")}
    assert sizes["auto"] < 0.9 * sizes["off"]  # at one CRF: the noise it no longer has to code

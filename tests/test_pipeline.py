"""Analysers, salience and the pipeline on generated scenes with known ground truth and on a real clip."""

import numpy as np
import pytest

from preanalysis import video
from preanalysis.config import Config, Roi, SalienceConfig, from_dict, load_config
from preanalysis.errors import PreanalysisError
from preanalysis.maps import load_maps, write_maps
from preanalysis.allocate import block_means
from preanalysis.pipeline import analyser_names, analyze, frame_salience, scene_cuts
from preanalysis.salience import combine


def test_maps_are_in_unit_range_and_find_the_moving_objects(scene):
    path, s = scene
    frames = list(analyze(path, Config()))
    assert len(frames) == len(s.frames)
    for fa in frames:
        for name, m in fa.maps.items():
            assert m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1, name
    inside, outside = [], []
    for fa in frames[2:]:
        mask = video.analysis_size(320, 192, 480)  # analysis at full size here (320 < 480)
        fg = fa.maps["foreground"]
        m = s.masks[fa.index]
        assert fg.shape == m.shape == (mask[1], mask[0])
        inside.append(fg[m].mean())
        outside.append(fg[~m].mean())
    # the background pans (camera motion) yet only the objects count as foreground (where they are a minority
    # of the frame, as here: objects that fill a third of it pull the camera-motion fit, measured)
    assert s.masks.mean() < 0.3 and np.mean(inside) > 3 * np.mean(outside)
    assert np.mean([fa.maps["motion"][~s.masks[fa.index]].mean() for fa in frames[2:]]) > 0.1  # pan seen


def test_salience_combines_signed_weights_and_rois():
    maps = {"a": np.full((4, 6), 1.0, np.float32), "b": np.zeros((4, 6), np.float32)}
    maps["b"][:, 3:] = 1
    out = combine(maps, {"a": 1.0, "b": -1.0}, [Roi(0, 0, 4, 4, weight=-1.0, start=0, end=5)], 0, scale=2.0)
    assert out.dtype == np.uint8
    assert (out[2:, :3] == 255).all()  # a=1, b=0: score 1 on the range [-1, 1] -> top
    assert (out[:, 3:] == 128).all()  # a=1, b=1: score 0 -> 0.5
    assert (out[:2, :2] == 0).all()  # ROI with weight -1 on source pixels 0..4 -> analysis 0..2
    later = combine(maps, {"a": 1.0, "b": -1.0}, [Roi(0, 0, 4, 4, weight=-1.0, start=0, end=5)], 5, scale=2.0)
    assert (later[:2, :2] == 255).all()  # ROI inactive from frame 5 on


def test_unknown_map_in_weights_is_a_clear_error(scene):
    path, _ = scene
    config = from_dict(Config, {"salience": {"weights": {"sharpness": 1.0}}})
    with pytest.raises(PreanalysisError, match="no analyser produces a map called 'sharpness'"):
        next(analyze(path, config))


def test_analysis_is_deterministic_and_maps_file_is_byte_identical(scene, tmp_path):
    path, _ = scene
    info = video.probe(path)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    write_maps(analyze(path, Config()), a, info)
    write_maps(analyze(path, Config()), b, info)
    assert a.read_bytes() == b.read_bytes()
    m = load_maps(a)
    assert m.qp_offsets.dtype == np.int8 and m.qp_offsets.shape == (16, 12, 20)
    assert m.salience.dtype == np.uint8 and m.salience.shape == (16, 192, 320)
    assert (m.width, m.height, m.block_size) == (320, 192, 16)
    assert np.allclose(m.time, np.arange(16) / 25)  # mkv stores ms pts; time is what matters


def test_analysis_from_a_cut_equals_the_full_run(bikes):
    config = from_dict(Config, {"analysis": {"max_scene_frames": 20, "max_width": 160}, "allocate": {"segment_frames": 20}})
    cuts = scene_cuts(bikes, config)
    assert cuts[0] == 0 and len(cuts) > 3
    start, stop = cuts[2], cuts[3]
    full = {fa.index: fa for fa in analyze(bikes, config, stop=stop) if fa.index >= start}
    chunk = list(analyze(bikes, config, start=start, stop=stop))
    assert [fa.index for fa in chunk] == list(range(start, stop))
    for fa in chunk:
        assert np.array_equal(fa.qp.offsets, full[fa.index].qp.offsets)
        assert np.array_equal(fa.salience, full[fa.index].salience)


def test_presets_load_and_the_salience_one_steers_bits(bikes):
    """default.yaml is Config() (for VMAF per bit: the mask nearly off, the VMAF sensitivity student on, the
    segment guard keeping or dropping each segment's map whole); the
    salience preset spreads offsets over its range, most bits to where the content evidence (or the centre prior)
    is."""
    from preanalysis.config import load_config

    assert load_config("default").to_dict() == Config().to_dict()
    salience = load_config("salience")
    assert salience.objective == "salience" and salience.salience.normalise == "evidence"
    offsets = np.stack([fa.qp.offsets for fa in analyze(bikes, salience, stop=20)])
    assert offsets.min() <= -2 and offsets.max() >= 1
    assert (offsets < 0).mean() < 0.4  # the evidence and the centre prior's middle, not half the frame
    # the default's mask barely moves bits (strength 0.02); its offsets are the VMAF sensitivity student's
    from preanalysis.config import with_overrides

    quiet = np.stack([fa.qp.offsets for fa in analyze(bikes, with_overrides(Config(), {"allocate.sensitivity": ""}),
                                                      stop=20)])
    assert np.abs(quiet).max() <= 1
    unguarded = with_overrides(Config(), {"allocate.verify": False})
    student = np.stack([fa.qp.offsets for fa in analyze(bikes, unguarded, stop=20)])
    assert np.abs(student).max() >= 3 and (student < 0).mean() > 0.1
    guarded = np.stack([fa.qp.offsets for fa in analyze(bikes, Config(), stop=20)])  # the segment guard decides
    assert np.array_equal(guarded, student) or not np.any(guarded)
    with pytest.raises(PreanalysisError, match="name a preset \\(default, regions, salience, sensitivity, vmaf-teacher\\)"):
        load_config("fancy")


def test_sensitivity_map_adds_its_offsets_to_the_salience_preset(carphone):
    """allocate.sensitivity on the salience preset (on in it since round 5; here off against on): the same mask,
    offsets shifted towards the blocks the student weights (the difference follows -lw); a map no analyser makes
    is one clear line."""
    from scipy.stats import spearmanr

    from preanalysis.analysers.sensitivity import log_weight, to_map
    from preanalysis.config import load_config, with_overrides

    plain = with_overrides(load_config("salience"), {"allocate.sensitivity": "", "analysis.device": "cpu"})
    both = with_overrides(plain, {"allocate.sensitivity": "sensitivity"})
    assert "sensitivity" in analyser_names(both) and "sensitivity" not in analyser_names(plain)
    a, b = list(analyze(carphone, plain, stop=6)), list(analyze(carphone, both, stop=6))
    for fa, fb in zip(a, b):
        np.testing.assert_array_equal(fa.salience, fb.salience)
        if fb.scene_start:  # the preset's scene_start_gain 0: no offsets there, with or without the map
            assert not fa.qp.offsets.any() and not fb.qp.offsets.any()
            continue
        lw = log_weight(block_means(fb.maps["sensitivity"], fb.qp.width, fb.qp.height))
        moved = fb.qp.offsets.astype(int) - fa.qp.offsets
        assert spearmanr(moved.ravel(), -lw.ravel())[0] > 0.5
    np.testing.assert_allclose(log_weight(to_map(np.array([-3.0, 0.0, 2.5]))), [-3.0, 0.0, 2.5], atol=1e-6)
    # under a segment budget too (the segment stage adds the map's offsets before its budget search)
    seg = with_overrides(plain, {"allocate.segment": "gop", "allocate.scene_start_gain": 1.0})
    a = list(analyze(carphone, seg, stop=6))
    b = list(analyze(carphone, with_overrides(seg, {"allocate.sensitivity": "sensitivity"}), stop=6))
    moved = np.stack([fb.qp.offsets.astype(int) - fa.qp.offsets for fa, fb in zip(a, b)])
    lw = np.stack([log_weight(block_means(fb.maps["sensitivity"], fb.qp.width, fb.qp.height)) for fb in b])
    assert spearmanr(moved.ravel(), -lw.ravel())[0] > 0.5
    with pytest.raises(PreanalysisError, match="allocate.sensitivity: no analyser produces a map called 'vmaf'"):
        analyser_names(with_overrides(plain, {"allocate.sensitivity": "vmaf"}))


@pytest.mark.parametrize("text, message", [
    ("analysis: [1, 2", "not valid YAML"),
    ("analysis:\n  colour: red\n", "unknown key config.analysis.colour"),
    ("allocate:\n  strength: 99\n", "allocate.strength must be within"),
    ("allocate:\n  min_offset: 3\n", "min_offset <= 0"),
    ("salience:\n  weights:\n    texture: lots\n", "config.salience.weights.texture must be float"),
    ("objective: speed\n", "objective must be"),
    ("allocate:\n  sensitivity_gain: -1\n", "allocate.sensitivity_gain must be within"),
])
def test_bad_configs(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(PreanalysisError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(PreanalysisError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_rank_normalisation_spreads_the_mask_over_the_full_range():
    rng = np.random.default_rng(0)
    maps = {"texture": (0.4 + 0.2 * rng.random((30, 40))).astype(np.float32)}  # a narrow band of scores
    by_weights = combine(maps, {"texture": 1.0})
    by_rank = combine(maps, {"texture": 1.0}, normalise="rank")
    assert by_weights.max() - by_weights.min() < 60
    assert by_rank.min() == 0 and by_rank.max() == 255
    top = by_rank >= np.quantile(by_rank, 0.8)
    assert maps["texture"][top].min() >= maps["texture"][~top].max()  # same order as the scores
    flat = combine({"texture": np.full((4, 4), 0.3, np.float32)}, {"texture": 1.0}, normalise="rank")
    assert (flat == 128).all()


def test_top_normalisation_marks_the_most_salient_fifth_and_the_centre_prior_peaks_in_the_middle():
    from preanalysis.analysers.base import ANALYSERS, AnalysisContext

    rng = np.random.default_rng(1)
    maps = {"texture": rng.random((30, 40)).astype(np.float32)}
    top = combine(maps, {"texture": 1.0}, normalise="top")
    assert set(np.unique(top)) == {0, 255} and abs((top == 255).mean() - 0.2) < 0.01
    assert maps["texture"][top == 255].min() >= maps["texture"][top == 0].max()
    assert (combine({"texture": np.full((4, 4), 0.3, np.float32)}, {"texture": 1.0}, normalise="top") == 0).all()
    centre = ANALYSERS["centre"]().process(AnalysisContext(0, np.zeros((27, 48), np.float32), None, 4.0))["centre"]
    assert centre.shape == (27, 48) and np.unravel_index(centre.argmax(), centre.shape) in ((13, 23), (13, 24))
    np.testing.assert_allclose(centre, centre[::-1, ::-1], atol=1e-6)  # symmetric about the middle
    assert centre[0, 0] < 0.05 < 0.95 < centre[13, 24]


@pytest.mark.parametrize("sensitivity", ["sensitivity", "vmaf_teacher"])
def test_stabilised_masks_flicker_less(bikes, sensitivity):
    """The learned stabiliser on the final mask: less frame-to-frame change, same shape, still in range; also when
    the sensitivity map comes from a segment-level analyser (the teacher), which the mask does not read."""
    allocate = {"sensitivity": sensitivity, "verify": False}
    base = from_dict(Config, {"analysis": {"max_width": 160}, "allocate": allocate})
    steady = from_dict(Config, {"analysis": {"max_width": 160, "stabilise": True}, "allocate": allocate})

    def flicker(config):
        masks = [fa.salience.astype(np.float32) for fa in analyze(bikes, config, stop=20)]
        return np.mean([np.abs(a - b).mean() for a, b in zip(masks[1:], masks[:-1])]), masks[0].shape

    (raw, shape), (smooth, shape2) = flicker(base), flicker(steady)
    assert shape == shape2 and smooth < 0.8 * raw


def test_config_points_learned_analysers_at_other_weights(scene, tmp_path):
    path, _ = scene
    weights = {"analysis": {"weights": {"objects": str(tmp_path / "missing.safetensors")}},
               "salience": {"weights": {"texture": 1.0, "objects": 0.5}}}
    with pytest.raises(PreanalysisError, match="missing.safetensors is missing"):
        next(analyze(path, from_dict(Config, weights)))
    from preanalysis.learning.weights import weights_path

    (tmp_path / "mine.safetensors").write_bytes(weights_path("objects").read_bytes())
    weights["analysis"]["weights"]["objects"] = str(tmp_path / "mine.safetensors")
    assert next(analyze(path, from_dict(Config, weights))).maps["objects"].shape == (192, 320)
    wrong = {"analysis": {"weights": {"texture": "x.safetensors"}}, "salience": {"weights": {"texture": 1.0}}}
    with pytest.raises(PreanalysisError, match="takes no weights file"):
        next(analyze(path, from_dict(Config, wrong)))
    unused = {"analysis": {"weights": {"static": "x.safetensors"}}, "salience": {"weights": {"texture": 1.0}}}
    with pytest.raises(PreanalysisError, match="does not run"):
        next(analyze(path, from_dict(Config, unused)))


def test_analysers_on_their_own_threads_give_the_serial_maps(bikes):
    """analyze() runs each analyser on a lane of its own (torch on one thread), up to LANE_DEPTH frames
    ahead; the maps and object ids must be those of calling every analyser frame by frame on one thread,
    with resets at the cuts, and the caller's torch thread count must come back."""
    import torch

    from preanalysis.pipeline import LANE_DEPTH

    assert 40 > 2 * LANE_DEPTH  # lanes run ahead across cuts (frames 0, 16, 32)
    config = from_dict(Config, {"analysis": {"max_scene_frames": 16, "max_width": 160},  # per-frame maps only:
                                "allocate": {"sensitivity": "sensitivity"},  # the teacher's is the segment's
                                "salience": {"weights": {"texture": 1, "motion": -1, "objects": 0.5}}})
    threads = torch.get_num_threads()
    got = list(analyze(bikes, config, stop=40))
    assert torch.get_num_threads() == threads
    torch.set_num_threads(1)
    try:
        serial = _serial_maps(bikes, config, 40)
    finally:
        torch.set_num_threads(threads)
    for fa, (maps, ids) in zip(got, serial, strict=True):
        assert all(np.array_equal(fa.maps[name], m) for name, m in maps.items()), fa.index
        assert np.array_equal(fa.object_ids, ids), fa.index


def _serial_maps(path, config, stop):
    """Every analyser called frame by frame in one thread, reset at cuts: (maps, object ids) per frame."""
    from preanalysis.analysers import AnalysisContext
    from preanalysis.pipeline import SceneCutDetector, build_analysers

    info = video.probe(path)
    size = video.analysis_size(info.width, info.height, config.analysis.max_width)
    analysers, detector, previous, out = build_analysers(config), SceneCutDetector(config.analysis.max_scene_frames), None, []
    for d in video.decode(path, 0, stop):
        luma = video.to_luma(d.frame, size)
        if detector.is_cut(luma):
            previous = None
            for a in analysers:
                a.reset()
        ctx = AnalysisContext(d.index, luma, previous, info.width / size[0])
        maps = {name: m for a in analysers for name, m in a.process(ctx).items()}
        out.append((maps, next((ids for a in analysers if (ids := a.object_ids()) is not None), None)))
        previous = luma
    return out


def test_stopping_early_leaves_no_analysis_running(bikes):
    import threading

    config = from_dict(Config, {"analysis": {"max_width": 160}, "salience": {"weights": {"objects": 1}}})
    frames = analyze(bikes, config)
    next(frames)
    frames.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("analyse-")]


def test_encoder_options_may_be_written_as_yaml_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("encode:\n  x264_params: {threads: 1, psy-rd: 0.2}\n")
    assert load_config(path).encode.x264_params == {"threads": "1", "psy-rd": "0.2"}
    with pytest.raises(PreanalysisError, match="must be str"):
        from_dict(Config, {"encode": {"x264_params": {"threads": True}}})


def test_evidence_normalisation_marks_each_detection_at_its_own_weight():
    """A person at weight 1 keeps full strength however many maps are weighted; the centre prior (weight 0.3)
    decides only where there is no evidence; the protected region is the evidence's size, not a fixed share."""
    people = np.zeros((20, 30), np.float32)
    people[5:15, 2:6] = 0.9  # a person at the left edge, 6.7% of the frame
    y, x = np.mgrid[0:20, 0:30]
    centre = np.exp(-((y - 9.5) ** 2 + (x - 14.5) ** 2) / 50).astype(np.float32)
    maps = {"people": people, "faces": np.zeros_like(people), "centre": centre}
    mask = combine(maps, {"people": 1.0, "faces": 1.0, "centre": 0.3}, normalise="evidence")
    assert mask[10, 3] == round(0.9 * 255) and mask[10, 15] == round(0.3 * centre[10, 15] * 255)
    assert (mask > 0.5 * 255).mean() == pytest.approx(40 / 600)
    summed = combine(maps, {"people": 1.0, "faces": 1.0, "centre": 0.3})  # a sum over 2.3 dilutes the person
    assert summed[10, 3] < 0.45 * 255
    with pytest.raises(PreanalysisError, match="weights >= 0"):
        combine(maps, {"people": 1.0, "centre": -0.3}, normalise="evidence")
    with pytest.raises(PreanalysisError, match="must be >= 0 with normalise evidence"):
        from_dict(SalienceConfig, {"weights": {"people": 1.0, "centre": -0.3}, "normalise": "evidence"})


def test_evidence_grows_by_blocks_and_the_prior_stands_aside_in_frames_with_evidence():
    """grow: the evidence reaches `grow` encoder blocks further (at scale 2, 8 analysis pixels per block); prior
    frame: the centre prior counts only in a frame whose evidence nowhere reaches it, pixel keeps it everywhere."""
    y, x = np.mgrid[0:40, 0:60]
    centre = np.exp(-((y - 19.5) ** 2 + (x - 29.5) ** 2) / 200).astype(np.float32)
    objects = np.zeros((40, 60), np.float32)
    objects[16:24, 4:12] = 1.0  # an object at the left edge
    weights = {"objects": 1.0, "centre": 0.3}
    maps = {"objects": objects, "centre": centre}
    plain = combine(maps, weights, scale=2.0, normalise="evidence")
    grown = combine(maps, weights, scale=2.0, normalise="evidence", grow=1)
    assert plain[20, 14] < 128 and grown[20, 14] == 255 and grown[20, 19] == 255 and grown[20, 21] < 128
    assert (grown[:, 40:] == plain[:, 40:]).all()  # far from the object only the prior, unchanged
    alone = combine(maps, weights, scale=2.0, normalise="evidence", prior="frame")
    assert alone[20, 30] == 0 and alone[20, 8] == 255 and plain[20, 30] == round(0.3 * centre[20, 30] * 255)
    nothing = {"objects": np.zeros_like(objects), "centre": centre}
    assert (combine(nothing, weights, scale=2.0, normalise="evidence", prior="frame")
            == combine(nothing, weights, scale=2.0, normalise="evidence")).all()  # no evidence: the prior decides
    weak = {"objects": np.where(objects > 0, 0.2, 0).astype(np.float32), "centre": centre}  # below the prior's 0.3
    assert combine(weak, weights, scale=2.0, normalise="evidence", prior="frame")[20, 30] > 0
    with pytest.raises(PreanalysisError, match="take normalise evidence"):
        from_dict(SalienceConfig, {"weights": {"texture": 1.0}, "grow": 1})
    with pytest.raises(PreanalysisError, match="pixel or frame"):
        from_dict(SalienceConfig, {"weights": {"texture": 1.0}, "normalise": "evidence", "prior": "scene"})


def test_maps_stand_aside_only_in_frames_where_the_named_map_is_confident():
    """salience.stand_aside: on a still camera with a trusted background (`still_camera` 1) the listed maps
    (frame-pair motion, the prior) stand aside and what moves off the background is the evidence; on a moving
    camera (`still_camera` 0) every weighted map counts as before.  The rule reads any map (a found face)."""
    walker, noise = np.zeros((20, 30), np.float32), np.zeros((20, 30), np.float32)
    walker[5:15, 2:6] = 1.0
    noise[2:8, 20:28] = 1.0  # frame-pair motion on sensor noise, away from the walker
    weights = {"still_foreground": 1.0, "objects": 0.5, "spectral": 0.5}
    config = from_dict(Config, {"salience": {"weights": weights, "normalise": "evidence", "stand_aside": [
        {"when": "still_camera", "drop": ["objects", "spectral"]}]}})
    maps = {"still_foreground": walker, "objects": noise, "spectral": noise}
    still = frame_salience(maps | {"still_camera": np.ones_like(walker)}, config, 0, 1.0)
    moving = frame_salience(maps | {"still_camera": np.zeros_like(walker)}, config, 0, 1.0)
    assert still[10, 3] == 255 and still[4, 24] == 0
    assert moving[10, 3] == 255 and moving[4, 24] == 128
    assert "still_foreground" in analyser_names(config)
    faces = from_dict(Config, {"salience": {"weights": {"faces": 1.0, "objects": 0.5}, "normalise": "evidence",
                                            "stand_aside": [{"when": "faces", "drop": ["objects"]}]}})
    face = walker * 0.9
    assert frame_salience({"faces": face, "objects": noise}, faces, 0, 1.0)[4, 24] == 0
    assert frame_salience({"faces": face * 0.5, "objects": noise}, faces, 0, 1.0)[4, 24] == 128  # not confident
    with pytest.raises(PreanalysisError, match="drops 'texture', which has no salience weight"):
        from_dict(SalienceConfig, {"weights": {"objects": 0.5}, "normalise": "evidence",
                                   "stand_aside": [{"when": "faces", "drop": ["texture"]}]})
    with pytest.raises(PreanalysisError, match="stand_aside takes normalise evidence"):
        from_dict(SalienceConfig, {"weights": {"objects": 0.5}, "stand_aside": [{"when": "faces", "drop": ["objects"]}]})
    with pytest.raises(PreanalysisError, match="salience.stand_aside: no analyser produces a map called 'gaze'"):
        analyser_names(from_dict(Config, {"salience": {"weights": {"objects": 0.5}, "normalise": "evidence",
                                                       "stand_aside": [{"when": "gaze", "drop": ["objects"]}]}}))
    with pytest.raises(PreanalysisError, match="cannot drop itself"):
        from_dict(SalienceConfig, {"weights": {"objects": 0.5}, "normalise": "evidence",
                                   "stand_aside": [{"when": "objects", "drop": ["objects"]}]})


def test_still_blocks_keep_no_offsets_on_inter_frames(tmp_path):
    """allocate.still_block_levels: over a still background with moving sprites, an inter frame's blocks that did not
    change keep no offsets and the moving ones keep theirs; the scene's first frame keeps all; the budget holds in
    frame and segment modes; at 0 (the default) those blocks keep their offsets."""
    from preanalysis.allocate import block_complexity, predicted_bits, still_blocks
    from preanalysis.config import with_overrides
    from preanalysis.learning.scenes import moving_objects, write_video

    clip = write_video(moving_objects(width=160, height=96, frames=8, objects=2, pan=(0.0, 0.0), seed=3).rgb,
                       tmp_path / "still_background.mkv")
    base = with_overrides(Config(), {"allocate.strength": 1.0, "allocate.verify": False})
    for segment in ("frame", "scene"):
        plain = list(analyze(clip, with_overrides(base, {"allocate.segment": segment})))
        still = list(analyze(clip, with_overrides(base, {"allocate.segment": segment,
                                                          "allocate.still_block_levels": 1.0})))
        assert still[0].scene_start and still[0].qp.offsets.any()
        if segment == "frame":  # a frame alone: the first frame's allocation is untouched
            assert np.array_equal(still[0].qp.offsets, plain[0].qp.offsets)
        for before, fa, p in zip(still, still[1:], plain[1:]):
            w, h = fa.qp.width, fa.qp.height
            unchanged = still_blocks(fa.luma, before.luma, w, h, 1.0)
            assert unchanged.any() and not unchanged.all()  # the background stands, the sprites move
            assert not fa.qp.offsets[unchanged].any() and fa.qp.offsets[~unchanged].any()
            assert p.qp.offsets[unchanged].any()  # without the option they have offsets
        offsets = np.stack([fa.qp.offsets for fa in still])
        complexity = np.stack([block_complexity(fa.luma, fa.qp.width, fa.qp.height) for fa in still])
        budgets = zip(offsets, complexity) if segment == "frame" else [(offsets, complexity)]
        assert all(predicted_bits(o, c) <= c.sum() * (1 + 1e-9) for o, c in budgets)
    assert still_blocks(still[1].luma, None, 160, 96, 1.0) is None
    assert still_blocks(still[1].luma, still[0].luma, 160, 96, 0) is None
    with pytest.raises(PreanalysisError, match=r"still_block_levels must be within \[0, 64\]"):
        from_dict(Config, {"allocate": {"still_block_levels": -1}})


def test_scene_start_gain_scales_or_removes_the_offsets_of_each_scenes_first_frame(tmp_path):
    """allocate.scene_start_gain: the frame that starts a scene (where the encoder puts its I frame at a cut) gets
    its offsets times the gain, the rest of the scene the same offsets as at gain 1 (segment frame); at gain 0
    under a segment budget the other frames keep offsets and the budget holds."""
    from preanalysis.allocate import block_complexity, predicted_bits
    from preanalysis.config import with_overrides
    from preanalysis.learning.scenes import moving_objects, write_video
    from preanalysis.pipeline import frame_qp

    first = moving_objects(width=160, height=96, frames=6, objects=2, pan=(1.0, 0.0), seed=1).rgb
    second = moving_objects(width=160, height=96, frames=6, objects=2, pan=(0.0, 1.0), seed=2).rgb  # a cut
    clip = write_video(np.concatenate([first, second]), tmp_path / "two_scenes.mkv")
    base = with_overrides(Config(), {"allocate.segment": "frame", "allocate.strength": 1.0, "allocate.verify": False})
    mapped = list(analyze(clip, base))
    plain = list(analyze(clip, with_overrides(base, {"allocate.scene_start_gain": 0.0})))
    strong = list(analyze(clip, with_overrides(base, {"allocate.scene_start_gain": 2.0})))
    assert [fa.index for fa in plain if fa.scene_start][:2] == [0, 6]
    for m, p, g in zip(mapped, plain, strong):
        if p.scene_start:
            assert not p.qp.offsets.any() and m.qp.offsets.any()
            assert np.abs(g.qp.offsets).mean() > 1.3 * np.abs(m.qp.offsets).mean()
        else:
            assert np.array_equal(p.qp.offsets, m.qp.offsets) and np.array_equal(g.qp.offsets, m.qp.offsets)
    # the allocation step itself (what `tune` calls for its probes too)
    fa = mapped[0]
    off = with_overrides(base, {"allocate.scene_start_gain": 0.0})
    assert not frame_qp(fa.salience, fa.luma, fa.qp.width, fa.qp.height, off, fa.maps, scene_start=True).offsets.any()
    assert np.array_equal(frame_qp(fa.salience, fa.luma, fa.qp.width, fa.qp.height, off, fa.maps).offsets,
                          fa.qp.offsets)
    # under a segment budget
    for gain in (0.0, 2.0):
        seg = list(analyze(clip, with_overrides(base, {"allocate.segment": "scene", "allocate.scene_start_gain": gain})))
        assert [fa.index for fa in seg if fa.scene_start][:2] == [0, 6]
        for scene in (seg[:6], seg[6:]):
            assert bool(scene[0].qp.offsets.any()) == (gain > 0) and all(fa.qp.offsets.any() for fa in scene[1:])
            offsets = np.stack([fa.qp.offsets for fa in scene])
            complexity = np.stack([block_complexity(fa.luma, fa.qp.width, fa.qp.height) for fa in scene])
            assert predicted_bits(offsets, complexity) <= complexity.sum() * (1 + 1e-9)
    with pytest.raises(PreanalysisError, match=r"scene_start_gain must be within \[0, 8\]"):
        from_dict(Config, {"allocate": {"scene_start_gain": -1}})
    with pytest.raises(PreanalysisError, match="plain_scene_start .now scene_start_gain: 0 for true"):
        from_dict(Config, {"allocate": {"plain_scene_start": True}})
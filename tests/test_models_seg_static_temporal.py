"""Segmentation, StaticMaskNet and the temporal predictor / pre-filter: shipped weights, quick training,
generated-scene ground truth, report figures on a few carphone frames, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from preanalysis import video
from preanalysis.analysers import ANALYSERS, AnalysisContext, load_learned
from preanalysis.analysers.objects import ObjectTracker
from preanalysis.errors import PreanalysisError
from preanalysis.learning import labels, scenes, zoo
from preanalysis.learning.augment import still_camera
from preanalysis.learning.data import full_res_luma, load_clip
from preanalysis.learning.models import objects as segmentation
from preanalysis.learning.models import static
from preanalysis.learning.models import predictability as temporal
from preanalysis.learning.teacher import warp
from preanalysis.learning.weights import save_weights, weights_path
from preanalysis.prefilters.noise import noise_sigma
from preanalysis.prefilters.temporal import prefilter_frames
from preanalysis.learning.scenes import write_video

torch.set_num_threads(1)


def _gray_video(frames: np.ndarray, path) -> object:
    """(T, H, W) float luma in [0, 1] -> a lossless video file."""
    rgb = np.repeat(np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    return write_video(rgb, path)


# ---------------------------------------------------------------- generated scenes


def test_scene_is_deterministic_and_its_flow_is_exact():
    a, b = scenes.generate_scene(5, noise=0), scenes.generate_scene(5, noise=0)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks)
    assert a.frames.shape == (8, 64, 96) and a.flow.shape == (7, 64, 96, 2)
    # Warping frame t+1 by the exact flow rebuilds frame t far better than no motion compensation.
    rebuilt = np.mean([np.abs(warp(a.clean[t + 1], a.flow[t]) - a.clean[t]).mean() for t in range(7)])
    unmoved = np.mean([np.abs(a.clean[t + 1] - a.clean[t]).mean() for t in range(7)])
    assert rebuilt < 0.5 * unmoved
    assert 0.02 < a.masks.mean() < 0.8


# ---------------------------------------------------------------- shipped networks: shapes, determinism


@pytest.mark.parametrize("name", ["objects", "static", "predictability"])
def test_learned_analysers_give_deterministic_maps_of_the_frame_size(name, carphone):
    frames = [f.luma for f in video.frames(carphone, stop=5)]

    load_learned(name)  # learned analysers register on first use

    def run():
        analyser = ANALYSERS[name]()
        out = []
        for i, luma in enumerate(frames):
            ctx = AnalysisContext(i, luma, frames[i - 1] if i else None, 1.0)
            out.append(analyser.process(ctx)[name])
        return out, analyser

    first, analyser = run()
    second, _ = run()
    for m1, m2 in zip(first, second):
        assert m1.shape == frames[0].shape and m1.dtype == np.float32
        assert 0 <= m1.min() and m1.max() <= 1
        assert np.array_equal(m1, m2)
    ids = analyser.object_ids()
    if name == "objects":
        assert ids.shape == frames[0].shape and ids.dtype == np.int32
    else:
        assert ids is None


def test_tracker_keeps_ids_across_frames():
    tracker = ObjectTracker()
    a = np.zeros((40, 60), np.float32)
    a[5:15, 5:15] = 1
    a[20:35, 40:55] = 1
    ids1 = tracker.update(a)
    b = np.roll(a, 3, axis=1)
    b[30:38, 2:10] = 1  # a new object appears
    ids2 = tracker.update(b)
    assert ids1[10, 10] == ids2[10, 13] and ids1[25, 45] == ids2[25, 48]
    assert ids1[10, 10] != ids1[25, 45]
    assert ids2[34, 5] not in (ids1[10, 10], ids1[25, 45], 0)


# ---------------------------------------------------------------- quick training lowers the loss


@pytest.mark.slow
@pytest.mark.parametrize("module", [segmentation, static, temporal])
def test_quick_training_lowers_the_loss(module, carphone, tmp_path):
    out = tmp_path / "w.safetensors"
    result = zoo.train(module.NAME, [carphone], quick=True, out=out)
    assert result["loss_last"] < result["loss_first"]
    assert out.is_file() and out.stat().st_size < 1_000_000


def test_shipped_weights_fit_the_budget():
    sizes = [weights_path(n).stat().st_size for n in (segmentation.NAME, static.NAME, temporal.NAME)]
    assert all(s < 1_000_000 for s in sizes)


# ---------------------------------------------------------------- generated scenes: the known regions


def test_segmentation_finds_the_sprites_of_unseen_scenes():
    seg = segmentation.ObjectsModel()
    inter = union = 0
    for seed in range(300_000, 300_008):  # never trained on (training uses seeds < 400)
        scene = scenes.generate_scene(seed, size=(96, 72), frames=6)
        pred = np.stack([seg.infer(*segmentation.triple(scene.frames, t)) for t in range(1, 6)]) > 0.5
        truth = scene.masks[1:]
        inter, union = inter + (pred & truth).sum(), union + (pred | truth).sum()
    assert inter / union > 0.8  # the target (0.94 with the shipped weights)


def test_static_mask_finds_the_still_background_and_the_moving_sprites():
    masker = static.StaticModel()
    # no camera pan: the background is still, the sprites move
    scene = scenes.generate_scene(200_001, size=(96, 72), frames=static.WINDOW, max_pan=0.0, noise=3)
    prob = masker.infer(scene.frames)
    truth = scene.static
    assert prob[truth].mean() > 0.7 and prob[~truth].mean() < 0.4


# ---------------------------------------------------------------- report figures on a few real frames


def test_segmentation_report(carphone):
    r = segmentation.report([carphone], max_frames=5)
    assert r["heldout_iou"] >= r["iou_target"] == 0.8  # the shipped net on 20 unseen generated scenes
    clip = r["clips"][carphone.name]
    assert clip["frames"] == 5 and 0 < clip["moving_fraction"] < 0.5
    assert 0 <= clip["precision"] <= 1 and clip["moving_pixels_covered"] == pytest.approx(r["moving_pixels_covered"])
    assert r["target_met"] == clip["target_met"] == (clip["foreground_fraction"] <= 2 * clip["moving_fraction"] + 0.05
                                                     and clip["moving_pixels_covered"] >= 0.7)


@pytest.mark.xfail(strict=True, reason="issue 12's target, not met yet: against the consistent real-motion labels "
                   "(learning/labels.py) the `objects` map marks 0.14 of these carphone frames where 0.025 moves "
                   "(the net alone marked 0.19)")
def test_segmentation_marks_the_moving_head_not_the_frame(carphone):
    clip = segmentation.report([carphone], max_frames=5)["clips"][carphone.name]
    assert clip["foreground_fraction"] <= 2 * clip["moving_fraction"] + 0.05, clip


def _objects_maps(frames: np.ndarray) -> list[np.ndarray]:
    """The `objects` analyser's map for each frame of a shot, as the pipeline runs it."""
    load_learned("objects")
    analyser = ANALYSERS["objects"]()
    return [analyser.process(AnalysisContext(t, f, frames[t - 1] if t else None, 1.0))["objects"]
            for t, f in enumerate(frames)]


@pytest.mark.parametrize("pan, least_covered", [((0.0, 0.0), 0.85), ((1.5, -1.0), 0.5)])
def test_objects_map_marks_the_moving_sprites_not_the_frame(pan, least_covered):
    """Generated scenes with exact sprite masks, still and panning camera: the map (motion unlike the
    camera's, the net's foreground near it) covers the sprites and marks little else (measured: 0.93 covered
    at 0.94 precision on the still camera, 0.62 at 0.89 panning)."""
    pred, truth = [], []
    for seed in range(300_100, 300_104):
        scene = scenes.generate_scene(seed, size=(192, 128), frames=6, pan=pan, noise=2)
        pred.append(np.stack(_objects_maps(scene.frames)[2:]) > 0.5)
        truth.append(scene.masks[2:])
    pred, truth = np.stack(pred), np.stack(truth)
    covered, precision = (pred & truth).sum() / truth.sum(), (pred & truth).sum() / pred.sum()
    assert covered >= least_covered and pred.mean() <= 2 * truth.mean() + 0.05 and precision >= 0.8, (covered, precision)


def test_objects_map_is_empty_on_a_still_camera():
    """A tripod (a quarter-pixel tremor) and sensor noise: nothing moves, nothing is marked.  (With half a pixel
    each way, up to a pixel between frames, the labels' rule marks a few percent of a frame now and then.)"""
    frame = scenes.generate_scene(300_200, size=(192, 128), frames=1, noise=0).frames[0]
    still = np.clip(still_camera(frame, 6, np.random.default_rng(0), max_shift=0.25)
                    + np.random.default_rng(1).normal(0, 2 / 255, (6, 128, 192)), 0, 1).astype(np.float32)
    assert max((m > 0.5).mean() for m in _objects_maps(still)) < 0.01


def _small_mover(seed: int, frames: int = 6, radius: int = 3, speed=(1.5, 0.5), size=(480, 272)):
    """A still camera (sensor noise) on a generated background, and a small disc (radius 3 px at 480 wide: a
    thrown ball) moving 1.6 px a frame: (frames, masks)."""
    rng = np.random.default_rng(seed)
    background = scenes.generate_scene(seed, size=size, frames=1, noise=0).frames[0]
    ys, xs = np.mgrid[0:size[1], 0:size[0]]
    out, masks = [], []
    for t in range(frames):
        mask = (xs - 200 - speed[0] * t) ** 2 + (ys - 120 - speed[1] * t) ** 2 <= radius ** 2
        frame = np.where(mask, 0.95 if seed % 2 else 0.05, background)
        out.append(np.clip(frame + rng.normal(0, 2 / 255, frame.shape), 0, 1).astype(np.float32))
        masks.append(mask)
    return np.stack(out), np.stack(masks)


@pytest.mark.xfail(strict=True, reason="issue 12: the evidence is judged at most 240 px wide, where a small slow "
                   "mover on a still camera is covered 0.60; judging a still camera at the analysis resolution "
                   "covered 0.90 but was not shipped (held out 1 of 10 clips met, docs/models.md, i12s)")
def test_objects_map_covers_a_small_mover_on_a_still_camera():
    """A still camera's small, slow mover (a thrown ball) should be covered by the motion evidence."""
    pred, truth = [], []
    for seed in range(400, 404):
        frames, masks = _small_mover(seed)
        pred.append(np.stack(_objects_maps(frames)[2:]) > 0.5)
        truth.append(masks[2:])
    pred, truth = np.stack(pred), np.stack(truth)
    assert (pred & truth).sum() / truth.sum() >= 0.8 and pred.mean() < 0.01, ((pred & truth).sum() / truth.sum(), pred.mean())


def _flat_pan(seed: int, frames: int = 6, pan=(1.5, -1.0), size=(480, 272)) -> np.ndarray:
    """Flat-shaded ellipses (cartoon) under a camera panning `pan` px a frame; nothing moves unlike it."""
    rng = np.random.default_rng(seed)
    canvas = np.full((size[1] + 40, size[0] + 40), 0.3, np.float32)
    for _ in range(12):
        centre = (int(rng.integers(0, canvas.shape[1])), int(rng.integers(0, canvas.shape[0])))
        axes = (int(rng.integers(10, 60)), int(rng.integers(10, 40)))
        cv2.ellipse(canvas, centre, axes, float(rng.integers(0, 180)), 0, 360, float(rng.random()), -1)
    shift = lambda t: np.float32([[1, 0, -20 + pan[0] * t], [0, 1, -20 + pan[1] * t]])  # noqa: E731
    return np.stack([cv2.warpAffine(canvas, shift(t), size, flags=cv2.INTER_LINEAR) for t in range(frames)])


@pytest.mark.xfail(strict=True, reason="issue 12: on a flat animated pan the backbone's field is wrong at the "
                   "shapes' outlines, which the frames show moving: the map marks 0.10-0.13 of the frame")
def test_objects_map_is_empty_on_a_flat_animated_pan():
    assert max((np.stack(_objects_maps(_flat_pan(seed))[1:]) > 0.5).mean() for seed in range(500, 503)) < 0.02


def test_static_report(carphone):
    r = static.report([carphone], max_frames=6)
    clip = r["clips"][carphone.name]
    for key in ("agreement", "agreement_frame_difference", "accuracy_vs_teacher"):
        assert 0 <= clip[key] <= 1
    # the network is trained for flicker and noise; a plain frame difference is not
    assert clip["agreement"] > clip["agreement_frame_difference"]


@pytest.mark.slow
def test_temporal_report_with_encodes(carphone):
    from eval.temporal_report import encode_report

    r = temporal.report([carphone], max_frames=6)
    clip = r["clips"][carphone.name]
    assert np.isfinite(clip["prediction_psnr"]) and 0 <= clip["mean_mask"] <= 1
    assert 0.5 < clip["noise_sigma"] < 4
    enc = encode_report([carphone], frames=6)[carphone.name]
    assert enc["sigma_4"]["noise_sigma_measured"] > enc["sigma_0"]["noise_sigma_measured"]
    for case in enc.values():
        for label in ("off", "temporal"):
            assert case[label]["kbps"] > 0 and 0 <= case[label]["vmaf"] <= 100
    # carphone is clean: `auto` leaves it untouched, so the encodes are identical
    assert enc["sigma_0"]["off"] == enc["sigma_0"]["temporal"]


# ---------------------------------------------------------------- the pre-filter


def test_prefilter_keeps_timing_passes_clean_sources_and_denoises_noisy_ones(carphone, tmp_path):
    clean = load_clip(carphone, 0, 8, max_width=176, teacher=False).luma
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 6 / 255, clean.shape), 0, 1)
    path = _gray_video(noisy.astype(np.float32), tmp_path / "noisy.mkv")
    original = list(video.decode(path))
    out = list(prefilter_frames(video.decode(path), "auto"))
    assert [(d.index, d.pts) for d in out] == [(d.index, d.pts) for d in original]
    assert all(d.frame.time_base == o.frame.time_base for d, o in zip(out, original))
    luma_in = np.stack([o.frame.to_ndarray(format="gray") / 255 for o in original])
    luma_out = np.stack([d.frame.to_ndarray(format="gray") / 255 for d in out])
    err_in, err_out = np.abs(luma_in[3:] - clean[3:]).mean(), np.abs(luma_out[3:] - clean[3:]).mean()
    assert err_out < 0.95 * err_in
    passed = list(prefilter_frames(video.decode(carphone, 0, 4), "auto"))
    assert all(np.array_equal(p.frame.to_ndarray(), o.frame.to_ndarray())
               for p, o in zip(passed, video.decode(carphone, 0, 4)))
    with pytest.raises(PreanalysisError, match="strength"):
        list(prefilter_frames(video.decode(carphone, 0, 2), 3.0))


def test_noise_estimate_tracks_added_noise(carphone):
    luma = full_res_luma(carphone, 1)[0]
    noisy = luma + np.random.default_rng(0).normal(0, 4 / 255, luma.shape)
    assert noise_sigma(luma) < 2.5
    assert 3.5 < noise_sigma(noisy) < 5.5


# ---------------------------------------------------------------- bad input


def test_clip_shorter_than_the_temporal_window_is_refused(carphone, tmp_path):
    short = _gray_video(load_clip(carphone, 0, 2, max_width=160, teacher=False).luma, tmp_path / "short.mkv")
    with pytest.raises(PreanalysisError, match="needs at least 4"):
        temporal.report([short])
    with pytest.raises(PreanalysisError, match="static mask needs 4"):
        static.report([short])


def test_missing_and_foreign_weights_give_clear_errors(tmp_path):
    with pytest.raises(PreanalysisError, match="missing"):
        segmentation.ObjectsModel(tmp_path / "none.safetensors")
    foreign = save_weights(static.StaticMaskNet(), tmp_path / "static.safetensors", static.ARCH)
    with pytest.raises(PreanalysisError, match="architecture"):
        temporal.PredictabilityModel(foreign)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(PreanalysisError, match="corrupt"):
        static.StaticModel(tmp_path / "bad.safetensors")


def test_static_input_is_blind_to_a_brightness_change_even_where_it_clips():
    """Flicker that pushes highlights into clipping must not show up as frame differences elsewhere (the
    plain frame mean it replaced was pulled down by the clipped highlights)."""
    rng = np.random.default_rng(0)
    frames = np.stack([rng.random((72, 96)).astype(np.float32)] * static.WINDOW)
    gain = np.array([1.0, 1.2, 0.8, 1.1], np.float32)[:, None, None]
    flickered = np.clip(frames * gain, 0, 1)
    unclipped = np.all(frames * gain < 1, axis=0)
    assert (~unclipped).mean() > 0.1
    a, b = static.network_input(frames), static.network_input(flickered)
    assert np.abs(a - b)[:, unclipped].max() < 1e-5


def test_objects_map_is_empty_on_flat_frames_and_a_fade():
    """Black frames, then a cut to grey (a letterbox or a fade has such frames): nothing moves, no failure."""
    frames = np.stack([np.zeros((64, 96), np.float32)] * 3 + [np.full((64, 96), 0.5, np.float32)] * 2)
    assert max(m.max() for m in _objects_maps(frames)) == 0


# ---------------------------------------------------------------- real-motion labels


def test_camera_model_is_the_pan_or_still_and_ignores_what_moves_in_front():
    flow = np.zeros((90, 160, 2), np.float32)
    flow[20:50, 30:70] = (4.0, -3.0)  # an object moving in front of the camera
    assert np.array_equal(labels.camera_model(flow, 1.0), np.zeros_like(flow))  # still camera
    panned = flow + np.float32((1.5, 2.0))
    panned[20:50, 30:70] = (4.0, -3.0)
    model = labels.camera_model(panned, 1.0)
    assert np.allclose(model, (1.5, 2.0), atol=1e-4)


def test_the_fast_length_and_the_still_camera_shortcut_give_the_labels_the_same_floats():
    """The labels' speed-ups (|v| without np.linalg.norm, no warp for a still camera) change none of their
    floats: warping by a zero field returns the frame itself."""
    rng = np.random.default_rng(3)
    v = (rng.standard_normal((64, 96, 2)) * 3).astype(np.float32)
    assert np.array_equal(labels._length(v), np.linalg.norm(v, axis=-1))
    scene = scenes.generate_scene(300_310, size=(160, 96), frames=3, pan=(1.0, 0.5), noise=2)
    other = scene.frames[0]
    still = np.zeros((*other.shape, 2), np.float32)
    assert not labels.camera_model(still, labels.MOVING_PX).any()
    assert np.array_equal(labels.warp(other, still), other.astype(np.float32))


def test_labels_mark_the_moving_sprites_of_generated_scenes():
    """The teacher-flow labels the net trains on and the report judges by (measured 0.89 precision, 0.58 of
    the sprites' pixels on these scenes: the flat insides of sprites join only near evidence)."""
    pred, truth = [], []
    for seed in range(300_300, 300_303):
        scene = scenes.generate_scene(seed, size=(160, 96), frames=5, noise=2)
        pred.append(labels.label_frames(scene.frames, range(1, 4)) > 0.5)
        truth.append(scene.masks[1:4])
    pred, truth = np.stack(pred), np.stack(truth)
    hit = (pred & truth).sum()
    assert hit / pred.sum() >= 0.85 and hit / truth.sum() >= 0.5, (hit / pred.sum(), hit / truth.sum())

"""People, faces and text overlays (issue 12): the tracker, each analyser against true or hand-drawn boxes."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from eval.judge import load_regions
from preanalysis import video
from preanalysis.analysers import AnalysisContext
from preanalysis.analysers.faces import Faces
from preanalysis.analysers.people import People
from preanalysis.analysers.spectral import Spectral
from preanalysis.analysers.still_foreground import MATURE_FRAMES, StillForeground
from preanalysis.analysers.text import Text
from preanalysis.analysers.tracking import BoxTracker, ellipse_map, suppress
from preanalysis.learning.scenes import draw_overlays, moving_objects, walking_people

DATA = Path(__file__).parent / "data"


def luma(rgb: np.ndarray, factor: int = 1) -> np.ndarray:
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if factor > 1:
        y = cv2.resize(y, (y.shape[1] // factor, y.shape[0] // factor), interpolation=cv2.INTER_AREA)
    return y.astype(np.float32) / 255


def run(analyser, lumas, scale: float = 1.0) -> np.ndarray:
    out, previous = [], None
    for i, y in enumerate(lumas):
        out.append(analyser.process(AnalysisContext(i, y, previous, scale))[analyser.name])
        previous = y
    return np.array(out)


def box_masks(boxes: np.ndarray, shape: tuple[int, int], factor: int) -> np.ndarray:
    """bool (n, h, w) at analysis size from per-frame full-size boxes (n, k, 4)."""
    out = np.zeros((len(boxes),) + shape, bool)
    for t, frame_boxes in enumerate(boxes):
        for x, y, w, h in frame_boxes // factor:
            out[t, max(0, y) : y + h, max(0, x) : x + w] = True
    return out


# --- tracker ------------------------------------------------------------------------------------------------


def test_track_confirmed_after_two_hits_and_kept_through_short_misses():
    tracker = BoxTracker(confirm=2, memory=2)
    box = np.array([[10.0, 10.0, 20.0, 40.0]])
    tracker.update(box, np.array([0.9]))
    assert tracker.confirmed() == []  # one hit may be a false detection
    tracker.update(box + 1, np.array([0.9]))
    assert len(tracker.confirmed()) == 1
    for _ in range(2):  # missed detections: the region stays (fading)
        tracker.update(np.zeros((0, 4)), np.zeros(0))
        assert len(tracker.confirmed()) == 1
    assert tracker.confirmed()[0].confidence < 0.9
    tracker.update(np.zeros((0, 4)), np.zeros(0))
    assert tracker.tracks == []
    tracker.update(box, np.array([0.9]))
    tracker.reset()
    assert tracker.tracks == []


def test_track_follows_the_flow_between_detections():
    tracker = BoxTracker()
    tracker.update(np.array([[40.0, 30.0, 20.0, 20.0]]), np.array([1.0]))
    flow = np.zeros((100, 120, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0
    tracker.follow(flow)
    np.testing.assert_allclose(tracker.tracks[0].box, [43.0, 28.0, 20.0, 20.0])


def test_ellipse_map_is_soft_bounded_and_centred():
    tracker = BoxTracker(confirm=1)
    tracker.update(np.array([[20.0, 10.0, 40.0, 60.0]]), np.array([0.8]))
    m = ellipse_map((100, 100), tracker.confirmed())
    assert m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
    assert m[40, 40] == pytest.approx(0.8)  # box centre: the detection's confidence
    assert m[0, 0] == 0 and m[99, 99] == 0  # far outside the grown ellipse
    assert 0 < m[40, 63] < 0.8  # just outside the box's side: the soft edge


def test_suppress_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10]], np.float64)
    kept, scores = suppress(boxes, np.array([0.5, 0.9, 0.3]))
    assert kept.tolist() == [[1, 1, 10, 10], [50, 50, 10, 10]] and scores.tolist() == [0.9, 0.3]


# --- faces --------------------------------------------------------------------------------------------------


def test_faces_cover_the_hand_annotated_face_on_carphone(carphone):
    regions = load_regions(DATA / "carphone_face_regions.json", 176, 144)
    frames = list(video.frames(carphone, stop=60))
    maps = run(Faces(), [f.luma for f in frames])
    truth = np.array([regions.mask(f.index, 176, 144) for f in frames])
    found = maps > 0.5
    coverage = [(found[t] & truth[t]).sum() / truth[t].sum() for t in range(3, len(frames))]
    assert np.mean(np.array(coverage) > 0.3) >= 0.9  # measured 0.97 over all 120 frames
    assert np.mean(coverage) >= 0.6  # measured 0.73
    assert (found & truth).sum() / found.sum() >= 0.6  # precision; measured 0.87 (the ellipse takes in hair)


def face_moving_across(carphone: Path, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """carphone's first face (the hand box plus a 10-pixel margin) pasted onto a generated panning scene and
    moved 6 px right and 1 px down per frame: (RGB frames, the true face box as a mask in every frame)."""
    with av.open(str(carphone)) as clip:
        patch = next(clip.decode(video=0)).to_ndarray(format="rgb24")[15:105, 50:128]
    rgb = moving_objects(width=320, height=192, frames=frames, objects=2, pan=(1.0, 0.5), seed=5).rgb.copy()
    truth = np.zeros(rgb.shape[:3], bool)
    for t in range(len(rgb)):
        x, y = 40 + 6 * t, 50 + t
        rgb[t, y : y + 90, x : x + 78] = patch
        truth[t, y + 10 : y + 80, x + 10 : x + 68] = True
    return rgb, truth


def test_faces_follow_a_face_moving_across_a_generated_scene(carphone):
    frames, truth = face_moving_across(carphone, 18)
    found = run(Faces(), [luma(f) for f in frames]) > 0.5
    coverage = np.array([(found[t] & truth[t]).sum() / truth[t].sum() for t in range(3, len(frames))])
    assert np.mean(coverage > 0.3) >= 0.75  # measured 0.86 (24 frames)
    assert (found & truth).sum() / found.sum() >= 0.8  # precision; measured 0.96: the map moves with the face


def small_face_scene(carphone: Path, share: float, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A 1280x720 screen-sized scene (generated panning textures) with carphone's face pasted so its face box
    (the frontal cascade's, 61 px in the clip) is `share` of the frame height, drifting right 1 px a frame:
    (uint8 Y frames, the true face box (x, y, w, h) per frame in source pixels)."""
    with av.open(str(carphone)) as clip:
        patch = cv2.cvtColor(next(clip.decode(video=0)).to_ndarray(format="rgb24")[4:125, 29:150], cv2.COLOR_RGB2GRAY)
    k = share * 720 / 61
    patch = cv2.resize(patch, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    scene = moving_objects(width=320, height=180, frames=frames, objects=2, pan=(0.5, 0.25), seed=3)
    ys, boxes = [], []
    for t, rgb in enumerate(scene.rgb):
        y = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (1280, 720), interpolation=cv2.INTER_LINEAR)
        x0, y0 = 700 + t, 300
        y[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = patch
        ys.append(y)
        boxes.append(np.array([x0 + 30 * k, y0 + 30 * k, 61 * k, 61 * k]))
    return np.array(ys), np.array(boxes)


def run_with_source(analyser, ys: np.ndarray, size: tuple[int, int] = (320, 180)) -> np.ndarray:
    """The analyser's maps with the source Y planes in the context, as the pipeline runs it."""
    out, previous = [], None
    for i, y in enumerate(ys):
        luma = video.shrink_luma(y, size)
        out.append(analyser.process(AnalysisContext(i, luma, previous, y.shape[1] / size[0], source=y))[analyser.name])
        previous = luma
    return np.array(out)


def test_faces_find_a_small_face_in_a_screen_sized_frame(carphone):
    """carphone's face at 6% of 720 rows (43 px) is 11 analysis pixels at 320x180, under the full-frame scan's
    floor (18): the small-face scan finds it on the source frame; the analysis luma alone does not.  (Its window
    is SMALL_FACE_SHARE, 3%; carphone's soft face is found reliably from 6%, sharper faces from 4-5%: recall per
    size in docs/results.md, "Small faces".)"""
    ys, boxes = small_face_scene(carphone, 0.06, 24)
    found = run_with_source(Faces(), ys) > 0.5
    truth = np.zeros_like(found)
    near = np.zeros_like(found)
    for t, (x, y, w, h) in enumerate(boxes / 4):
        truth[t, int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))] = True
        near[t, max(0, int(y - h)) : int(y + 2 * h), max(0, int(x - w)) : int(x + 2 * w)] = True
    coverage = np.array([(found[t] & truth[t]).sum() / truth[t].sum() for t in range(6, len(ys))])
    # measured 1.0 (found on frame 0, confirmed by the crop on frame 3); the same face over the 18-frame version
    # of this background is lost on frame 9 (its 11-px box follows the panning texture's flow off the face)
    assert np.mean(coverage > 0.3) >= 0.8
    assert (found & ~near).sum() == 0  # nothing marked away from the face
    without_source = run(Faces(), [video.shrink_luma(y, (320, 180)) for y in ys], 4.0) > 0.5
    assert not without_source.any()  # the luma enlarged 3.7x holds too little of the face


def test_faces_small_face_scan_marks_little_without_faces():
    def enlarged(seed: int, pan: tuple[float, float]) -> np.ndarray:
        scene = moving_objects(width=320, height=180, frames=12, objects=3, pan=pan, seed=seed)
        return np.array([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (1280, 720)) for f in scene.rgb])

    assert run_with_source(Faces(), enlarged(9, (0.5, 0.25))).max() == 0
    # the small scan is not free of false faces: here one 14-px texture patch is confirmed (0.3% of the frame;
    # 0.02 false tracks per frame on the generated face scenes, none added on real face-free frames)
    assert (run_with_source(Faces(), enlarged(4, (1.5, 0.5))) > 0.5).mean() < 0.005


def test_faces_mark_nothing_without_faces():
    scene = moving_objects(width=320, height=192, frames=12, objects=3, pan=(1.5, 0.5), seed=4)
    maps = run(Faces(), [luma(f) for f in scene.rgb])
    assert maps.max() == 0


# --- spectral residual ----------------------------------------------------------------------------------


def test_spectral_marks_an_object_that_stands_out_from_a_plain_surround():
    """A coin-sized dark disc on a softly lit table (no motion, no detector sees it) stands out; the table does
    not, and a flat frame gives an empty map (a fixed scale of the frame's mean, never rescaled to fill 0..1)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:180, 0:320]
    table = 0.75 + 0.1 * x / 320 + rng.normal(0, 0.01, (180, 320))
    disc = (y - 60) ** 2 + (x - 230) ** 2 < 14 ** 2
    frame = np.where(disc, 0.35, table).astype(np.float32)
    spectral = run(Spectral(), [frame])[0]
    around = (y - 60) ** 2 + (x - 230) ** 2 < 45 ** 2  # the smoothing spreads the disc's mark ~2 radii
    assert spectral[disc].mean() > 0.5 and (spectral > 0.5)[~around].mean() < 0.02
    assert (spectral > 0.5).mean() < 0.1
    flat = run(Spectral(), [np.full((180, 320), 0.5, np.float32)])[0]
    assert np.isfinite(flat).all() and flat.max() == 0


# --- people -------------------------------------------------------------------------------------------------


def test_people_follow_generated_walkers():
    scene = moving_objects(width=640, height=360, frames=24, objects=1, pan=(1.5, 0.0), seed=0)
    frames, boxes = walking_people(scene.rgb, people=2, seed=0)
    maps = run(People(), [luma(f, 2) for f in frames], scale=2.0)
    truth = box_masks(boxes, (180, 320), 2)
    found = maps > 0.5
    assert (found[4:] & truth[4:]).sum() / truth[
        4:
    ].sum() >= 0.5  # coverage after confirmation; measured 0.68
    assert (found & truth).sum() / max(1, found.sum()) >= 0.6  # precision; measured 0.83
    without = run(People(), [luma(f, 2) for f in scene.rgb], scale=2.0)
    assert (without > 0.5).mean() < 0.01  # no people: (almost) nothing marked


# --- still_foreground ---------------------------------------------------------------------------------------


def noisy_walkers(pan: tuple[float, float], frames: int = 40, sigma: float = 3.0, walkers: bool = True):
    """Two walkers (already in the first frame, so the model starts with them in it) over a generated scene
    with sensor noise; (frames at analysis size 320x180, the walkers' boxes at that size)."""
    scene = moving_objects(width=640, height=360, frames=frames, objects=0, pan=pan, seed=0)
    rgb, boxes = walking_people(scene.rgb, people=2, seed=0) if walkers else (scene.rgb, None)
    noise = np.random.default_rng(1).normal(0, sigma, rgb.shape)
    rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    return [luma(f, 2) for f in rgb], None if boxes is None else box_masks(boxes, (180, 320), 2)


def test_still_foreground_marks_walkers_on_a_still_camera_and_not_the_noise():
    lumas, truth = noisy_walkers(pan=(0.0, 0.0))
    maps = run(StillForeground(), lumas, scale=2.0)
    assert maps[:MATURE_FRAMES].max() == 0  # the background model is not trusted before it has seen enough
    found, truth = maps[12:] > 0.5, truth[12:]
    # the walkers' boxes (a stick figure fills 0.48 of its box); where they stood at the start (in the model's
    # first frame: a ghost once they leave) is not marked
    assert (found & truth).sum() / found.sum() >= 0.75  # precision; measured 0.86
    assert (found & truth).sum() / truth.sum() >= 0.4  # coverage of the boxes; measured 0.56
    empty, _ = noisy_walkers(pan=(0.0, 0.0), walkers=False)
    assert run(StillForeground(), empty, scale=2.0).max() == 0  # noise alone marks nothing


def test_still_foreground_is_silent_while_the_camera_moves_and_starts_again_when_it_stops():
    panning, _ = noisy_walkers(pan=(1.5, 0.0), frames=20)
    still, truth = noisy_walkers(pan=(0.0, 0.0), frames=30)
    maps = run(StillForeground(), panning + still, scale=2.0)
    assert maps[:20].max() == 0  # a moving camera has no background to learn
    assert maps[20 : 20 + MATURE_FRAMES].max() == 0  # learnt again from the first still frame
    assert ((maps[20 + MATURE_FRAMES :] > 0.5) & truth[MATURE_FRAMES:]).any()


# --- text ---------------------------------------------------------------------------------------------------


def overlay_scores(
    maps: np.ndarray, masks: dict[str, np.ndarray], factor: int, skip: int = 8
) -> dict[str, float]:
    found = maps[skip:] > 0.5
    small = {
        k: np.array(
            [
                cv2.resize(m.astype(np.uint8), found.shape[:0:-1], interpolation=cv2.INTER_AREA) > 0
                for m in v[skip:]
            ]
        )
        for k, v in masks.items()
    }
    truth = np.any(list(small.values()), axis=0)
    out = {"precision": (found & truth).sum() / max(1, found.sum())}
    out.update({k: (found & m).sum() / m.sum() for k, m in small.items()})
    return out


@pytest.mark.parametrize("shape", [(47, 81), (38, 66), (120, 40)])
def test_detectors_on_frames_smaller_than_their_window_find_nothing(shape):
    """HOG's window is 64x128 (it crashed OpenCV on an 81x47 analysis frame); Haar's is 24x24."""
    luma = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for detector in (People(), Faces()):
        boxes, scores = detector.detect(luma)
        assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_text_finds_static_overlays_over_a_moving_scene():
    scene = moving_objects(width=640, height=360, frames=32, objects=3, pan=(2.0, 0.5), seed=7)
    drawn = draw_overlays(scene.rgb, seed=7)
    scores = overlay_scores(run(Text(), [luma(f, 2) for f in drawn.frames], 2.0), drawn.masks, 2)
    assert scores["precision"] >= 0.5  # measured 0.59 (blocks overhang the text's rectangle)
    assert scores["logo"] >= 0.6 and scores["score"] >= 0.8  # measured 0.74 / 1.00
    assert scores["caption"] >= 0.3  # measured 0.53
    # a scrolling ticker moves: this classical map does not find it (recall 0.01, FINDINGS issue 12)
    plain = run(Text(), [luma(f, 2) for f in scene.rgb], 2.0)
    assert (plain > 0.5).mean() < 0.01


def test_text_resets_at_cuts():
    scene = moving_objects(width=320, height=192, frames=12, objects=1, pan=(2.0, 0.0), seed=1)
    drawn = draw_overlays(scene.rgb, kinds=("logo",), seed=1)
    analyser = Text()
    before = run(analyser, [luma(f) for f in drawn.frames])[-1]
    assert before.max() > 0.5  # the logo is marked (0.94 on OpenCV 4.14, 1.0 on 5.0)
    analyser.reset()
    first = analyser.process(AnalysisContext(0, luma(drawn.frames[0]), None, 1.0))["text"]
    assert first.max() == 0  # persistence starts again


# --- the salience preset ------------------------------------------------------------------------------------


def test_salience_preset_protects_off_centre_walkers(tmp_path):
    """Two people walking at a fifth and four fifths of the frame's width (off the centre prior's ellipse): the
    shipped preset gives their blocks more bits (negative offsets) than the centre of the frame."""
    from preanalysis.config import load_config
    from preanalysis.learning.scenes import write_video
    from preanalysis.pipeline import analyze

    scene = moving_objects(width=640, height=360, frames=24, objects=1, pan=(1.5, 0.0), seed=0)
    frames, boxes = walking_people(scene.rgb, people=2, seed=0)  # the scene test_people_follow_generated_walkers finds
    qp = np.stack([fa.qp.offsets for fa in analyze(write_video(frames, tmp_path / "walk.mkv"), load_config("salience"))])
    walkers = np.pad(box_masks(boxes, (360, 640), 1), ((0, 0), (0, 8), (0, 0)))  # 23 block rows, the last half
    walkers = walkers.reshape(len(frames), 23, 16, 40, 16).mean(axis=(2, 4)) > 0.5
    centre = np.zeros((23, 40), bool)
    centre[8:15, 16:24] = True  # the middle of the frame, where no walker goes
    assert not (walkers & centre).any()
    late = slice(8, None)  # after the detector confirmed them
    assert (qp[late][walkers[late]] < 0).mean() >= 0.7  # measured 0.92
    assert qp[late][walkers[late]].mean() < qp[late][:, centre].mean() - 2  # measured -3.08 against -0.04

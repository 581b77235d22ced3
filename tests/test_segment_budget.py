"""Allocation over a segment budget (issue 11): bits move between frames, never out of the segment."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from preanalysis.allocate import frame_offsets, predicted_bits, segment_offsets
from preanalysis.analysers.base import AnalysisContext
from preanalysis.analysers.temporal_masking import TemporalMasking, motion2
from preanalysis.config import AllocateConfig
from preanalysis.errors import PreanalysisError


@st.composite
def segments(draw):
    frames, rows, cols = draw(st.integers(1, 12)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    raw = draw(arrays(np.float64, (frames, rows, cols), elements=st.floats(-8, 8)))
    complexity = draw(arrays(np.float64, (frames, rows, cols), elements=st.floats(0.5, 500)))
    frame = draw(arrays(np.float64, (frames,), elements=st.floats(-10, 10)))
    return raw, complexity, frame


@settings(max_examples=300, deadline=None)
@given(segments(), st.floats(0, 8), st.integers(-12, 0), st.integers(0, 12))
def test_segment_budget_is_never_exceeded(segment, frame_range, lo, hi):
    raw, complexity, frame = segment
    out = segment_offsets(raw, complexity, frame, frame_range, lo, hi)
    assert out.dtype == np.int8 and out.shape == raw.shape
    assert predicted_bits(out, complexity) <= complexity.sum() * (1 + 1e-9)
    assert out.min() >= lo and out.max() <= hi


@settings(max_examples=200, deadline=None)
@given(segments(), st.data())
def test_plain_frames_keep_no_offsets_and_the_rest_keep_the_budget(segment, data):
    raw, complexity, frame = segment
    plain = data.draw(arrays(np.bool_, (len(raw),)))
    out = segment_offsets(raw, complexity, frame, 2.0, -6, 6, plain)
    assert not out[plain].any()
    assert predicted_bits(out, complexity) <= complexity.sum() * (1 + 1e-9)
    if plain.any() and not plain.all():  # the other frames are planned as a segment of their own
        rest = ~plain
        assert np.array_equal(out[rest], segment_offsets(raw[rest], complexity[rest], frame[rest], 2.0, -6, 6))


@settings(max_examples=200, deadline=None)
@given(segments(), st.data())
def test_still_blocks_keep_no_offsets_and_the_rest_keep_the_budget(segment, data):
    """allocate.still_block_levels: blocks that did not change keep offset 0 (with or without plain frames)."""
    raw, complexity, frame = segment
    still = data.draw(arrays(np.bool_, raw.shape))
    plain = data.draw(st.none() | arrays(np.bool_, (len(raw),)))
    out = segment_offsets(raw, complexity, frame, 2.0, -6, 6, plain, still)
    assert not out[still].any()
    assert predicted_bits(out, complexity) <= complexity.sum() * (1 + 1e-9)
    if plain is not None:
        assert not out[plain].any()
    if not still.any():
        assert np.array_equal(out, segment_offsets(raw, complexity, frame, 2.0, -6, 6, plain))


def test_frames_trade_bits_within_the_segment_and_within_bounds():
    complexity = np.ones((4, 3, 3))
    frame = np.array([-3.0, -3.0, 3.0, 3.0])  # fewer bits on the moving half, more on the still half
    out = segment_offsets(np.zeros_like(complexity), complexity, frame, 2.0, -6, 6)
    means = out.mean(axis=(1, 2))
    assert np.all(means[:2] < 0) and np.all(means[2:] > 0)  # one frame gains what another gives
    assert means[2] - means[0] <= 2 * 2.0 + 1  # the frame part is bounded (+-2 around the centre, rounding)
    assert predicted_bits(out, complexity) <= complexity.sum()
    # per frame, the same offsets would have been cancelled: each frame alone re-centres to zero
    per_frame = np.stack([segment_offsets(np.zeros((1, 3, 3)), np.ones((1, 3, 3)), f[None], 2.0, -6, 6)
                          for f in frame])
    assert not per_frame.any()


def test_frame_offsets_per_scene_move_bits_between_scenes_only():
    log_motion = np.array([1.0, 2.0, 1.0, 4.0, 5.0, 3.0])
    starts = np.array([True, False, False, True, False, False])
    scene = frame_offsets(log_motion, starts, 2.0, "scene")
    assert np.allclose(scene, [-8 / 3] * 3 + [8 / 3] * 3)  # scene means 4/3 and 4, centred, x2
    frame = frame_offsets(log_motion, starts, 1.0, "frame")
    assert np.allclose(frame, log_motion - log_motion.mean())
    with pytest.raises(PreanalysisError, match="frame or scene"):
        frame_offsets(log_motion, starts, 1.0, "gop")


def test_motion2_takes_the_smaller_side_and_never_crosses_a_cut():
    backward = np.array([0.0, 4.0, 2.0, 50.0, 6.0, 1.0])
    starts = np.array([True, False, False, True, False, False])
    assert np.allclose(motion2(backward, starts), [4.0, 2.0, 2.0, 6.0, 1.0, 1.0])


def test_temporal_masking_map_is_vmaf_motion_per_block():
    rng = np.random.default_rng(0)
    still = rng.random((64, 96), dtype=np.float32)
    moved = still.copy()
    moved[:, 48:] = np.roll(still[:, 48:], 3, axis=0)  # only the right half moves
    a = TemporalMasking()
    first = a.process(AnalysisContext(0, still, None, 1.0))["temporal_masking"]
    assert not first.any()
    m = a.process(AnalysisContext(1, moved, still, 1.0))["temporal_masking"]
    assert m.shape == still.shape and 0 <= m.min() and m.max() <= 1
    assert m[:, :32].max() == 0 and m[:, 56:].min() > 0.05


def test_per_frame_budget_runs_no_temporal_analysis():
    from preanalysis.config import Config, from_dict
    from preanalysis.pipeline import analyser_names

    assert "temporal_masking" in analyser_names(Config())  # the shipped default spends from it
    per_frame = from_dict(Config, {"allocate": {"segment": "frame", "verify": False}})
    assert "temporal_masking" not in analyser_names(per_frame)
    with pytest.raises(PreanalysisError, match="allocate.segment"):
        AllocateConfig(segment="title")


# A clip whose segments hold a still stretch and a moving one: the frame-level part moves bits to the still
# frames.  Forced cuts every 16 frames, budget segments of >= 32 frames: segments start at 0 and 32.
TEMPORAL = {"analysis": {"max_scene_frames": 16},
            "allocate": {"segment": "gop", "segment_frames": 32, "temporal_gain": 2.0, "temporal_min_spread": 0.0}}
STILL = [*range(16), *range(32, 48)]
FRAMES = 64


@pytest.fixture(scope="module")
def still_then_moving(tmp_path_factory):
    from preanalysis.learning.scenes import moving_objects, write_video

    s = moving_objects(width=160, height=96, frames=32, objects=2, pan=(4.0, 2.0), seed=3)
    rgb = [s.rgb[0]] * 16 + list(s.rgb[:16]) + [s.rgb[16]] * 16 + list(s.rgb[16:])
    return write_video(rgb, tmp_path_factory.mktemp("temporal") / "still_moving.mkv")


def temporal_config():
    from preanalysis.config import Config, from_dict

    return from_dict(Config, TEMPORAL)


def test_frame_level_offsets_survive_the_farms_chunking(still_then_moving):
    import io

    from preanalysis.farm import analyse_chunk, plan_chunks
    from preanalysis.pipeline import analyze, scene_cuts

    config = temporal_config()
    full = np.stack([fa.qp.offsets for fa in analyze(still_then_moving, config)])
    means = full.mean(axis=(1, 2))
    moving = [t for t in range(FRAMES) if t not in STILL]
    assert means[STILL].mean() < means[moving].mean() - 1  # the still frames take bits from the moving ones
    assert scene_cuts(still_then_moving, config) == [0, 32]  # chunks may start at segment starts only
    chunks = plan_chunks(str(still_then_moving), scene_cuts(still_then_moving, config), chunk_frames=16)
    assert [(c.start, c.stop) for c in chunks] == [(0, 32), (32, None)]
    parts = [np.load(io.BytesIO(analyse_chunk(c, config)))["qp_offsets"] for c in chunks]
    np.testing.assert_array_equal(np.concatenate(parts), full)


def test_frame_level_offsets_reach_the_qpfile(still_then_moving, tmp_path):
    from encoder_adapters.files import write_qpfile
    from preanalysis.pipeline import analyze

    qps = write_qpfile(tmp_path / "q.txt", [fa.qp for fa in analyze(still_then_moving, temporal_config())], 30)
    moving = [q for t, q in enumerate(qps) if t not in STILL]
    assert np.mean([qps[t] for t in STILL]) < np.mean(moving) - 1  # frame QPs carry the frame-level part


def test_frame_level_offsets_survive_two_pass(still_then_moving, tmp_path):
    from encoder_adapters import read_qps
    from preanalysis.facade import Preanalysis

    def still_minus_moving(use_map: bool) -> float:
        out = tmp_path / f"{use_map}.mp4"
        Preanalysis(temporal_config()).encode(still_then_moving, out, "x264", bitrate_kbps=150, preset="veryfast",
                                              params={"aq-mode": "1", "aq-strength": "0"}, use_map=use_map)
        qp = [float(np.mean(q)) for _, q in read_qps(out)]
        return np.mean([qp[t] for t in STILL]) - np.mean([qp[t] for t in range(FRAMES) if t not in STILL])

    # The 2-pass rate control keeps the map's frame-level part: still frames get lower QPs than without it.
    assert still_minus_moving(True) < still_minus_moving(False) - 1

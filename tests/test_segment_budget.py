"""Allocation over a segment budget (issue 11): bits move between frames, never out of the segment."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from preanalysis.allocate import frame_offsets, predicted_bits, segment_offsets
from preanalysis.analysers.temporal_masking import TemporalMasking, motion2
from preanalysis.analysers.base import AnalysisContext
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
    per_frame = from_dict(Config, {"allocate": {"segment": "frame"}})
    assert "temporal_masking" not in analyser_names(per_frame)
    with pytest.raises(PreanalysisError, match="allocate.segment"):
        AllocateConfig(segment="title")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from preanalysis.allocate import (
    allocate_bits,
    block_means,
    predicted_bits,
    qp_offsets,
    sensitivity_offsets,
)
from preanalysis.config import AllocateConfig
from preanalysis.qpmap import QpMap
from preanalysis.errors import PreanalysisError

weights = arrays(np.float64, st.integers(1, 200), elements=st.floats(0, 100))


@settings(max_examples=200, deadline=None)
@given(weights, st.floats(0.1, 10), st.floats(0, 1), st.floats(1, 5))
def test_allocate_bits_respects_budget_and_clamps(w, per_entry, min_rate, spread):
    max_rate = min_rate + spread
    budget = max(per_entry, min_rate) * w.size
    rates = allocate_bits(w, budget, min_rate, max_rate)
    assert rates.sum() <= budget * (1 + 1e-9)
    assert np.all(rates >= min_rate - 1e-12) and np.all(rates <= max_rate + 1e-12)
    order = np.argsort(w, kind="stable")
    assert np.all(np.diff(rates[order]) >= -1e-9), "more weight never gets fewer bits"


def test_allocate_bits_redistributes_what_clamping_frees():
    rates = allocate_bits(np.array([100.0, 1, 1, 1]), budget=4.0, min_rate=0.5, max_rate=1.5)
    assert rates[0] == pytest.approx(1.5)
    assert rates.sum() == pytest.approx(4.0)  # the 3 small ones share the rest equally
    assert np.allclose(rates[1:], (4.0 - 1.5) / 3)


def test_allocate_bits_infeasible_budget_is_a_clear_error():
    with pytest.raises(PreanalysisError, match="min_rate"):
        allocate_bits(np.ones(10), budget=1.0, min_rate=0.5, max_rate=1.0)


grids = arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.floats(0, 1))


@settings(max_examples=150, deadline=None)
@given(grids, st.floats(0.1, 4), st.integers(-12, 0), st.integers(0, 12), st.integers(0, 2**31))
def test_qp_offsets_in_range_monotone_and_within_budget(sal, strength, lo, hi, seed):
    complexity = np.random.default_rng(seed).uniform(0.5, 20, sal.shape)
    off = qp_offsets(sal, complexity, AllocateConfig(strength=strength, min_offset=lo, max_offset=hi))
    assert off.dtype == np.int8 and off.min() >= lo and off.max() <= hi
    assert predicted_bits(off, complexity) <= complexity.sum() * (1 + 1e-9)
    order = np.argsort(sal.ravel(), kind="stable")
    assert np.all(np.diff(off.ravel()[order].astype(int)) <= 0), "more salience never gets a higher QP"


def test_qp_offsets_spend_the_budget_and_follow_the_rate_model():
    sal = np.tile(np.linspace(0, 1, 40), (20, 1))
    complexity = np.ones_like(sal)
    off = qp_offsets(sal, complexity, AllocateConfig(strength=1.0, min_offset=-8, max_offset=8))
    ratio = predicted_bits(off, complexity) / complexity.sum()
    assert 0.9 < ratio <= 1.0  # close to the no-map budget, never above
    # bits proportional to (floor + mask): the most salient block gets ~(1.5/0.5) = 3x the least, ~9.5 QP
    assert 8 <= off[0, 0] - off[0, -1] <= 11


@settings(max_examples=100, deadline=None)
@given(grids, st.floats(0, 1), st.floats(0.5, 3), st.integers(0, 2**31))
def test_sensitivity_offsets_add_to_the_mask_within_the_budget(sal, strength, gain, seed):
    """allocate.sensitivity: offsets -gain * centred log2 weight, added before the budget; even with the mask's
    strength at 0 the map moves bits to the blocks VMAF notices, and the predicted bits stay within the no-map
    bits."""
    rng = np.random.default_rng(seed)
    lw = rng.uniform(-3, 3, sal.shape)
    extra = sensitivity_offsets(lw, gain)
    assert abs(float(extra.mean())) < 1e-9
    np.testing.assert_allclose(extra, -gain * (lw - lw.mean()))
    complexity = rng.uniform(0.5, 20, sal.shape)
    off = qp_offsets(sal, complexity, AllocateConfig(strength=strength, min_offset=-8, max_offset=8), extra)
    assert predicted_bits(off, complexity) <= complexity.sum() * (1 + 1e-9)
    if strength == 0 and np.ptp(extra) > 2:
        order = np.argsort(lw.ravel(), kind="stable")
        assert np.all(np.diff(off.ravel()[order].astype(int)) <= 0), "a higher weight never gets a higher QP"


def test_flat_mask_gives_flat_map():
    assert not qp_offsets(np.full((5, 5), 0.7), np.ones((5, 5)), AllocateConfig()).any()


def test_qpmap_aggregates_to_larger_blocks():
    off = np.zeros((45, 80), np.int8)
    off[:, :40] = -4
    off[:, 40:] = 6
    agg = QpMap(off, 1280, 720).aggregate(64)
    assert agg.offsets.shape == (12, 20) and agg.block_size == 64
    assert (agg.offsets[:, :10] == -4).all() and (agg.offsets[:, 10:] == 6).all()
    odd = QpMap(np.ones((3, 3), np.int8), 40, 40).aggregate(32)  # partial blocks average what exists
    assert odd.offsets.shape == (2, 2) and (odd.offsets == 1).all()


def test_qpmap_rejects_wrong_grid():
    with pytest.raises(PreanalysisError, match="does not match"):
        QpMap(np.zeros((4, 4), np.int8), 1280, 720)


def test_block_means_of_odd_frame():
    img = np.zeros((90, 100), np.float32)
    img[:, 50:] = 1
    means = block_means(img, 200, 180)  # analysis at half resolution of a 200x180 frame
    assert means.shape == (12, 13)
    assert means[:, :6].max() < 0.05 and means[:, 7:].min() > 0.95

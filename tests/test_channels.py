"""Cross-channel allocation: properties of allocate_channels, and one real 3-channel x264 statmux run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from preanalysis.statmux import allocate_channels
from preanalysis.errors import PreanalysisError

complexities = st.integers(1, 6).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda w: arrays(np.float64, (n, w), elements=st.floats(0, 1e6, allow_nan=False))
    )
)


@st.composite
def problems(draw):
    c = draw(complexities)
    n = c.shape[0]
    lo = draw(st.floats(0, 5000))
    hi = lo + draw(st.floats(0, 10000))
    aggregate = draw(st.floats(n * lo, n * hi * 1.5 + 1))
    return c, aggregate, lo, hi


@settings(max_examples=300, deadline=None)
@given(problems())
def test_aggregate_limits_and_order(problem):
    c, aggregate, lo, hi = problem
    rates = allocate_channels(c, aggregate, lo, hi)
    assert rates.shape == c.shape
    assert np.all(rates.sum(axis=0) <= aggregate * (1 + 1e-9))
    assert np.all(rates >= lo * (1 - 1e-9)) and np.all(rates <= hi * (1 + 1e-9))
    for w in range(c.shape[1]):
        order = np.argsort(c[:, w], kind="stable")
        assert np.all(np.diff(rates[order, w]) >= -1e-6 * max(hi, 1))


@settings(max_examples=100, deadline=None)
@given(complexities, st.floats(10, 1e5))
def test_uses_the_aggregate_when_limits_allow(c, aggregate):
    # Without binding limits the whole aggregate is handed out, in proportion to complexity.
    rates = allocate_channels(c, aggregate, 0.0, aggregate)
    np.testing.assert_allclose(rates.sum(axis=0), aggregate, rtol=1e-6)


def test_high_motion_channel_takes_bits_from_static_ones():
    c = np.array([[1.0, 1.0], [1.0, 8.0], [1.0, 1.0]])  # channel 1 becomes busy in window 1
    rates = allocate_channels(c, 3000.0, 300.0, 2000.0)
    np.testing.assert_allclose(rates[:, 0], 1000.0)
    assert rates[1, 1] == pytest.approx(2000.0)  # capped at max_rate
    np.testing.assert_allclose(rates[[0, 2], 1], 500.0)


def test_per_channel_limits_and_per_window_aggregate():
    c = np.array([[1.0, 1.0], [1.0, 1.0]])
    rates = allocate_channels(c, np.array([1000.0, 4000.0]), [0.0, 700.0], [3000.0, 3000.0])
    np.testing.assert_allclose(rates[:, 0], [300.0, 700.0])
    np.testing.assert_allclose(rates[:, 1], [2000.0, 2000.0])


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.ones(3), 10, 0, 5), "channels x windows"),
        ((np.ones((3, 2)), 10, 4, 5), "sum of min rates"),
        ((np.ones((3, 2)), 10, 3, 2), "min_rate <= max_rate"),
        ((-np.ones((3, 2)), 10, 0, 5), ">= 0"),
        ((np.ones((3, 2)), [1, 2, 3], 0, 5), "one per window"),
    ],
)
def test_bad_input_is_refused(args, message):
    with pytest.raises(PreanalysisError, match=message):
        allocate_channels(*args)


@pytest.mark.slow
def test_three_channel_x264_statmux_beats_an_equal_split(carphone, bikes, bigbuckbunny, tmp_path):
    """A real run: 30 frames of three very different clips share 2400 kbps (about 12 s on 2 cores)."""
    from preanalysis.cli import main as cli_main

    config = tmp_path / "statmux.yaml"
    config.write_text(
        "aggregate_kbps: 2400\nmin_kbps: 100\nmax_kbps: 2000\nframes: 30\npreset: fast\noutput_dir: out\n"
        f"channels:\n  - input: {carphone}\n  - input: {bikes}\n  - input: {bigbuckbunny}\n"
    )
    assert cli_main(["statmux", str(config)]) == 0
    report = json.loads((tmp_path / "out" / "statmux.json").read_text())
    windows = np.array(report["windows_kbps"])
    assert np.all(windows.sum(axis=0) <= 2400 * (1 + 1e-9)) and np.all(windows >= 100 - 1e-9)
    statmux, equal = report["statmux"], report["equal_split"]
    assert abs(statmux["total_kbps"] - 2400) <= 0.05 * 2400
    assert abs(equal["total_kbps"] - 2400) <= 0.05 * 2400
    by_name = {c["name"]: c for c in statmux["channels"]}
    # The 720p channel needs far more bits than the QCIF one at equal quality and gets them.
    assert by_name["bigbuckbunny"]["allocated_kbps"] > 4 * by_name["carphone_pristine"]["allocated_kbps"]
    assert statmux["worst_vmaf"] > equal["worst_vmaf"] + 3

"""Bjøntegaard deltas with pchip interpolation (as JVET/VCEG use), through the `bjontegaard` package.

bd_rate: mean bitrate difference in percent at equal quality (negative = the test saves bits).
bd_quality: mean quality difference at equal bitrate (BD-PSNR style; used for salient-region PSNR).
Curves are sorted here; a curve whose quality does not rise with rate has no BD value (NaN, logged),
because pchip cannot invert it and any number would be made up.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import bjontegaard
import numpy as np

from preanalysis.errors import PreanalysisError

log = logging.getLogger("preanalysis")

METHOD = "pchip"


def _curve(rates: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rates, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise PreanalysisError(f"an RD curve needs as many rates as quality values, got {r.size} and {q.size}")
    if r.size < 2:
        raise PreanalysisError(f"an RD curve needs at least 2 points, got {r.size}: sweep more CRFs")
    if np.any(~np.isfinite(r)) or np.any(r <= 0) or np.any(~np.isfinite(q)):
        raise PreanalysisError("RD curve rates must be finite and > 0 and quality values finite")
    order = np.argsort(r)
    return r[order], q[order]


def _monotone(*curves: tuple[np.ndarray, np.ndarray]) -> bool:
    return all(np.all(np.diff(r) > 0) and np.all(np.diff(q) > 0) for r, q in curves)


def _delta(fn, anchor, test) -> float:
    if not _monotone(anchor, test):
        log.warning("RD curve not strictly increasing (quality saturated or rates repeat): BD value is NaN")
        return float("nan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(fn(anchor[0], anchor[1], test[0], test[1], METHOD, require_matching_points=False))
    for w in caught:
        log.debug("BD: %s", w.message)
    return value


def bd_rate(anchor_rates, anchor_quality, test_rates, test_quality) -> float:
    """Percent bitrate change of test vs anchor at equal quality (pchip in log-rate)."""
    return _delta(bjontegaard.bd_rate, _curve(anchor_rates, anchor_quality), _curve(test_rates, test_quality))


def bd_quality(anchor_rates, anchor_quality, test_rates, test_quality) -> float:
    """Mean quality change of test vs anchor at equal bitrate (pchip over log-rate)."""
    return _delta(bjontegaard.bd_psnr, _curve(anchor_rates, anchor_quality), _curve(test_rates, test_quality))

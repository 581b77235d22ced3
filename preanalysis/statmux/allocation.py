"""Statistical multiplexing, the allocation: N channels share one aggregate bitrate, window by window.

Per window each channel's rate is proportional to its weight (measured complexity, raised by its salience
mass), clamped to the channel's [min_rate, max_rate]; what clamping frees or takes is spread over the
unclamped channels, and the window's total never exceeds the aggregate.  This is the seed's proportional
allocator (preanalysis.allocate.allocate_bits) vectorised over windows and with per-channel limits.
"""

from __future__ import annotations

import numpy as np

from preanalysis.errors import PreanalysisError


def allocate_channels(
    complexity: np.ndarray,
    aggregate: float | np.ndarray,
    min_rate: float | np.ndarray,
    max_rate: float | np.ndarray,
) -> np.ndarray:
    """Rates (channels x windows) for weights `complexity` (channels x windows, >= 0).

    aggregate: one total for every window or one per window; min_rate/max_rate: one value for all
    channels or one per channel.  The rate of channel i in a window is clip(k * complexity_i, min_i, max_i)
    with the largest k whose window total is <= the aggregate, so a more complex channel never gets less
    than a simpler one with the same limits.  When all channels at max_rate stay under the aggregate they all
    get max_rate; a window with no complexity anywhere is split as evenly as the limits allow.
    """
    c = np.asarray(complexity, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise PreanalysisError(f"complexity must be a channels x windows array, got shape {c.shape}: reshape it")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise PreanalysisError("complexity must be finite and >= 0: check the measured values")
    n, windows = c.shape
    total = _per(aggregate, windows, "aggregate", "window")[None, :]
    lo = _per(min_rate, n, "min_rate", "channel")[:, None]
    hi = _per(max_rate, n, "max_rate", "channel")[:, None]
    if np.any(lo < 0) or np.any(lo > hi):
        raise PreanalysisError("need 0 <= min_rate <= max_rate for every channel: fix the channel limits")
    if np.any(lo.sum() > total * (1 + 1e-9)):  # (float rounding of an exact fit is allowed)
        raise PreanalysisError(
            f"aggregate {float(total.min()):g} is below the sum of min rates {float(lo.sum()):g}: "
            "lower min_rate or raise the aggregate"
        )
    # A window with no measured complexity anywhere is treated as equally complex channels.
    # Weights are scaled to a window maximum of 1 so that k stays finite for any input scale.
    peak = c.max(axis=0, keepdims=True)
    weights = np.where(peak > 0, c / np.where(peak > 0, peak, 1.0), 1.0)

    def rates(k: np.ndarray) -> np.ndarray:
        return np.clip(k * weights, lo, hi)

    # Bisection on log k per window (weights span any range): the window total is monotone in k, and
    # k = 0 gives the minimums, which fit.
    positive = np.maximum(np.where(weights > 0, weights, np.inf).min(axis=0, keepdims=True), 1e-300)
    lo_k = np.full((1, windows), np.log(1e-300))
    hi_k = np.log(np.maximum(hi.max(), 1e-300) / positive)
    for _ in range(120):
        mid = 0.5 * (lo_k + hi_k)
        over = rates(np.exp(mid)).sum(axis=0, keepdims=True) > total
        hi_k = np.where(over, mid, hi_k)
        lo_k = np.where(over, lo_k, mid)
    lo_k = np.exp(lo_k)
    lo_k = np.where(rates(lo_k).sum(axis=0, keepdims=True) > total, 0.0, lo_k)  # aggregate == sum of minimums
    out = rates(lo_k)
    # All at max_rate fits: give max_rate (the bisection stops just short of it).
    return np.where(hi.sum() <= total, np.broadcast_to(hi, out.shape), out)


def _per(value: float | np.ndarray, n: int, name: str, unit: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise PreanalysisError(f"{name} must be one number or one per {unit} ({n}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise PreanalysisError(f"{name} must be finite: fix the value")
    return arr

"""Statistical multiplexing: N channels share one aggregate bitrate, window by window.

Per window each channel's rate is proportional to its weight (measured complexity, raised by its salience
mass), clamped to the channel's [min_rate, max_rate]; what clamping frees or takes is spread over the
unclamped channels, and the window's total never exceeds the aggregate.  This is the seed's proportional
allocator (preanalysis.allocate.allocate_bits) vectorised over windows and with per-channel limits.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import from_dict, read_yaml
from .errors import PreanalysisError


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


# --- the statmux run: measure, allocate, encode every channel, score, compare with an equal split ---------


@dataclass
class ChannelSpec:
    input: str
    name: str | None = None  # defaults to the input's stem
    min_kbps: float | None = None  # per-channel limits; default to the statmux-wide ones
    max_kbps: float | None = None


@dataclass
class StatmuxConfig:
    """`preanalysis statmux CONFIG.yaml`: channels sharing one aggregate bitrate (paths relative to the file)."""

    channels: list[ChannelSpec]
    aggregate_kbps: float
    output_dir: str
    min_kbps: float = 0.0
    max_kbps: float | None = None  # default: the aggregate
    window_seconds: float = 1.0  # allocation window
    frames: int | None = None  # encode only the first N frames of every channel
    encoder: str = "x264"
    preset: str = "medium"
    params: dict[str, str] = field(default_factory=dict)
    probe_crf: float = 23.0  # complexity = bits of a fast constant-quality probe encode, per window
    salience_weight: float = 0.5  # weight *= 1 + salience_weight * mean salience (0..1) of the window
    analysis_config: str | None = None  # preanalysis config YAML for the salience analysis
    compare_equal_split: bool = True

    def __post_init__(self):
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise PreanalysisError(f"invalid statmux config: {message}")

        check(len(self.channels) >= 1, "channels must list at least one input")
        check(self.aggregate_kbps > 0, "aggregate_kbps must be > 0")
        check(self.window_seconds > 0, "window_seconds must be > 0")
        check(self.frames is None or self.frames >= 2, "frames must be >= 2")
        check(0 <= self.salience_weight <= 10, "salience_weight must be within [0, 10]")
        names = [c.name or Path(c.input).stem for c in self.channels]
        check(len(set(names)) == len(names), f"channel names must differ, got {', '.join(names)}: set name:")


def load_statmux_config(path: str | Path) -> StatmuxConfig:
    path = Path(path)
    cfg = from_dict(StatmuxConfig, read_yaml(path, "statmux config"), "statmux")
    base = path.parent
    for c in cfg.channels:
        c.input = str((base / c.input).resolve())
    cfg.output_dir = str((base / cfg.output_dir).resolve())
    cfg.analysis_config = str((base / cfg.analysis_config).resolve()) if cfg.analysis_config else None
    return cfg


@dataclass
class ChannelResult:
    name: str
    input: str
    allocated_kbps: float  # mean of the channel's per-window rates over its duration
    bitrate_kbps: float  # what the encode spent
    vmaf: float
    path: str


@dataclass
class StatmuxResult:
    windows_kbps: list[list[float]]  # channels x windows, the allocation
    statmux: list[ChannelResult]
    equal_split: list[ChannelResult]

    @staticmethod
    def summary(results: list[ChannelResult]) -> dict:
        return {"total_kbps": sum(r.bitrate_kbps for r in results),
                "worst_vmaf": min(r.vmaf for r in results), "worst_channel": min(results, key=lambda r: r.vmaf).name,
                "mean_vmaf": float(np.mean([r.vmaf for r in results]))}


def window_of_frames(count: int, fps: float, window_seconds: float) -> np.ndarray:
    """Window index of each frame (by time, so channels with different frame rates share windows)."""
    return np.floor(np.arange(count) / fps / window_seconds + 1e-9).astype(int)


def measure_complexity(path: str, frames: int, fps: float, window_seconds: float, probe_crf: float,
                       workdir: Path) -> np.ndarray:
    """Bits per window of a fast constant-quality x264 probe encode: what the content costs at equal quality."""
    import av

    from encoder_adapters import EncodeSettings, encode_frames

    from . import video

    info = video.probe(path)
    probe_path = workdir / f"{Path(path).stem}.probe.mp4"
    encode_frames(lambda: video.decode(path, 0, frames), info, probe_path,
                  EncodeSettings("x264", crf=probe_crf, preset="veryfast"))
    with av.open(str(probe_path)) as container:
        stream = container.streams.video[0]
        packets = sorted((p.pts, p.size) for p in container.demux(stream) if p.size)
    sizes = np.array([s for _, s in packets], dtype=np.float64) * 8
    windows = window_of_frames(len(sizes), fps, window_seconds)
    return np.bincount(windows, weights=sizes)


def salience_mass(path: str, frames: int, fps: float, window_seconds: float, config) -> np.ndarray:
    """Mean salience (0..1) per window, from the analysis pipeline."""
    from .pipeline import analyze

    means = [float(fa.salience.mean()) / 255 for fa in analyze(path, config, stop=frames)]
    windows = window_of_frames(len(means), fps, window_seconds)
    return np.bincount(windows, weights=means) / np.bincount(windows)


def run_statmux(cfg: StatmuxConfig, progress: bool = False) -> StatmuxResult:
    """Measure each channel per window, allocate the aggregate, encode each channel (2-pass at its allocated
    mean rate), score VMAF against its source, and do the same with an equal split for comparison."""
    from encoder_adapters import EncodeSettings, encode_frames
    from eval.metrics import measure

    from . import video
    from .config import load_config

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    infos = [video.probe(c.input) for c in cfg.channels]
    counts = [min(cfg.frames or i.frame_count or 10**9, i.frame_count or 10**9) for i in infos]
    config = load_config(cfg.analysis_config)
    work = out / ".statmux-probes"
    work.mkdir(exist_ok=True)
    weights, durations = [], []
    for c, info, n in zip(cfg.channels, infos, counts):
        bits = measure_complexity(c.input, n, info.fps, cfg.window_seconds, cfg.probe_crf, work)
        if cfg.salience_weight:
            bits = bits * (1 + cfg.salience_weight * salience_mass(c.input, n, info.fps, cfg.window_seconds, config))
        weights.append(bits)
        durations.append(np.bincount(window_of_frames(n, info.fps, cfg.window_seconds)) / info.fps)
    windows = max(len(w) for w in weights)
    complexity = np.zeros((len(weights), windows))
    seconds = np.zeros((len(weights), windows))
    for i, (w, d) in enumerate(zip(weights, durations)):
        complexity[i, : len(w)], seconds[i, : len(d)] = w, d
    lo = [c.min_kbps if c.min_kbps is not None else cfg.min_kbps for c in cfg.channels]
    hi = [c.max_kbps if c.max_kbps is not None else (cfg.max_kbps or cfg.aggregate_kbps) for c in cfg.channels]
    rates = allocate_channels(complexity, cfg.aggregate_kbps, lo, hi)
    allocated = (rates * seconds).sum(axis=1) / seconds.sum(axis=1)

    def encode_all(kbps: np.ndarray, label: str) -> list[ChannelResult]:
        results = []
        for c, info, n, rate in zip(cfg.channels, infos, counts, kbps):
            name = c.name or Path(c.input).stem
            path = out / f"{name}.{label}.mp4"
            settings = EncodeSettings(cfg.encoder, bitrate_kbps=float(rate), preset=cfg.preset, params=cfg.params)
            result = encode_frames(lambda c=c, n=n: video.decode(c.input, 0, n), info, path, settings, progress=progress)
            vmaf = measure(c.input, path, frames=n).means()["vmaf"]
            results.append(ChannelResult(name, c.input, float(rate), result.bitrate_kbps, vmaf, str(path)))
        return results

    statmux = encode_all(allocated, "statmux")
    equal = encode_all(np.full(len(cfg.channels), cfg.aggregate_kbps / len(cfg.channels)), "equal") \
        if cfg.compare_equal_split else []
    shutil.rmtree(work, ignore_errors=True)
    return StatmuxResult(rates.tolist(), statmux, equal)

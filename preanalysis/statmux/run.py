"""A statmux run (`preanalysis statmux CONFIG.yaml`): measure each channel's complexity per window (a fast
probe encode) and salience, allocate the aggregate (allocation.py), encode every channel at its share, score
it with VMAF, and compare with an equal split."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from encoder_adapters import EncodeSettings, encode_frames
from eval.metrics import measure
from preanalysis import video
from preanalysis.config import from_dict, load_config, read_yaml
from preanalysis.errors import PreanalysisError
from preanalysis.pipeline import analyze
from preanalysis.statmux.allocation import allocate_channels


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
    means = [float(fa.salience.mean()) / 255 for fa in analyze(path, config, stop=frames)]
    windows = window_of_frames(len(means), fps, window_seconds)
    return np.bincount(windows, weights=means) / np.bincount(windows)


def run_statmux(cfg: StatmuxConfig, progress: bool = False) -> StatmuxResult:
    """Measure each channel per window, allocate the aggregate, encode each channel (2-pass at its allocated
    mean rate), score VMAF against its source, and do the same with an equal split for comparison."""
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

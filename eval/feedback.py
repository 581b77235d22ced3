"""Online feedback (`encode --target-vmaf T`): encode in chunks, measure each finished chunk, steer the next.

Chunks start at scene cuts (so the analysis of a chunk equals a full run's) and are split to at most
`chunk_frames`.  After each chunk the controller compares its VMAF with the target: the CRF moves by
(VMAF - T) / slope, where the slope (VMAF points per CRF step) is learnt from the chunks so far; the map
strength is eased off while a chunk misses the target (maps cost VMAF unless tuned: docs/results.md) and
restored while it has margin.  Every decision is logged and returned.  Chunks are joined without
re-encoding (ffmpeg concat demuxer); a chunk's VMAF is measured against the source's frames [start, stop),
paired by index (eval.pairing), like the whole stream's at the end.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from preanalysis.config import Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_output, check_output_path
from preanalysis.prefilters import filtered
from preanalysis.video import decode, probe

from .metrics import ffmpeg_path, measure, measure_range

log = logging.getLogger("preanalysis")

DEFAULT_SLOPE = 2.0  # VMAF points lost per CRF step, typical of x264 around VMAF 80-95 (refined per stream)
MIN_SLOPE, MAX_SLOPE = 0.5, 6.0


@dataclass
class ChunkDecision:
    index: int
    start: int
    stop: int
    crf: float
    strength: float
    bitrate_kbps: float
    vmaf: float
    next_crf: float
    next_strength: float
    action: str


@dataclass
class TargetResult:
    path: Path
    frames: int
    bitrate_kbps: float
    vmaf: float  # the whole stream against the source
    chunks: list[ChunkDecision]


def chunk_bounds(path: str | Path, config: Config, chunk_frames: int, frames: int | None = None) -> list[tuple[int, int]]:
    """[start, stop) ranges: scene cuts, then no chunk longer than chunk_frames."""
    from preanalysis.pipeline import scene_cuts

    if chunk_frames < 1:
        raise PreanalysisError("chunk length must be >= 1 frame")
    total = sum(1 for _ in decode(path, 0, frames))
    cuts = [c for c in scene_cuts(path, config) if c < total] + [total]
    bounds = []
    for a, b in itertools.pairwise(cuts):
        bounds += [(s, min(s + chunk_frames, b)) for s in range(a, b, chunk_frames)]
    return bounds


def concat(parts: list[Path], out: Path, ffmpeg: str | None) -> None:
    """Join chunk files stream-copied (every chunk starts with an IDR, so the join is seamless)."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts))
    with atomic_output(out) as tmp:
        run = subprocess.run([ffmpeg_path(ffmpeg), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                              str(listing), "-c", "copy", "-f", "mp4", str(tmp)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise PreanalysisError(f"joining chunks failed ({run.stderr.strip()[:200]}): check free disk space")


class Controller:
    """CRF and map strength for the next chunk from the measured VMAF of the chunks so far."""

    def __init__(self, target: float, crf: float, strength: float, tolerance: float, max_step: float,
                 crf_range: tuple[float, float]):
        self.target, self.crf, self.strength, self.full_strength = target, crf, strength, strength
        self.tolerance, self.max_step, self.crf_range = tolerance, max_step, crf_range
        self.slope = DEFAULT_SLOPE
        self.history: list[tuple[float, float]] = []  # (crf, vmaf)

    def update(self, vmaf: float) -> str:
        self.history.append((self.crf, vmaf))
        if len(self.history) >= 2:
            (c0, v0), (c1, v1) = self.history[-2:]
            if abs(c1 - c0) >= 1:  # only a CRF change says something about the slope (content changes too)
                self.slope = min(MAX_SLOPE, max(MIN_SLOPE, (v0 - v1) / (c1 - c0)))
        error = vmaf - self.target
        if abs(error) <= self.tolerance:
            return "on target: keep"
        step = max(-self.max_step, min(self.max_step, error / self.slope))
        lo, hi = self.crf_range
        self.crf = round(min(hi, max(lo, self.crf + step)), 1)
        if error < 0:
            self.strength = round(self.strength * 0.5, 3)
            return f"VMAF {-error:.1f} below target: CRF {step:+.1f}, map strength halved"
        self.strength = round(min(self.full_strength, max(self.strength * 2, 0.125 * self.full_strength)), 3)
        return f"VMAF {error:.1f} above target: CRF {step:+.1f}, map strength restored toward {self.full_strength:g}"


def encode_to_target(
    input_path: str | Path,
    output_path: str | Path,
    settings,
    config: Config,
    target_vmaf: float,
    chunk_frames: int = 48,
    tolerance: float = 1.0,
    max_crf_step: float = 4.0,
    frames: int | None = None,
    ffmpeg: str | None = None,
    use_map: bool = True,
) -> TargetResult:
    """Encode input to output (mp4) in chunks steered to `target_vmaf`; settings.crf is the first chunk's CRF."""
    from dataclasses import replace

    from encoder_adapters import encode_frames
    from preanalysis.pipeline import analyze

    if not 0 < target_vmaf <= 100:
        raise PreanalysisError(f"target VMAF {target_vmaf:g} is out of range: give 0 < T <= 100")
    if settings.crf is None:
        raise PreanalysisError("--target-vmaf steers the CRF: give a starting --crf, not a bitrate")
    out = check_output_path(output_path, input_path)
    if out.suffix.lower() != ".mp4":
        raise PreanalysisError(f"target-VMAF output {out} must be .mp4 (chunks are joined as MP4)")
    info = probe(input_path)
    control = Controller(target_vmaf, settings.crf, config.allocate.strength, tolerance, max_crf_step, (0, 51))
    decisions: list[ChunkDecision] = []
    with tempfile.TemporaryDirectory(prefix="preanalysis-target-", dir=out.resolve().parent) as tmp:
        parts = []
        for i, (start, stop) in enumerate(chunk_bounds(input_path, config, chunk_frames, frames)):
            crf, strength = control.crf, control.strength
            chunk_config = _with_strength(config, strength)
            qp = None
            if use_map:
                maps = {fa.index: fa.qp for fa in analyze(input_path, chunk_config, start, stop)}
                qp = maps.get
            part = Path(tmp) / f"chunk{i:05d}.mp4"
            source = filtered(lambda s=start, e=stop: decode(input_path, s, e), config.encode.prefilter)
            result = encode_frames(source, info, part, replace(settings, crf=crf), qp)
            vmaf = measure_range(input_path, part, start, stop, ffmpeg).means()["vmaf"]
            action = control.update(vmaf)
            d = ChunkDecision(i, start, stop, crf, strength, result.bitrate_kbps, vmaf, control.crf,
                              control.strength, action)
            log.info("chunk %d [%d, %d): CRF %.1f strength %.3g -> %.0f kbps, VMAF %.2f; %s", i, start, stop, crf,
                     strength, d.bitrate_kbps, vmaf, action)
            decisions.append(d)
            parts.append(part)
        concat(parts, out, ffmpeg)
    total = sum(d.stop - d.start for d in decisions)
    whole = measure(input_path, out, total, ffmpeg).means()["vmaf"]
    seconds = total / info.fps
    kbps = out.stat().st_size * 8 / 1000 / seconds
    log.info("target VMAF %.1f: stream VMAF %.2f at %.0f kbps over %d chunks", target_vmaf, whole, kbps, len(decisions))
    return TargetResult(out, total, kbps, whole, decisions)


def _with_strength(config: Config, strength: float) -> Config:
    data = config.to_dict()
    data["allocate"]["strength"] = strength
    return from_dict(Config, data)


def decisions_table(result: TargetResult) -> list[dict]:
    return [asdict(d) for d in result.chunks]

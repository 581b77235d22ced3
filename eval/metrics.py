"""Full-frame quality per frame: VMAF v0.6.1, VMAF-NEG and PSNR-Y from ONE libvmaf pass.

libvmaf shares its feature extractors between models, so both VMAF models and the PSNR feature cost about
one run (the expensive part of every sweep).  The run goes through ffmpeg-quality-metrics with the static
ffmpeg that imageio-ffmpeg ships (or the user's, via an argument or PREANALYSIS_FFMPEG).  Scores are always
taken against the original source; reference and encode are checked first (size, frame count), because a
shifted or truncated pairing gives a plausible-looking but wrong score.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from ffmpeg_quality_metrics import FfmpegQualityMetrics, FfmpegQualityMetricsError

from preanalysis.errors import PreanalysisError
from preanalysis.video import probe

METRICS = ("vmaf", "vmaf_neg", "psnr_y")
MODEL_DIR = Path(FfmpegQualityMetrics.DEFAULT_VMAF_MODEL_DIRECTORY)
MODELS = {"vmaf": MODEL_DIR / "vmaf_v0.6.1.json", "vmaf_neg": MODEL_DIR / "vmaf_v0.6.1neg.json"}


@dataclass
class FrameScores:
    """Per-frame scores of one encode against its source (arrays of equal length)."""

    vmaf: np.ndarray
    vmaf_neg: np.ndarray
    psnr_y: np.ndarray

    def means(self) -> dict[str, float]:
        """Mean of per-frame scores (how every published table pools)."""
        return {m: float(np.mean(getattr(self, m))) for m in METRICS}

    def __len__(self) -> int:
        return len(self.vmaf)


def ffmpeg_path(explicit: str | None = None) -> str:
    """The ffmpeg to run: the explicit one, else $PREANALYSIS_FFMPEG, else imageio-ffmpeg's static build."""
    path = explicit or os.environ.get("PREANALYSIS_FFMPEG")
    if path:
        if not Path(path).is_file():
            raise PreanalysisError(f"ffmpeg {path} does not exist: pass --ffmpeg PATH to an ffmpeg built with libvmaf")
        return str(path)
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def count_frames(path: str | Path) -> int:
    """Exact frame count by demuxing (no decoding): containers' own counts are often missing or wrong."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size > 0)


def even_crop(width: int, height: int) -> tuple[int, int]:
    """The size 4:2:0 encoders code an odd-sized source at: its last column/row dropped."""
    return width - width % 2, height - height % 2


def check_pair(reference: str | Path, encoded: str | Path, frames: int | None = None) -> tuple[int, bool]:
    """(frames to compare, whether the reference needs the encoder's even crop); raise if the pair is wrong."""
    ref, enc = probe(reference), probe(encoded)
    size = (enc.width, enc.height)
    if size not in ((ref.width, ref.height), even_crop(ref.width, ref.height)):
        raise PreanalysisError(
            f"encode {encoded} is {enc.width}x{enc.height} but reference {reference} is {ref.width}x{ref.height}:"
            " compare an encode against the source it was made from"
        )
    ref_count, enc_count = count_frames(reference), count_frames(encoded)
    expected = ref_count if frames is None else min(frames, ref_count)
    if enc_count != expected:
        raise PreanalysisError(
            f"encode {encoded} has {enc_count} frames but {expected} of reference {reference} are compared:"
            " re-encode the same frame range (scores of misaligned frames would be wrong)"
        )
    return expected, size != (ref.width, ref.height)


def cropped_reference(reference: str | Path, frames: int, size: tuple[int, int], out: Path, ffmpeg: str | None) -> Path:
    """The reference's first frames cropped like the encoder cropped them, losslessly (FFV1)."""
    run = subprocess.run(
        [ffmpeg_path(ffmpeg), "-v", "error", "-y", "-i", str(reference), "-frames:v", str(frames),
         "-vf", f"crop={size[0]}:{size[1]}:0:0", "-c:v", "ffv1", str(out)],
        capture_output=True, text=True, check=False,
    )
    if run.returncode != 0:
        raise PreanalysisError(f"cropping reference {reference} failed ({run.stderr.strip()[:200]}): check --ffmpeg")
    return out


class _OnePass(FfmpegQualityMetrics):
    """ffmpeg-quality-metrics with both VMAF models in one libvmaf filter (it supports one model only)."""

    def check_inputs(self):
        return None  # check_pair did it with PyAV (its own check needs an ffprobe the static build lacks)

    def _get_libvmaf_filter_opts(self) -> str:
        opts = super()._get_libvmaf_filter_opts()
        one = f"model=path={self.vmaf_model_path}"
        both = "model=" + "|".join(f"path={p}\\:name={n}" for n, p in MODELS.items())
        if one not in opts:
            raise PreanalysisError("ffmpeg-quality-metrics changed its libvmaf options: pin ffmpeg-quality-metrics 3.x")
        return opts.replace(one, both, 1)


def measure(
    reference: str | Path,
    encoded: str | Path,
    frames: int | None = None,
    ffmpeg: str | None = None,
    threads: int = 2,
) -> FrameScores:
    """VMAF, VMAF-NEG and PSNR-Y of every frame of `encoded` against the first frames of `reference`."""
    count, crop = check_pair(reference, encoded, frames)
    with tempfile.TemporaryDirectory(prefix="preanalysis-vmaf-") as tmp:  # its temp names collide otherwise
        if crop:
            enc = probe(encoded)
            reference = cropped_reference(reference, count, (enc.width, enc.height), Path(tmp) / "ref.mkv", ffmpeg)
        try:
            q = _OnePass(
                str(reference), str(encoded), ffmpeg_path=ffmpeg_path(ffmpeg), tmp_dir=tmp, num_frames=count,
                threads=threads,
            )
            data = q.calculate(["vmaf"], {"model_path": str(MODELS["vmaf"]), "features": ["name=psnr"],
                                          "n_threads": threads})
        except FfmpegQualityMetricsError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PreanalysisError(f"VMAF run failed ({first}): use an ffmpeg built with libvmaf (--ffmpeg)") from None
    rows = data.get("vmaf", [])
    if len(rows) != count:
        raise PreanalysisError(
            f"libvmaf scored {len(rows)} frames of {encoded}, expected {count}: the encode is damaged, re-encode it"
        )
    return FrameScores(*(np.array([r[m] for r in rows], dtype=np.float64) for m in METRICS))

"""What the learned temporal pre-filter does to encodes: bitrate and VMAF with and without it, on a clip and on
a copy with σ=4 noise added (x264 medium, AQ strength 0, one CRF).  The `predictability` model's own report
(prediction quality) lives with the model; this part needs the encoders and libvmaf, so it lives in eval.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import av
import numpy as np

from encoder_adapters import EncodeSettings, encode_frames
from preanalysis import video
from preanalysis.learning.models.predictability import NAME
from preanalysis.prefilters.noise import SIGMA_FRAMES, auto_strength, source_sigma
from preanalysis.prefilters.temporal import prefilter_frames
from preanalysis.video import DecodedFrame

from .metrics import measure

CRF = 27


def _encode_pair(path: Path, frames: int, crf: float, noise: float, folder: Path, weights: str | Path = NAME) -> dict:
    """Bitrate and VMAF with and without the pre-filter; VMAF against the encoder's input (noisy or not) and
    against the clean clip.  x264 medium, AQ strength 0 (the AQ-off anchor)."""
    info = video.probe(path)
    settings = EncodeSettings("x264", crf=crf, params={"aq-mode": "1", "aq-strength": "0"})

    def source(noise: float = noise):
        rng = np.random.default_rng(1)
        for d in video.decode(path, 0, frames):
            if noise == 0:
                yield d
                continue
            yuv = d.frame.to_ndarray(format="yuv420p").astype(np.float32)
            yuv[:d.frame.height] += rng.normal(0, noise, yuv[:d.frame.height].shape)
            f = av.VideoFrame.from_ndarray(np.clip(np.rint(yuv), 0, 255).astype(np.uint8), format="yuv420p")
            f.pts, f.time_base = d.frame.pts, d.frame.time_base
            yield DecodedFrame(d.index, d.pts, d.time, f)

    lossless = EncodeSettings("x264", crf=0, preset="ultrafast")
    reference, clean = folder / f"ref_{noise:g}.mkv", folder / "ref_0.mkv"
    encode_frames(source, info, reference, lossless)
    if not clean.exists():
        encode_frames(lambda: source(0.0), info, clean, lossless)
    sigma = source_sigma(list(itertools.islice(source(), SIGMA_FRAMES)))
    out: dict = {"noise_sigma_added": noise, "noise_sigma_measured": round(sigma, 3),
                 "prefilter_strength": auto_strength(sigma)}
    for label, wrap in (("off", source), ("temporal", lambda: prefilter_frames(source(), "auto", weights))):
        result = encode_frames(wrap, info, folder / f"enc_{noise:g}_{label}.mkv", settings)
        scores = measure(reference, result.path).means()
        out[label] = {"kbps": round(result.bitrate_kbps, 2), "vmaf": round(scores["vmaf"], 3),
                      "psnr_y": round(scores["psnr_y"], 3)}
        if noise:
            out[label]["vmaf_vs_clean"] = round(measure(clean, result.path).means()["vmaf"], 3)
    return out


def encode_report(clips: list[Path], frames: int = 30, crf: float = CRF, weights: str | Path = NAME) -> dict:
    """Per clip name: the encode comparison on the clip as it is and on a σ=4 copy."""
    out = {}
    for path in clips:
        with tempfile.TemporaryDirectory(prefix="preanalysis-temporal-") as tmp:
            out[Path(path).name] = {f"sigma_{n:g}": _encode_pair(Path(path), frames, crf, n, Path(tmp), weights)
                                    for n in (0.0, 4.0)}
    return out

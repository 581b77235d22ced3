"""The pre-filter as a stage of the frame source: decoded frames in, filtered frames out (same index and timing).

Callers compose it between the decoder and whatever consumes frames (an encoder, an analysis); the encoder
adapters never see it.  Metrics are always taken against the unfiltered source.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..video import DecodedFrame
from .noise import SIGMA_FRAMES, auto_strength, source_sigma
from .spec import kind_strength

log = logging.getLogger("preanalysis")
# `auto` at full noise: MCTF at this strength, then fftdnoiz at this share of the measured σ (chosen on σ=4 copies
# of carphone and bigbuckbunny; bikes + σ4 kept aside)
AUTO_MCTF, AUTO_FFT = 0.5, 0.7
TEMPORAL_WEIGHTS = "predictability"  # the learned filter's network: the predictability model's shipped weights


def auto_spec(sigma: float) -> str:
    """What `auto` runs for a source of noise σ (8-bit units): nothing when clean, else MCTF then an FFT denoise,
    both scaled by how noisy the source is."""
    r = auto_strength(sigma)
    if r == 0:
        return "off"
    return f"mctf:{AUTO_MCTF * r:.3g}+fft:{AUTO_FFT * sigma * r:.3g}"


def apply_prefilter(frames: Iterable[DecodedFrame], spec: str) -> Iterator[DecodedFrame]:
    """`frames` through the pre-filter `spec` (same indices and timing)."""
    if "+" in spec:
        for part in spec.split("+"):
            frames = apply_prefilter(frames, part)
        return iter(frames)
    kind, strength = kind_strength(spec)
    if kind == "auto":
        frames = iter(frames)
        first = list(itertools.islice(frames, SIGMA_FRAMES))
        sigma = source_sigma(first) if first else 0.0
        spec = auto_spec(sigma)
        log.log(logging.INFO if spec != "off" else logging.DEBUG, "pre-filter auto: source noise σ %.2f -> %s", sigma, spec)
        return apply_prefilter(itertools.chain(first, frames), spec)
    if kind == "off":
        return iter(frames)
    if kind == "mctf":
        from .mctf import mctf_frames

        return mctf_frames(frames, strength)
    if kind == "fft":
        from .fft import fft_frames

        return fft_frames(frames, strength)
    from .temporal import prefilter_frames

    return prefilter_frames(frames, strength)


def prefilter_version(spec: str) -> str:
    """Code (+ weights) behind a spec, for caches: a retuned or retrained filter must not be served stale."""
    if "+" in spec:
        return hashlib.sha256("+".join(prefilter_version(p) for p in spec.split("+")).encode()).hexdigest()[:16]
    kind, _ = kind_strength(spec)
    if kind == "off":
        return "off"
    root = Path(__file__).parent
    files = {"mctf": [root / "mctf.py", root / "noise.py"], "fft": [root / "fft.py"],
             "auto": [root / "stage.py", root / "mctf.py", root / "noise.py", root / "fft.py"]}.get(kind) or [
        root / "temporal.py", root.parent / "weights" / f"{TEMPORAL_WEIGHTS}.safetensors"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


FrameSource = Callable[[], Iterable[DecodedFrame]]


def filtered(source: FrameSource, spec: str) -> FrameSource:
    """`source` (a function giving the frames, called once per encoder pass) through the pre-filter `spec`:
    every pass sees the same filtered frames."""
    if spec == "off":
        return source
    return lambda: apply_prefilter(source(), spec)

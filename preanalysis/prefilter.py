"""Which pre-filter runs before the encoder, by name: one spelling for the config, the CLI, eval and tune.

    off            the source as it is
    auto           by the measured source noise σ: nothing on clean sources (every pre-filter measured a VMAF
                   loss there, BASELINES.md); on noisy ones MCTF then an FFT denoise, both scaled with σ
    mctf[:S]       motion-compensated temporal filter (preanalysis.mctf) at strength S (0..1, default 1)
    fft[:σ]        FFmpeg's fftdnoiz (spatio-temporal FFT, ±1 frame) at noise σ (8-bit units, default 4)
    temporal[:S]   the learned recursive filter (preanalysis.models.temporal) at strength S (default 1)
    A+B            A, then B
Metrics are always taken against the unfiltered source.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import PreanalysisError
from .mctf import SIGMA_FRAMES, auto_strength, source_sigma
from .video import DecodedFrame

log = logging.getLogger("preanalysis")
KINDS = ("off", "auto", "mctf", "temporal", "fft")
# `auto` at full noise: MCTF at this strength, then fftdnoiz at this share of the measured σ (chosen on σ=4 copies
# of carphone and bigbuckbunny; bikes + σ4 kept aside)
AUTO_MCTF, AUTO_FFT = 0.5, 0.7
FFT_SIGMA = 4.0  # fft without a value


def parse_prefilter(text: str) -> str:
    """The canonical spelling of a pre-filter spec, or a one-line error saying what is accepted."""
    if "+" in str(text):
        return "+".join(parse_prefilter(part) for part in str(text).split("+"))
    kind, sep, value = str(text).strip().partition(":")
    ok = kind in KINDS and (not sep or kind in ("mctf", "temporal", "fft"))
    if ok and sep:
        try:
            ok = 0 <= float(value) <= (20 if kind == "fft" else 1)
        except ValueError:
            ok = False
    if not ok:
        raise PreanalysisError(f"pre-filter {text!r} is not valid: use off, auto, mctf[:S], temporal[:S] (S a strength "
                               "in 0..1), fft[:σ] (σ in 0..20) or A+B")
    return f"{kind}:{float(value):g}" if sep else kind


def _kind_strength(spec: str) -> tuple[str, float]:
    kind, _, value = parse_prefilter(spec).partition(":")
    return kind, float(value) if value else (FFT_SIGMA if kind == "fft" else 1.0)


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
    kind, strength = _kind_strength(spec)
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
        from .fftdenoise import fft_frames

        return fft_frames(frames, strength)
    from .models.temporal import prefilter_frames

    return prefilter_frames(frames, strength)


def prefilter_version(spec: str) -> str:
    """Code (+ weights) behind a spec, for caches: a retuned or retrained filter must not be served stale."""
    if "+" in spec:
        return hashlib.sha256("+".join(prefilter_version(p) for p in spec.split("+")).encode()).hexdigest()[:16]
    kind, _ = _kind_strength(spec)
    if kind == "off":
        return "off"
    root = Path(__file__).parent
    files = {"mctf": [root / "mctf.py"], "fft": [root / "fftdenoise.py"],
             "auto": [root / "prefilter.py", root / "mctf.py", root / "fftdenoise.py"]}.get(kind) or [
        root / "mctf.py", root / "models" / "temporal.py", root / "weights" / "temporal.safetensors"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]

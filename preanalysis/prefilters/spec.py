"""Pre-filter specs by name: one spelling for the config, the CLI, eval and tune (see preanalysis.prefilters).

Kept free of the filters themselves, so validating a config never loads OpenCV flow or torch.
"""

from __future__ import annotations

from ..errors import PreanalysisError

KINDS = ("off", "auto", "mctf", "temporal", "fft")
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


def kind_strength(spec: str) -> tuple[str, float]:
    """(kind, strength or σ) of a single-filter spec, with the defaults filled in."""
    kind, _, value = parse_prefilter(spec).partition(":")
    return kind, float(value) if value else (FFT_SIGMA if kind == "fft" else 1.0)

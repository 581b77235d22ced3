"""What `preanalysis eval` and `tune` compare for each encoder unless told otherwise: the mapped encode's params,
eval's baselines without a map, tune's anchor without a map, and the CRF ladder on the encoder's own scale.

x264/x265: the map over the encoder "without its own AQ" (aq-mode 1, strength 0: the map still honoured),
against AQ on and AQ off.  SVT-AV1: its own defaults plus the map, shifted by roi-shift=26 q-index (the
salience preset's 4 QP: the finer side of a map shows only with the shift; docs/encoders.md), against its
three AQ settings (off, default, variance boost); aq-mode 0 is no anchor for the map because it would also
turn SVT-AV1's temporal filtering model off; CRFs on its 0..63 scale.  VP9: realtime (the only mode that
honours the map) with no AQ, against no AQ and cyclic refresh (aq-mode 3, realtime's own AQ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from preanalysis.config import AQ_OFF_PARAMS
from preanalysis.errors import PreanalysisError

X264_AQ_OFF = AQ_OFF_PARAMS  # aq-mode=1:aq-strength=0.0: the map still honoured (docs/encoders.md)


@dataclass(frozen=True)
class EvalDefaults:
    map_params: str  # the mapped encode's encoder params ("default": the encoder's own)
    baselines: tuple[str, ...]  # eval's curves without a map
    anchor: str  # tune's curve without a map
    crfs: tuple[float, ...]


X26X = EvalDefaults(X264_AQ_OFF, ("aq-mode=1", X264_AQ_OFF), X264_AQ_OFF, (22, 27, 32, 37))
EVAL_DEFAULTS = {
    "x264": X26X,
    "x265": X26X,
    "svtav1": EvalDefaults("roi-shift=26", ("aq-mode=0", "default", "enable-variance-boost=1"), "default",
                           (27, 35, 43, 51)),
    "vp9": EvalDefaults("default", ("default", "aq-mode=3"), "default", (24, 32, 40, 48)),
}


def eval_defaults(encoder: str) -> EvalDefaults:
    try:
        return EVAL_DEFAULTS[encoder]
    except KeyError:
        raise PreanalysisError(f"eval and tune know no defaults for {encoder}: use one of "
                               f"{', '.join(EVAL_DEFAULTS)}") from None


def per_encoder(what: Callable[[EvalDefaults], str]) -> str:
    """One default for every encoder, for --help: 'x264: ...; x265: ...'."""
    return "; ".join(f"{name}: {what(d)}" for name, d in EVAL_DEFAULTS.items())

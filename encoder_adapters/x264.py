"""x264 through FFmpeg's libx264 wrapper; the self-check reads the applied QPs back from the H.264 stream."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from .base import EncoderAdapter, EncodeSettings, register
from .readback import read_qps


@register
class X264(EncoderAdapter):
    name = "x264"
    codec = "libx264"
    params_option = "x264-params"
    stream_codec = "h264"
    tree_param = "mbtree"
    presets_without_aq = ("ultrafast",)
    min_map_effect = 8.0  # QP: the self-check map asks for 20 (left -10, right +10)
    map_effect_unit = "QP"

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        why = super().refusal(settings, bit_depth)
        if not why and settings.crf == 0 and bit_depth <= 8:
            why = "crf 0 is lossless in 8-bit x264 and ignores the QP map: use crf 1 or more, or --no-map"
        return why

    def map_effect(self, encoded: Path, sources: list[av.VideoFrame]) -> float:
        """Median QP of the right half minus the left half on the first (I) frame."""
        _, qp = read_qps(encoded)[0]
        half = qp.shape[1] // 2
        return float(np.median(qp[:, half:]) - np.median(qp[:, :half]))

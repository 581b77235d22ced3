"""x265 through FFmpeg's libx265 wrapper; FFmpeg exports no per-block QP for HEVC, so the self-check
measures the map by the PSNR of each half of the decoded frame (x265 resolves offsets at about its CU size,
so the halves are 64-px multiples)."""

from __future__ import annotations

from typing import ClassVar

from ..base import EncodeSettings, register
from .adapter import PyAVAdapter


@register
class X265(PyAVAdapter):
    name = "x265"
    codec = "libx265"
    params_option = "x265-params"
    stream_codec = "hevc"
    raw_suffix = ".265"
    tree_param = "cutree"
    presets_without_aq = ("ultrafast", "superfast")
    roi_on_every_frame = True  # FFmpeg's libx265 wrapper segfaults when ROI side data comes and goes (PyAV 18.1)
    default_params: ClassVar[dict[str, str]] = {"log-level": "error"}  # x265 prints its banner and stats to stderr otherwise

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        return super().refusal(settings, bit_depth) or self.lossless_refusal(settings)

"""x265 through FFmpeg's libx265 wrapper; FFmpeg exports no per-block QP for HEVC, so the self-check
measures the map by the PSNR of each half of the decoded frame (x265 resolves offsets at about its CU size,
so the halves are 64-px multiples)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import av
import numpy as np

from ..base import TRUE_WORDS, EncodeSettings, register
from ..readback import luma_plane
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
    min_map_effect = 3.0  # dB
    map_effect_unit = "dB PSNR"

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        why = super().refusal(settings, bit_depth)
        lossless = settings.param("lossless")
        if not why and lossless is not None and lossless.lower() in TRUE_WORDS:
            why = "lossless=1 makes x265 ignore the QP map: drop lossless, or encode with --no-map"
        return why

    def map_effect(self, encoded: Path, sources: list[av.VideoFrame]) -> float:
        """PSNR of the left half minus the right half of the first frame, in dB."""
        with av.open(str(encoded)) as container:
            decoded = next(container.decode(video=0))
        return half_psnr(sources[0], decoded)


def half_psnr(reference: av.VideoFrame, decoded: av.VideoFrame) -> float:
    ref = luma_plane(reference)
    dec = luma_plane(decoded)[: ref.shape[0], : ref.shape[1]]
    half = ref.shape[1] // 2
    peak = 1023.0 if reference.format.components[0].bits > 8 else 255.0

    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        mse = float(np.mean((a - b) ** 2))
        return 10 * np.log10(peak * peak / max(mse, 1e-6))

    return psnr(ref[:, :half], dec[:, :half]) - psnr(ref[:, half:], dec[:, half:])

"""x264 through FFmpeg's libx264 wrapper; the self-check reads the applied QPs back from the H.264 stream."""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path

import av
import numpy as np

from ..base import EncodeSettings, register
from ..readback import read_qps
from .adapter import PyAVAdapter
from .roi_sidedata import pyav_library

X264_CPU_AVX512 = 1 << 16  # x264.h


@cache
def repeatable_asm() -> dict[str, str]:
    """`asm` = the CPU features x264 detects, less AVX-512, on a CPU that has it; else nothing.  Why: with its
    AVX-512 code, this x264 (core 165, PyAV's wheel) does not give the same stream twice in one process: 40 of
    192 encodes of the same frames differed after an earlier encode, against 0 of 192 without AVX-512 (one
    thread or frame threads) and 0 of 192 in plain C (README, "Repeatable encodes")."""
    lib = pyav_library("libx264")
    if lib is None or not hasattr(lib, "x264_cpu_detect"):
        return {}
    lib.x264_cpu_detect.restype = ctypes.c_uint32
    flags = lib.x264_cpu_detect()
    return {"asm": str(flags & ~X264_CPU_AVX512)} if flags & X264_CPU_AVX512 else {}


@register
class X264(PyAVAdapter):
    name = "x264"
    codec = "libx264"
    params_option = "x264-params"
    stream_codec = "h264"
    raw_suffix = ".264"
    tree_param = "mbtree"
    presets_without_aq = ("ultrafast",)
    presets_without_tree = ("ultrafast", "superfast")
    min_map_effect = 8.0  # QP: the self-check map asks for 20 (left -10, right +10)
    map_effect_unit = "QP"

    @property
    def default_params(self) -> dict[str, str]:
        return repeatable_asm()

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

"""The `svtav1` adapter: SVT-AV1 through its own library (PyAV's libSvtAv1Enc 4.1), a ROI map per picture.

FFmpeg's libsvtav1 wrapper ignores ROI side data, so this adapter does not go through PyAV's encoder: a pass
is an SvtAv1Session (session.py).  QP maps become q-index offsets per 64x64 superblock, at most 8 levels per
picture (roi.py).  What makes the library ignore the map is refused up front (measured, tests/test_svtav1.py):
target-bitrate (VBR) mode -- SVT-AV1 4.1 sets up segmentation only in CRF/CQP mode -- and lossless.  Our own
param `roi-shift=Q` (q-index) lowers the CRF by Q/4 and raises every offset by Q when the encode has a map,
so finer-than-base regions show too (session.roi_shift; eval's svtav1 default is roi-shift=26).

Bitrate mode is two passes (two_pass): SVT-AV1's own multi-pass VBR, the first pass's statistics handed to
the second as SvtAv1EncApp's --pass 1 / --pass 2 do, through the shared 2-pass loop's pass/stats params.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from preanalysis.video import VideoInfo

from ..base import EncoderAdapter, EncodeSettings, register
from .output import CONTAINERS
from .session import SvtAv1Session, check_param

PRESETS = ("medium", *(str(p) for p in range(-1, 14)))  # medium: the library's default preset (M8)


@register
class SvtAv1(EncoderAdapter):
    name = "svtav1"
    stream_codec = "av1"
    raw_suffix = ".ivf"
    containers: ClassVar[dict[str, str]] = CONTAINERS
    max_crf = 63
    presets = PRESETS
    min_map_effect = 3.0  # dB PSNR between the halves: the self-check map asks for -/+65 q-index on them

    def open_pass(self, output: Path, info: VideoInfo, settings: EncodeSettings, pass_params: dict[str, str],
                  mapped: bool) -> SvtAv1Session:
        return SvtAv1Session(output, info, settings, pass_params, mapped)

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        for key, value in settings.params.items():
            check_param(key, value)
        if settings.bitrate_kbps is not None:
            return ("SVT-AV1 4.1 ignores ROI maps in target-bitrate (VBR) mode (it sets up segmentation only in "
                    "CRF/CQP mode; measured: identical output with and without a map): use --crf, or --no-map")
        return self.lossless_refusal(settings)

    def self_check_advice(self) -> str:
        return ("SVT-AV1 must get the ROI event with each changed map in CRF mode (check the params and the library), "
                "or encode with --no-map")

"""VP9 through FFmpeg's libvpx-vp9 wrapper, realtime mode only: the one mode in which the map is honoured.

FFmpeg's wrapper turns ROI side data into libvpx's VP9E_SET_ROI_MAP (8x8 blocks, at most 8 segments) only
when deadline is realtime, cpu-used >= 5 and aq-mode is 0 or unset; otherwise it skips the map with one
warning (libvpxenc.c).  Measured on 256x128 noise, CRF 32, a left -10 / right +10 QP map (tests/test_vp9.py):
good-quality mode: no effect; realtime cpu-used 5 and 8: 12-13 dB between the halves on every inter frame;
the key frame: no effect (libvpx applies the ROI map to inter frames only); realtime aq-mode 3 (cyclic
refresh): 0.2-2.7 dB (FFmpeg skips only the first frame's map, cyclic refresh overrides the rest).
Units: the wrapper sends qoffset x 63 as libvpx's external delta (0..63 scale, about 4 q-index each), so one
H.264 QP of the map is 63/51 external steps, about 4.9 q-index (a QP step is ~6.5 q-index mid-range).
Realtime VP9 has no 2-pass, so --bitrate is refused; presets are cpu-used 5..9 (medium = 8).  libvpx takes
plain AVOptions, not a params string, so the user's params become AVOptions one by one.
"""

from __future__ import annotations

from typing import ClassVar

from preanalysis.errors import PreanalysisError

from ..base import EncodeSettings, register
from .adapter import PyAVAdapter

OWN_KEYS = {"deadline": "vp9 runs in realtime mode, the only mode that honours the map",
            "cpu-used": "set the speed with --preset 5..9 (cpu-used)", "b": "vp9 runs in constant-quality mode (--crf)"}
NO_TWO_PASS = "vp9 honours maps only in realtime mode, which has no 2-pass: use --crf, or another encoder"


@register
class Vp9(PyAVAdapter):
    name = "vp9"
    codec = "libvpx-vp9"
    stream_codec = "vp9"
    raw_suffix = ".ivf"
    containers: ClassVar[dict[str, str]] = {".webm": "webm", ".mkv": "matroska", ".mp4": "mp4", ".ivf": "ivf"}
    max_crf = 63
    presets = ("medium", "5", "6", "7", "8", "9")
    two_pass = False
    map_effect_picture = 1  # the first inter frame: libvpx applies no ROI map to key frames

    def options(self, settings: EncodeSettings, extra: dict[str, str] | None = None) -> dict[str, str]:
        """libvpx takes plain AVOptions (no params string): realtime, cpu-used, crf with b=0, the user's."""
        if settings.crf is None or extra:
            raise PreanalysisError(NO_TWO_PASS)
        for key in settings.params:
            if key in OWN_KEYS:
                raise PreanalysisError(f"param {key} is not allowed for vp9: {OWN_KEYS[key]}")
        cpu_used = "8" if settings.preset == "medium" else settings.preset
        return {"deadline": "realtime", "cpu-used": cpu_used, "crf": f"{settings.crf:g}", "b": "0",
                **{k: v or "1" for k, v in settings.params.items()}}

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        if settings.bitrate_kbps is not None:
            return NO_TWO_PASS
        aq = settings.param("aq-mode")
        if aq is not None and aq not in ("0", "-1", "none"):
            return (f"aq-mode={aq} makes FFmpeg's libvpx-vp9 skip the ROI map (only aq-mode 0 is allowed): drop it, "
                    "or encode with --no-map")
        return self.lossless_refusal(settings)

    def self_check_advice(self) -> str:
        return ("libvpx-vp9 takes the ROI map only in realtime mode with cpu-used >= 5 and aq-mode 0 (check the "
                "params), or encode with --no-map")

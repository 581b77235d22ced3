"""NVENC behind the common adapter interface: `--encoder nvenc-h264` / `nvenc-hevc`, the map sent per picture
as NVENC's delta-QP map (api.py).

Settings map onto the SDK as: crf -> VBR constant-quality target `cq` (0..51), bitrate -> VBR average (NVENC's
own one-pass rate control: no second pass), preset p1 (fastest) .. p7 (best), params `ctb-size` (HEVC map
granularity: 16, 32 or 64) and `device` (CUDA device index).  The output is a raw Annex-B stream (mux it with
`ffmpeg -c copy`).  Never run on NVENC hardware here (see api.py); the self-check reads the QPs back (H.264)
or compares the halves' PSNR (HEVC), as for x264/x265.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import av
import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.video import DecodedFrame, VideoInfo

from ..base import EncoderAdapter, EncodeSettings, register
from ..frames import encoded_size, map_for_encoded_size
from ..readback import read_qps
from .api import PRESET_GUIDS, NvencEncoder, SessionConfig

PARAMS = {"ctb-size": "HEVC map granularity: 16, 32 or 64", "device": "CUDA device index"}


def nv12_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray]:
    """(Y, interleaved UV) of a frame cropped to even sides, as NVENC's NV12 input wants."""
    width, height = encoded_size(frame.width, frame.height)
    nv12 = frame.reformat(format="nv12")
    y = np.frombuffer(nv12.planes[0], np.uint8).reshape(-1, nv12.planes[0].line_size)[:height, :width]
    uv = np.frombuffer(nv12.planes[1], np.uint8).reshape(-1, nv12.planes[1].line_size)[: height // 2, :width]
    return y, uv


class Nvenc(EncoderAdapter):
    nv_codec: ClassVar[str]
    presets = tuple(PRESET_GUIDS)
    default_preset = "p4"
    two_pass = False
    min_map_effect = 8.0
    map_effect_unit = "QP"

    def session_config(self, settings: EncodeSettings) -> SessionConfig:
        unknown = sorted(set(settings.params) - set(PARAMS))
        if unknown:
            raise PreanalysisError(f"{self.name} takes no param {unknown[0]!r}: its params are "
                                   + "; ".join(f"{k} ({v})" for k, v in PARAMS.items()))
        try:
            ctb, device = int(settings.params.get("ctb-size", 32)), int(settings.params.get("device", 0))
        except ValueError:
            raise PreanalysisError(f"{self.name} params ctb-size and device must be integers") from None
        cq = None if settings.crf is None else round(settings.crf)
        return SessionConfig(self.nv_codec, settings.bitrate_kbps, 23 if cq is None else cq, settings.preset,
                             ctb, device)

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        self.session_config(settings)  # bad params are an error of their own
        if bit_depth > 8:
            return f"{self.name} encodes 8-bit NV12 here: a {bit_depth}-bit source would lose its depth; use x265"
        return None

    def open_pass(self, output: Path, info: VideoInfo, settings: EncodeSettings, pass_params: dict[str, str],
                  mapped: bool) -> NvencSession:
        return NvencSession(output, info, self.session_config(settings))


class NvencSession:
    """One NVENC session writing a raw stream; maps cropped to the even size NVENC encodes."""

    def __init__(self, output: Path, info: VideoInfo, config: SessionConfig):
        width, height = encoded_size(info.width, info.height)
        self.encoder = NvencEncoder(width, height, info.frame_rate or Fraction(25), config)
        self.out = open(output, "wb")
        self.payload = 0

    def encode(self, d: DecodedFrame, qp: QpMap | None) -> None:
        data = self.encoder.encode(*nv12_planes(d.frame), None if qp is None else map_for_encoded_size(qp))
        self.out.write(data)
        self.payload += len(data)

    def close(self) -> int:
        self.encoder.flush()
        self.abort()
        return self.payload

    def abort(self) -> None:
        self.out.close()
        self.encoder.close()


@register
class NvencH264(Nvenc):
    name = "nvenc-h264"
    nv_codec = "h264"
    stream_codec = "h264"
    raw_suffix = ".264"
    containers: ClassVar[dict[str, str]] = {".264": "h264", ".h264": "h264"}

    def map_effect(self, encoded: Path, sources: list) -> float:
        """Median QP of the right half minus the left half on the first (I) frame."""
        _, qp = read_qps(encoded)[0]
        half = qp.shape[1] // 2
        return float(np.median(qp[:, half:]) - np.median(qp[:, :half]))


@register
class NvencHevc(Nvenc):
    name = "nvenc-hevc"
    nv_codec = "hevc"
    stream_codec = "hevc"
    raw_suffix = ".265"
    containers: ClassVar[dict[str, str]] = {".265": "hevc", ".hevc": "hevc"}  # self-check: PSNR of halves

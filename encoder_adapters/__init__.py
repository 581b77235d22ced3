"""Encoder adapters: encode frames with a per-block QP map attached to every frame.

    from encoder_adapters import EncodeSettings, encode_file
    encode_file("in.mp4", "out.mp4", EncodeSettings("x264", crf=23), qp_for_frame=lambda i: maps.qp_map(i))

base.py      the settings, the adapter interface (one session per pass) and the registry
encode.py    the loop every encoder shares (map checks, self-check, 2-pass, atomic output); passes.py: one pass
pyav/        x264, x265 and VP9 (realtime) through PyAV's FFmpeg (ROI side data)
svtav1/      SVT-AV1 through its own library (ROI events per picture)
nvenc/       NVENC through the Video Codec SDK (delta-QP maps)
files/       encoder-native files for encoders driven elsewhere (qpfile, NVENC maps, SVT-AV1, kvazaar, ffmpeg)
readback.py  what an encoder really did, read back from its output (H.264 QPs, PSNR of halves);
             readback_hevc.py: HEVC QPs through libde265
"""

from . import nvenc, pyav, svtav1  # noqa: F401  (registers the adapters)
from .base import ADAPTERS, EncoderAdapter, EncodeResult, EncodeSettings, get_adapter
from .encode import encode_file, encode_frames
from .readback import read_qps

__all__ = ["ADAPTERS", "EncodeResult", "EncodeSettings", "EncoderAdapter", "encode_file", "encode_frames",
           "get_adapter", "read_qps"]

"""Encoder adapters: encode frames with x264/x265/VP9 through PyAV, or SVT-AV1 through its library, a per-block
QP map attached to every frame.

    from encoder_adapters import EncodeSettings, encode_file
    encode_file("in.mp4", "out.mp4", EncodeSettings("x264", crf=23), qp_for_frame=lambda i: maps.qp_map(i))
"""

from . import svtav1, vp9, x264, x265  # noqa: F401  (registers the adapters)
from .base import ADAPTERS, EncoderAdapter, EncodeResult, EncodeSettings, get_adapter
from .encode import encode_file, encode_frames
from .readback import read_qps

__all__ = ["ADAPTERS", "EncodeResult", "EncodeSettings", "EncoderAdapter", "encode_file", "encode_frames",
           "get_adapter", "read_qps"]

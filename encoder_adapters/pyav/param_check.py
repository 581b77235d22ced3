"""Encoder params checked by the encoder's own parser before any work: x264_param_parse / x265_param_parse from
the library PyAV loaded.  Why: FFmpeg's wrappers only log a warning for a param they cannot parse and encode
without it, so a typo such as aq-strenght=0 silently left the encoder's own AQ on under the map."""

from __future__ import annotations

import ctypes
from functools import cache

from .roi_sidedata import pyav_library

BAD_NAME, BAD_VALUE = -1, -2  # X264_PARAM_BAD_NAME / BAD_VALUE; x265's parser returns the same
X264_PARAM_BYTES = 1 << 16  # x264_param_t is about 1 KB; the buffer only has to hold it


PARSERS = ("x264", "x265")  # encoders whose library has a param parser to ask


@cache
def _library(encoder: str) -> ctypes.CDLL | None:
    lib = pyav_library(f"lib{encoder}") if encoder in PARSERS else None
    if lib is None or not hasattr(lib, f"{encoder}_param_parse"):
        return None
    if encoder == "x265":
        lib.x265_param_alloc.restype = ctypes.c_void_p
        lib.x265_param_default.argtypes = lib.x265_param_free.argtypes = [ctypes.c_void_p]
        lib.x265_param_parse.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    return lib


def parse_result(encoder: str, key: str, value: str) -> int | None:
    """What the encoder's parser says of key=value on its default params: 0, BAD_NAME or BAD_VALUE (None: no
    parser to ask, for this encoder or in this PyAV)."""
    lib = _library(encoder)
    if lib is None:
        return None
    if encoder == "x264":
        params = ctypes.create_string_buffer(X264_PARAM_BYTES)
        lib.x264_param_default(params)
        return lib.x264_param_parse(params, key.encode(), value.encode())
    params = lib.x265_param_alloc()
    try:
        lib.x265_param_default(params)
        return lib.x265_param_parse(params, key.encode(), value.encode())
    finally:
        lib.x265_param_free(params)


def param_problem(encoder: str, params: dict[str, str]) -> str | None:
    """A one-line error for the first param the encoder would not take, or None."""
    for key, value in params.items():
        result = parse_result(encoder, key, value)
        if result == BAD_NAME:
            return f"{encoder} has no param {key!r} (its own parser says so): check the spelling ({encoder} --fullhelp)"
        if result == BAD_VALUE:
            return (f"{encoder} rejects the value of {key}={value} (its own parser says so): give a value of the kind "
                    f"{encoder} --fullhelp names for {key}")
    return None

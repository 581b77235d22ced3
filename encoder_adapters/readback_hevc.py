"""Read the QP an HEVC encoder (x265) really used per coding block back from the bitstream, with libde265.

FFmpeg's HEVC decoder exports no per-block QP.  Debian's libde265 (package libde265-0, installed by .ci/run)
decodes the stream and exports `draw_QuantPY(image, dst, stride, pixel_size)` (visualize.cc, a public symbol
of libde265.so.0): it paints every coding block with its QpY as a grey level, QP clipped to 20..40 and
scaled by 255/20 with truncation -- so a QP inside 20..40 is recovered exactly (20 + round(grey / 12.75))
and one outside reads as 20 or 40.  Pick the CRF so the QPs under test sit inside that range.  Intra
pictures are the IRAP ones (NAL types 16..23: BLA, IDR, CRA); in other pictures skipped blocks carry a
predicted QP, as with H.264 (readback.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from pathlib import Path

import av
import numpy as np

from preanalysis.errors import PreanalysisError

MIN_QP, MAX_QP = 20, 40  # draw_QuantPY's range
GREY_PER_QP = 255 / (MAX_QP - MIN_QP)
BLOCK = 8  # HEVC's smallest coding block: the grid the QPs are returned on
DE265_OK, DE265_ERROR_WAITING_FOR_INPUT_DATA = 0, 13
IRAP_NAL_TYPES = range(16, 24)
RAW_SUFFIXES = (".265", ".hevc", ".h265")


@cache
def libde265() -> ctypes.CDLL | None:
    """Debian's libde265.so.0 with the prototypes used here, or None when it is not installed."""
    name = ctypes.util.find_library("de265") or "libde265.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(lib, "draw_QuantPY"):
        return None
    p, i = ctypes.c_void_p, ctypes.c_int
    for fn, restype, argtypes in (
        ("de265_new_decoder", p, []), ("de265_free_decoder", i, [p]), ("de265_push_data", i, [p, p, i, ctypes.c_int64, p]),
        ("de265_flush_data", i, [p]), ("de265_decode", i, [p, ctypes.POINTER(i)]), ("de265_isOK", i, [i]),
        ("de265_peek_next_picture", p, [p]), ("de265_release_next_picture", None, [p]),
        ("de265_get_image_width", i, [p, i]), ("de265_get_image_height", i, [p, i]),
        ("de265_get_image_NAL_header", None, [p, ctypes.POINTER(i), ctypes.POINTER(ctypes.c_char_p),
                                              ctypes.POINTER(i), ctypes.POINTER(i)]),
        ("de265_get_error_text", ctypes.c_char_p, [i]), ("draw_QuantPY", None, [p, p, i, i]),
    ):
        f = getattr(lib, fn)
        f.restype, f.argtypes = restype, argtypes
    return lib


def available() -> bool:
    return libde265() is not None


def annexb(path: str | Path) -> bytes:
    """The stream as Annex B: a raw .265/.hevc file as it is, a container's packets through hevc_mp4toannexb."""
    path = Path(path)
    if path.suffix.lower() in RAW_SUFFIXES:
        return path.read_bytes()
    from av.bitstream import BitStreamFilterContext

    out = bytearray()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name != "hevc":
            raise PreanalysisError(f"{path} is {stream.codec_context.name}, not HEVC: read its QPs another way")
        bsf = BitStreamFilterContext("hevc_mp4toannexb", stream)
        for packet in container.demux(stream):
            for filtered in bsf.filter(packet if packet.size else None):
                out += bytes(filtered)
    return bytes(out)


def read_hevc_qps(path: str | Path) -> list[tuple[bool, np.ndarray]]:
    """(intra (IRAP) picture?, QpY per 8x8 block, rows x cols int16) for each picture in display order."""
    lib = libde265()
    if lib is None:
        raise PreanalysisError("HEVC QP read-back needs libde265 (Debian: apt-get install libde265-0)")
    data = annexb(path)
    ctx = lib.de265_new_decoder()
    out: list[tuple[bool, np.ndarray]] = []
    try:
        buf = ctypes.create_string_buffer(data, len(data))
        _check(lib, lib.de265_push_data(ctx, buf, len(data), 0, None), path)
        _check(lib, lib.de265_flush_data(ctx), path)
        more = ctypes.c_int(1)
        while more.value:
            status = lib.de265_decode(ctx, ctypes.byref(more))
            if status == DE265_ERROR_WAITING_FOR_INPUT_DATA:
                more.value = 0  # flushed: nothing more will come, pictures may still wait below
            elif status != DE265_OK:
                _check(lib, status, path)
            while image := lib.de265_peek_next_picture(ctx):
                out.append(_picture_qps(lib, image))
                lib.de265_release_next_picture(ctx)
    finally:
        lib.de265_free_decoder(ctx)
    if not out:
        raise PreanalysisError(f"libde265 decoded no picture from {path}: is it an HEVC stream?")
    return out


def _check(lib, status: int, path) -> None:
    if not lib.de265_isOK(status):
        raise PreanalysisError(f"libde265 cannot decode {path}: {lib.de265_get_error_text(status).decode()}")


def _picture_qps(lib, image: int) -> tuple[bool, np.ndarray]:
    width, height = lib.de265_get_image_width(image, 0), lib.de265_get_image_height(image, 0)
    grey = np.zeros((height, width), np.uint8)
    lib.draw_QuantPY(image, grey.ctypes.data, width, 1)
    qp = MIN_QP + np.round(grey[::BLOCK, ::BLOCK] / GREY_PER_QP).astype(np.int16)
    nal_type, name, layer, tid = ctypes.c_int(), ctypes.c_char_p(), ctypes.c_int(), ctypes.c_int()
    lib.de265_get_image_NAL_header(image, ctypes.byref(nal_type), ctypes.byref(name), ctypes.byref(layer),
                                   ctypes.byref(tid))
    return nal_type.value in IRAP_NAL_TYPES, qp

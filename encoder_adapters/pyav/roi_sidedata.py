"""Attach a QpMap to a PyAV frame as AV_FRAME_DATA_REGIONS_OF_INTEREST, which FFmpeg's libx264/libx265 read.

PyAV exposes side data read-only (PyAV issues #1153, #1593), so this calls av_frame_new_side_data from the
libavutil PyAV itself loaded, on the frame's AVFrame*.  That pointer is a private field of PyAV's Cython
Frame object: it is found once by scanning the object (reads go through /proc/self/mem, so a wrong guess
returns an error instead of crashing) and validated on *every* frame (data[0] is the first plane's buffer,
width/height match), so a PyAV layout change raises PreanalysisError instead of corrupting memory.

Semantics of the wrappers (read in FFmpeg's libx264.c / libx265.c, verified by reading QPs back): qp_delta = clip(qoffset * range, -range, range) with
range = 51 + 6*(bitdepth-8); rectangles are rounded outward to the 16x16 grid; the first ROI in the list
wins where ROIs overlap; blocks covered by no ROI get 0.  Each block row becomes runs of equal delta.
"""

from __future__ import annotations

import ctypes
import glob
import os
from functools import cache

import av
import numpy as np

from preanalysis.qpmap import QpMap
from preanalysis.errors import PreanalysisError

ROI_SIDE_DATA = 18  # AV_FRAME_DATA_REGIONS_OF_INTEREST
ROI_STRUCT_SIZE = 28  # AVRegionOfInterest: uint32 self_size; int top, bottom, left, right; AVRational qoffset
AVFRAME_WIDTH_OFFSET = 104  # after data[8], linesize[8], extended_data (FFmpeg 5..8 layouts)
VALIDATED_PYAV = "18.1"


class _SideData(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("data", ctypes.c_void_p), ("size", ctypes.c_size_t)]


def _layout_error(why: str) -> PreanalysisError:
    return PreanalysisError(
        f"cannot attach ROI side data with PyAV {av.__version__} ({why}): "
        f"install PyAV {VALIDATED_PYAV}.x, the version this writer was validated on"
    )


def pyav_library(stem: str) -> ctypes.CDLL | None:
    """A library PyAV bundles (libavutil, libx264, ...), PyAV's own copy first: other wheels bring theirs
    (OpenCV has its own libavutil), and which one the memory map lists first is chance."""
    libdir = os.path.realpath(os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs"))
    candidates = sorted(glob.glob(os.path.join(libdir, f"{stem}*.so*")))
    try:
        with open("/proc/self/maps") as maps:
            candidates += [line.split()[-1] for line in maps if stem in line and line.split()[-1].startswith("/")]
    except OSError:
        pass
    return ctypes.CDLL(candidates[0]) if candidates else None


@cache
def _avutil() -> ctypes.CDLL:
    """The libavutil PyAV loaded."""
    lib = pyav_library("libavutil")
    if lib is None:
        raise _layout_error("libavutil not found among the libraries PyAV loaded")
    lib.av_frame_new_side_data.restype = ctypes.c_void_p
    lib.av_frame_new_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    lib.av_frame_get_side_data.restype = ctypes.c_void_p
    lib.av_frame_get_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.av_frame_remove_side_data.restype = None
    lib.av_frame_remove_side_data.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _read_words(address: int, count: int) -> tuple[int, ...] | None:
    """Read machine words without risking a segfault: None when the address is not mapped."""
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError as exc:
        raise PreanalysisError(
            f"cannot read /proc/self/mem ({exc.strerror}), needed to validate PyAV's frame layout before writing "
            "ROI side data: run on Linux with /proc mounted, or encode with --no-map"
        ) from None
    try:
        raw = os.pread(fd, 8 * count, address)
    except (OSError, OverflowError, ValueError):
        return None
    finally:
        os.close(fd)
    return tuple(int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)) if len(raw) == 8 * count else None


def _is_frame_ptr(ptr: int, frame: av.VideoFrame) -> bool:
    words = _read_words(ptr, 1)
    size = _read_words(ptr + AVFRAME_WIDTH_OFFSET, 1)
    if not words or not size:
        return False
    width, height = size[0] & 0xFFFFFFFF, size[0] >> 32
    return words[0] == frame.planes[0].buffer_ptr and (width, height) == (frame.width, frame.height)


@cache
def _pointer_offset() -> int:
    """Where PyAV keeps AVFrame* inside its Frame object (searched once, on a probe frame)."""
    probe = av.VideoFrame(48, 32, "yuv420p")
    for offset in range(16, 96, 8):
        ptr = ctypes.c_void_p.from_address(id(probe) + offset).value
        if ptr and _is_frame_ptr(ptr, probe):
            return offset
    raise _layout_error("no field of the Frame object points at its AVFrame")


def frame_pointer(frame: av.VideoFrame) -> int:
    """The frame's AVFrame*, validated against what PyAV reports about the frame."""
    ptr = ctypes.c_void_p.from_address(id(frame) + _pointer_offset()).value
    if not ptr or not _is_frame_ptr(ptr, frame):
        raise _layout_error("the AVFrame pointer does not match the frame's data and size")
    return ptr


def roi_rectangles(qp: QpMap, width: int, height: int) -> np.ndarray:
    """int32 (n, 7) rows of AVRegionOfInterest fields (minus qoffset's denominator): runs of equal non-zero delta.

    Each block row is split where the delta changes; zero runs are dropped (uncovered blocks get 0).
    Rectangles are clipped to the width x height the encoder sees (which may be cropped to even sizes).
    """
    offs = np.asarray(qp.offsets, dtype=np.int32)
    rows, cols = offs.shape
    change = np.ones((rows, cols), dtype=bool)
    change[:, 1:] = offs[:, 1:] != offs[:, :-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], rows * cols)  # every row starts a run, so a row's last run ends at the row end
    r, c0 = np.divmod(starts, cols)
    c1 = ends - r * cols
    delta = offs.ravel()[starts]
    keep = delta != 0
    r, c0, c1, delta = r[keep], c0[keep], c1[keep], delta[keep]
    b = qp.block_size
    out = np.empty((len(r), 7), dtype=np.int32)
    out[:, 0] = ROI_STRUCT_SIZE
    out[:, 1] = np.minimum(r * b, height)
    out[:, 2] = np.minimum((r + 1) * b, height)
    out[:, 3] = np.minimum(c0 * b, width)
    out[:, 4] = np.minimum(c1 * b, width)
    out[:, 5] = delta
    visible = (out[:, 2] > out[:, 1]) & (out[:, 4] > out[:, 3])
    return out[visible]


def qp_range(bit_depth: int) -> int:
    return 51 + 6 * (bit_depth - 8)


def clear_roi(frame: av.VideoFrame) -> None:
    """Remove ROI side data (a reused frame would otherwise carry the previous frame's map)."""
    _avutil().av_frame_remove_side_data(frame_pointer(frame), ROI_SIDE_DATA)


def attach_qp_map(frame: av.VideoFrame, qp: QpMap, bit_depth: int = 8, keep_zero: bool = False) -> int:
    """Replace the frame's ROI side data with qp's offsets; returns the number of rectangles attached.

    An all-zero map attaches nothing, or (keep_zero) one whole-frame rectangle of offset 0: FFmpeg's libx265
    wrapper crashes (segfault, PyAV 18.1) when ROI side data comes and goes between the frames of a stream."""
    ptr = frame_pointer(frame)
    lib = _avutil()
    lib.av_frame_remove_side_data(ptr, ROI_SIDE_DATA)
    rects = roi_rectangles(qp, frame.width, frame.height)
    if len(rects) == 0 and keep_zero:
        rects = np.array([[ROI_STRUCT_SIZE, 0, frame.height, 0, frame.width, 0, 0]], dtype=np.int32)
    if len(rects) == 0:
        return 0  # an all-zero map is the same as no map
    rects[:, 6] = qp_range(bit_depth)
    sd_ptr = lib.av_frame_new_side_data(ptr, ROI_SIDE_DATA, rects.nbytes)
    if not sd_ptr:
        raise PreanalysisError(f"out of memory attaching {len(rects)} ROI rectangles: free memory and retry")
    sd = _SideData.from_address(sd_ptr)
    if sd.type != ROI_SIDE_DATA or sd.size != rects.nbytes:
        raise _layout_error("AVFrameSideData has an unexpected layout")
    ctypes.memmove(sd.data, rects.ctypes.data, rects.nbytes)
    return len(rects)


def attached_rois(frame: av.VideoFrame) -> np.ndarray:
    """The ROI rectangles on the frame now, as attach_qp_map wrote them (PyAV caches its side-data view)."""
    sd_ptr = _avutil().av_frame_get_side_data(frame_pointer(frame), ROI_SIDE_DATA)
    if not sd_ptr:
        return np.zeros((0, 7), dtype=np.int32)
    sd = _SideData.from_address(sd_ptr)
    raw = ctypes.string_at(sd.data, sd.size)
    return np.frombuffer(raw, dtype=np.int32).reshape(-1, 7).copy()

"""Streaming video input: one decoded frame at a time (flat memory), pts kept, analysis-resolution luma.

Any file PyAV decodes works, including odd sizes, 10-bit and variable frame rate (pts are passed through,
never re-timed).  A truncated or corrupt stream yields what can be decoded and logs what was lost.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import PreanalysisError

log = logging.getLogger("preanalysis")

MAX_DIMENSION = 8192  # x264/x265 levels stop at 8K; larger frames are almost always a misread header
MIN_DIMENSION = 16


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    codec: str
    time_base: Fraction
    frame_rate: Fraction | None  # average rate; VFR sources keep their own pts
    frame_count: int  # 0 when the container does not say

    @property
    def fps(self) -> float:
        return float(self.frame_rate) if self.frame_rate else 25.0


@dataclass
class DecodedFrame:
    index: int
    pts: int
    time: float  # seconds
    frame: av.VideoFrame  # full resolution, as decoded


@dataclass
class Frame:
    """What the analysers get: index, timing and the analysis-resolution luma in [0, 1]."""

    index: int
    pts: int
    time: float
    luma: np.ndarray  # float32 (h, w)


def _open(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise PreanalysisError(f"input {path} does not exist: check the path")
    if path.is_dir():
        raise PreanalysisError(f"input {path} is a folder: give a video file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise PreanalysisError(f"input {path} is not a readable video ({_reason(exc)}): give a file FFmpeg can decode") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise PreanalysisError(f"input {path} has no video stream ({', '.join(kinds)} only): give a video file")
    return container


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def probe(path: str | Path) -> VideoInfo:
    """Read the stream header (no decoding) and reject sizes no encoder here can take."""
    with _open(path) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = ctx.width, ctx.height
        pix_fmt = ctx.pix_fmt or "yuv420p"
        info = VideoInfo(
            path=Path(path),
            width=width,
            height=height,
            pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt),
            codec=ctx.name,
            time_base=stream.time_base or Fraction(1, 25),
            frame_rate=stream.average_rate or stream.guessed_rate,
            # the container's duration is the video's only when nothing else (audio) is in it
            frame_count=stream.frames or (0 if container.format.name in ELEMENTARY_STREAMS else
                                          _frames_from_duration(stream, _video_span(container)
                                                                if len(container.streams) == 1 else None)),
        )
    _check_size(path, width, height)
    return info


def _check_size(path, width: int, height: int) -> None:
    if not (MIN_DIMENSION <= width <= MAX_DIMENSION and MIN_DIMENSION <= height <= MAX_DIMENSION):
        raise PreanalysisError(
            f"input {path} is {width}x{height}: frame sides must be within {MIN_DIMENSION}..{MAX_DIMENSION} pixels"
            " (scale the video first)"
        )


# Raw elementary streams carry no timestamps: FFmpeg guesses their duration from the bit rate (a 79-frame MPEG-1
# stream read as 1 frame), so their length is unknown until decoded.
ELEMENTARY_STREAMS = {"mpegvideo", "h264", "hevc", "vvc", "m4v", "cavsvideo", "vc1", "obu", "mjpeg"}


def _video_span(container) -> int | None:
    """The container's duration less its start time (microseconds): a film whose first frame is shown 42 ms
    late lasts 24 frames, not 25."""
    if not container.duration:
        return None
    return container.duration - max(container.start_time or 0, 0)


def _frames_from_duration(stream, container_duration: int | None) -> int:
    rate = stream.average_rate or stream.guessed_rate
    if not rate:
        return 0
    if stream.duration and stream.time_base:
        return int(round(float(stream.duration * stream.time_base * rate)))
    if container_duration:  # microseconds (AV_TIME_BASE)
        return int(round(container_duration / 1e6 * float(rate)))
    return 0


def _bit_depth(pix_fmt: str) -> int:
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, av.error.FFmpegError):
        return 8


def decode(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[DecodedFrame]:
    """Decode frames [start, stop) in order, full resolution; on a corrupt stream, log what was lost and stop."""
    info = probe(path)
    index = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 25)
        try:
            for frame in container.decode(stream):
                if stop is not None and index >= stop:
                    return
                if (frame.width, frame.height) != (info.width, info.height):
                    raise PreanalysisError(
                        f"input {path} changes size at frame {index} ({info.width}x{info.height} -> {frame.width}x"
                        f"{frame.height}): scale it to one size first, e.g. ffmpeg -i IN -vf scale={info.width}:"
                        f"{info.height} -c:v ffv1 OUT.mkv"
                    )
                if index >= start:
                    pts = frame.pts if frame.pts is not None else index
                    yield DecodedFrame(index, pts, float(pts * tb), frame)
                index += 1
        except av.error.FFmpegError as exc:
            expected = f" of about {info.frame_count}" if info.frame_count else ""
            log.warning(
                "%s is truncated or corrupt (%s): decoded %d frame(s)%s, the rest is lost",
                path, _reason(exc), index, expected,
            )
    if index == 0:
        raise PreanalysisError(f"input {path} has no decodable video frames: the file is empty or broken")
    # Demuxers often end a truncated file silently; the header's length is what tells.
    if stop is None and info.frame_count and index < 0.98 * info.frame_count - 1:
        log.warning("%s is truncated or corrupt: decoded %d frame(s) of the %d its header promises, the rest is lost",
                    path, index, info.frame_count)


def analysis_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Downscale by the smallest power of two that fits max_width: a 16x16 encoder block is then a whole
    number of analysis pixels (16, 8, 4, ...), so block statistics never straddle two blocks."""
    factor = 1 << max(0, math.ceil(math.log2(width / max_width)))
    return max(MIN_DIMENSION, width // factor), max(MIN_DIMENSION, height // factor)


PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}


def to_luma(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """Analysis-resolution luma in [0, 1] (any bit depth; area-averaged so noise does not alias)."""
    return shrink_luma(y_plane(frame), size)


def y_plane(frame: av.VideoFrame) -> np.ndarray:
    """The frame's full-resolution 8-bit Y plane (uint8 (h, w), a view, no colour conversion): what the encoder
    sees, and the detail a detector of small objects needs that the analysis luma has averaged away."""
    if frame.format.name not in PLANAR_YUV:  # 10-bit, RGB, ...: to 8-bit 4:2:0 first (the Y the encoder sees)
        frame = frame.reformat(format="yuv420p")
    return plane_pixels(frame.planes[0])


def plane_pixels(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """An 8-bit plane's pixels without its row padding (uint8 (height, width), a view)."""
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def shrink_luma(y: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A uint8 Y plane -> analysis-resolution luma in [0, 1] (OpenCV's SIMD area resize)."""
    small = cv2.resize(y, size, interpolation=cv2.INTER_AREA) if size != (y.shape[1], y.shape[0]) else y
    return small.astype(np.float32) * np.float32(1 / 255)


UNIT_RATE = Fraction(25)  # frames per second of encodes that do not code at the source's rate (x264's unit duration)
CHROMA_PLANES = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


def shrink_chroma(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """The frame's U and V planes area-resized to the chroma of the analysis size cut to even sides (what
    teacher_vmaf.even_uint8 codes of the luma): uint8 (2, h // 2, w // 2).  Why: an encode of the analysis luma
    with neutral chroma spends no bits on colour, so it misjudges what a map costs (analysis.code_source)."""
    if frame.format.name not in CHROMA_PLANES:  # nv12, 10-bit, RGB, gray, ...: to 8-bit 4:2:0 first
        frame = frame.reformat(format="yuv420p")
    target = (size[0] // 2, size[1] // 2)
    out = np.empty((2, target[1], target[0]), np.uint8)
    for k, plane in enumerate(frame.planes[1:3]):
        out[k] = cv2.resize(plane_pixels(plane), target, interpolation=cv2.INTER_AREA)
    return out


@dataclass(frozen=True)
class SourceCoding:
    """What encodes of the analysis luma code of the source itself (analysis.code_source): each frame's U and V,
    uint8 (n, 2, h // 2, w // 2) (video.shrink_chroma), and the source's frame rate.  Why: neutral grey spends no
    bits on colour, and x264's CRF weighs each frame's complexity by its duration (a 25 fps frame is its unit), so
    at another rate the same CRF codes at other QPs.  On a 30 fps animation cut the guard read -9.3 % VMAF coded
    grey at 25 fps, where eval measured +3.8 % at its two CRFs; coded as the source, with the preset's encoder
    settings (allocate.verify_params encode), it read +3.8 % (docs/results.md)."""

    chroma: np.ndarray | None  # None: grey (the native guard's samples are luma only)
    rate: Fraction

    def __getitem__(self, frames: slice) -> SourceCoding:
        return SourceCoding(None if self.chroma is None else self.chroma[frames], self.rate)

    def key(self) -> tuple[str | None, Fraction]:
        return None if self.chroma is None else hashlib.sha1(np.ascontiguousarray(self.chroma)).hexdigest(), self.rate


def frames(path: str | Path, max_width: int = 480, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
    """Stream analysis frames of a video file."""
    info = probe(path)
    size = analysis_size(info.width, info.height, max_width)
    for d in decode(path, start, stop):
        yield Frame(d.index, d.pts, d.time, to_luma(d.frame, size))

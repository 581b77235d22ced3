"""Encode decoded frames through PyAV (libx264 / libx265), one QpMap per frame attached as ROI side data.

Fixes for the PyAV pitfalls in ENCODERS.md, so that an encode without a map is the ffmpeg CLI's encode:
decoded frames carry pict_type I (FFmpeg would force a keyframe) -> reset to NONE; PyAV defaults to slice
threads -> frame threads; frame.time_base is set with frame.pts, and the source pts and time base are kept
(VFR stays VFR).  Frames are turned into 4:2:0 at the source depth (8 or 10 bits).  4:2:0 needs even sides:
an odd width or height is cropped by one pixel (the last column/row), since H.264/HEVC cannot signal a
half chroma sample; QP maps still describe the source size and are clipped to the encoded size.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType

from preanalysis.allocate import QpMap
from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_output, check_output_path
from preanalysis.prefilter import apply_prefilter
from preanalysis.video import DecodedFrame, VideoInfo, decode, probe

from .base import EncoderAdapter, EncodeResult, EncodeSettings, get_adapter
from .roi_sidedata import attach_qp_map, clear_roi

log = logging.getLogger("preanalysis")

COLOUR_ATTRIBUTES = ("color_range", "colorspace", "color_primaries", "color_trc")
QpForFrame = Callable[[int], "QpMap | None"]


def encoded_size(width: int, height: int) -> tuple[int, int]:
    """The size the encoder sees: odd sides lose their last column/row (4:2:0 needs even sides)."""
    return width - width % 2, height - height % 2


def to_encoder_frame(frame: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
    """The frame in the encoder's pixel format, cropped to even sides (a new frame unless nothing changes)."""
    if frame.format.name != pix_fmt:
        frame = frame.reformat(format=pix_fmt)
    width, height = encoded_size(frame.width, frame.height)
    if (width, height) == (frame.width, frame.height):
        return frame
    cropped = av.VideoFrame(width, height, pix_fmt)
    sample_bytes = 2 if frame.format.components[0].bits > 8 else 1
    for src, dst in zip(frame.planes, cropped.planes):
        src_rows = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)
        dst_rows = np.frombuffer(dst, np.uint8).reshape(dst.height, dst.line_size)
        dst_rows[:, : dst.width * sample_bytes] = src_rows[: dst.height, : dst.width * sample_bytes]
    return cropped


def _bit_depth(pix_fmt: str) -> int:
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def encode_pass(
    frames: Iterable[DecodedFrame],
    info: VideoInfo,
    output: Path,
    adapter: EncoderAdapter,
    settings: EncodeSettings,
    qp_for_frame: QpForFrame | None,
    extra_params: dict[str, str] | None = None,
    progress: str | None = None,
) -> tuple[int, int, float]:
    """One pass into `output`; returns (frames, payload bytes, pts span in seconds)."""
    pix_fmt = adapter.pix_fmt(info.pix_fmt, info.bit_depth)
    depth = _bit_depth(pix_fmt)
    width, height = encoded_size(info.width, info.height)
    time_base = info.time_base or Fraction(1, 25)
    count, payload, first, last, restamped = 0, 0, None, None, 0
    # the bar is closed however the pass ends, so an error message starts on a line of its own
    with av.open(str(output), "w", format=adapter.container_format(output)) as container, \
            _progress(progress, info.frame_count) as bar:
        stream = container.add_stream(adapter.codec, rate=info.frame_rate or 25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        ctx = stream.codec_context
        ctx.time_base = time_base
        stream.time_base = time_base
        ctx.thread_type = "FRAME"
        if settings.bitrate_kbps is not None:
            ctx.bit_rate = round(settings.bitrate_kbps * 1000)
        stream.options = adapter.options(settings, extra_params)
        sar = sample_aspect_ratio(info)
        if sar:
            ctx.sample_aspect_ratio = sar
        for d in frames:
            if count == 0:  # the encoder opens on the first frame: signal the source's colours as ffmpeg does
                for attr in COLOUR_ATTRIBUTES:
                    setattr(ctx, attr, getattr(d.frame, attr))
                if d.frame.rotation:  # a phone's portrait video stays portrait
                    stream.set_display_rotation(d.frame.rotation)
            frame = to_encoder_frame(d.frame, pix_fmt)
            # Containers need increasing timestamps: a repeated (or backward) source pts is stamped one tick after
            # the previous frame's; every other pts is kept (VFR stays VFR).
            frame.pts = d.pts if last is None or d.pts > last else last + 1
            restamped += frame.pts != d.pts
            frame.time_base = time_base
            frame.pict_type = PictureType.NONE
            if qp_for_frame is not None:
                qp = qp_for_frame(d.index)
                if qp is None:
                    clear_roi(frame)
                else:
                    _check_map(qp, info, d.index)
                    attach_qp_map(frame, qp, depth)
            for packet in stream.encode(frame):
                payload += packet.size
                container.mux(packet)
            first = frame.pts if first is None else first
            last = frame.pts
            count += 1
            if bar is not None:
                bar.update()
        for packet in stream.encode(None):
            payload += packet.size
            container.mux(packet)
    if count == 0:
        raise PreanalysisError(f"no frames to encode into {output}: check the input and the frame range")
    if restamped:
        log.warning("%s: %d source timestamp(s) repeat or go back in time; those frames are stamped one tick later",
                    info.path, restamped)
    # n frames span n intervals: the pts range covers n - 1 of them.
    span = float((last - first) * time_base) * count / (count - 1) if count > 1 else 0.0
    return count, payload, span if span > 0 else count / info.fps


def sample_aspect_ratio(info: VideoInfo) -> Fraction | None:
    """The source's pixel aspect ratio (VideoInfo does not carry it), so the output displays the same."""
    if not Path(info.path).is_file():
        return None
    with av.open(str(info.path)) as container:
        return container.streams.video[0].sample_aspect_ratio


def _check_map(qp: QpMap, info: VideoInfo, index: int) -> None:
    if (qp.width, qp.height) != (info.width, info.height):
        raise PreanalysisError(
            f"QP map of frame {index} is for {qp.width}x{qp.height} but the video is {info.width}x{info.height}: "
            "make the maps from this video"
        )


def _progress(label: str | None, total: int):
    if not label:
        return contextlib.nullcontext()
    from tqdm import tqdm

    return tqdm(total=total or None, desc=label, unit="f", leave=False)


def encode_frames(
    frames_factory: Callable[[], Iterable[DecodedFrame]],
    info: VideoInfo,
    output_path: str | Path,
    settings: EncodeSettings,
    qp_for_frame: QpForFrame | None = None,
    progress: bool = False,
    self_check: bool = True,
    prefilter: str = "off",
) -> EncodeResult:
    """Encode the frames (CRF: one pass; bitrate: 2 passes, so frames_factory is called twice) atomically,
    through the pre-filter `prefilter` (preanalysis.prefilter spec; every pass sees the same filtered frames).

    The frames are consumed: their pict_type, pts/time_base and ROI side data are set before encoding.

    With qp_for_frame, settings that would silently ignore the map are refused and a cached self-check
    proves the encoder honours maps with these params before the real encode starts.
    """
    adapter = get_adapter(settings.encoder)
    output = check_output_path(output_path, info.path)
    adapter.container_format(output)
    if qp_for_frame is not None:
        adapter.check_settings(settings, info.bit_depth)
        if self_check:
            from .selfcheck import run_self_check

            run_self_check(adapter, settings, _bit_depth(adapter.pix_fmt(info.pix_fmt, info.bit_depth)))
    source = frames_factory if prefilter == "off" else (lambda: apply_prefilter(frames_factory(), prefilter))
    started = time.perf_counter()
    label = f"{adapter.name} {settings.mode}" if progress else None
    with atomic_output(output) as tmp:
        if settings.crf is not None:
            count, payload, span = encode_pass(source(), info, tmp, adapter, settings, qp_for_frame,
                                               progress=label)
        else:
            with tempfile.TemporaryDirectory(prefix="preanalysis-2pass-") as tmpdir:
                stats = str(Path(tmpdir) / "stats.log")
                first = Path(tmpdir) / f"pass1{output.suffix}"
                encode_pass(source(), info, first, adapter, settings, qp_for_frame,
                            {"pass": "1", "stats": stats}, progress=label and f"{label} (1/2)")
                count, payload, span = encode_pass(source(), info, tmp, adapter, settings, qp_for_frame,
                                                   {"pass": "2", "stats": stats}, progress=label and f"{label} (2/2)")
    return EncodeResult(
        path=output,
        frames=count,
        size_bytes=output.stat().st_size,
        bitrate_kbps=payload * 8 / span / 1000,
        seconds=time.perf_counter() - started,
    )


def encode_file(
    input_path: str | Path,
    output_path: str | Path,
    settings: EncodeSettings,
    qp_for_frame: QpForFrame | None = None,
    progress: bool = False,
    start: int = 0,
    stop: int | None = None,
    prefilter: str = "off",
) -> EncodeResult:
    """Decode input_path (frames [start, stop)), pre-filter and encode it; the input file is only read."""
    info = probe(input_path)
    check_output_path(output_path, input_path)
    return encode_frames(lambda: decode(input_path, start, stop), info, output_path, settings, qp_for_frame, progress,
                         prefilter=prefilter)

"""Encoders reached through PyAV's FFmpeg (libx264, libx265): the map goes in as ROI side data on every frame.

Fixes for the PyAV pitfalls, so that an encode without a map is the ffmpeg CLI's encode: decoded frames
carry pict_type I (FFmpeg would force a keyframe) -> reset to NONE; PyAV defaults to slice threads -> frame
threads; frame.time_base is set with frame.pts, and the source pts and time base are kept (VFR stays VFR).
Frames are turned into 4:2:0 at the source depth (8 or 10 bits), cropped to even sides (frames.py); maps
still describe the source size and are clipped to the encoded size by the ROI writer.

Which settings make FFmpeg's wrappers ignore ROI side data (measured by reading QPs back from the stream):
aq-mode 0 (the wrapper skips ROI), constant QP, and aq-strength 0 with mbtree/cutree off (the encoder turns
AQ off).  x264 with aq-strength 0 and mbtree on keeps AQ on at strength 0: the map alone acts.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import av
from av.video.frame import PictureType

from preanalysis.qpmap import QpMap
from preanalysis.video import DecodedFrame, VideoInfo

from ..base import FALSE_WORDS, REPEATABLE_MUX, TRUE_WORDS, EncoderAdapter, EncodeSettings, is_zero, normalise
from ..frames import encoded_size, to_encoder_frame
from .param_check import param_problem
from .roi_sidedata import attach_qp_map, clear_roi

COLOUR_ATTRIBUTES = ("color_range", "colorspace", "color_primaries", "color_trc")


MAX_REORDER_FRAMES = 64  # frames; x264/x265 reorder at most 16 B-frames plus lookahead delay


class PyAVAdapter(EncoderAdapter):
    """An FFmpeg encoder through PyAV; subclasses name the codec and their params option."""

    codec: ClassVar[str]  # FFmpeg encoder name
    params_option: ClassVar[str]  # the AVOption that takes "key=value:key=value"
    default_params: ClassVar[dict[str, str]] = {}  # added unless the user sets the key
    tree_param: ClassVar[str]  # x264 mbtree / x265 cutree: with aq-strength 0 it decides whether AQ stays on
    presets_without_aq: ClassVar[tuple[str, ...]] = ()  # presets whose default is aq-mode 0 (measured)
    presets_without_tree: ClassVar[tuple[str, ...]] = ()  # presets whose default turns mbtree/cutree off (measured)
    roi_on_every_frame: ClassVar[bool] = False  # an all-zero map still attaches ROI side data (see attach_qp_map)

    def options(self, settings: EncodeSettings, extra: dict[str, str] | None = None) -> dict[str, str]:
        """AVOptions for the PyAV stream (the bitrate goes on the codec context, not here)."""
        params = dict(self.default_params)
        user = {normalise(k) for k in settings.params}
        params = {k: v for k, v in params.items() if normalise(k) not in user}
        params.update(settings.params)
        params.update(extra or {})
        opts = {"preset": settings.preset}
        if settings.crf is not None:
            opts["crf"] = f"{settings.crf:g}"
        if params:
            opts[self.params_option] = ":".join(f"{k}={v or 1}" for k, v in params.items())
        return opts

    def pix_fmt(self, source_pix_fmt: str, bit_depth: int) -> str:
        """4:2:0 at the source's depth (8 or 10 bits); a 4:2:0 source format the encoder takes is kept as is."""
        supported = {f.name for f in av.codec.Codec(self.codec, "w").video_formats}
        if source_pix_fmt in supported and source_pix_fmt in ("yuv420p", "yuvj420p", "yuv420p10le"):
            return source_pix_fmt
        return "yuv420p10le" if bit_depth > 8 and "yuv420p10le" in supported else "yuv420p"

    def encoded_bit_depth(self, info: VideoInfo) -> int:
        return bit_depth(self.pix_fmt(info.pix_fmt, info.bit_depth))

    def open_pass(self, output: Path, info: VideoInfo, settings: EncodeSettings, pass_params: dict[str, str],
                  mapped: bool) -> PyAVSession:
        return PyAVSession(self, output, info, settings, pass_params, mapped)

    def param_problem(self, settings: EncodeSettings) -> str | None:
        return param_problem(self.name, settings.params)

    def refusal(self, settings: EncodeSettings, bit_depth: int) -> str | None:
        if settings.param("qp") is not None or settings.param("cqp") is not None:
            return (f"constant QP (qp={settings.param('qp') or settings.param('cqp')}) makes {self.name} ignore the "
                    "QP map: use --crf or --bitrate, or --no-map")
        if is_zero(settings.param("aq-mode")):
            return f"aq-mode=0 makes {self.name} skip the QP map: {self.no_aq_advice()}, or encode with --no-map"
        if settings.preset in self.presets_without_aq and settings.param("aq-mode") is None:
            return (f"preset {settings.preset} turns AQ off in {self.name}, so it would skip the QP map: add "
                    "--param aq-mode=1 (and a non-zero aq-strength), use a slower preset, or encode with --no-map")
        tree = self.tree_param
        tree_off = (settings.param(f"no-{tree}") or "x").lower() in TRUE_WORDS or (
            (settings.param(tree) or "x").lower() in FALSE_WORDS
        )
        if is_zero(settings.param("aq-strength")) and settings.param("keyint") == "1":
            return (f"aq-strength=0 with keyint=1 (intra-only turns {tree} off) makes {self.name} turn AQ off and "
                    "ignore the QP map: use a small non-zero aq-strength (e.g. 0.1), or encode with --no-map")
        if is_zero(settings.param("aq-strength")) and settings.preset in self.presets_without_tree:
            return (f"aq-strength=0 (the presets' {self.name} without its own AQ) with preset {settings.preset}, which "
                    f"turns {tree} off, makes {self.name} turn AQ off and ignore the QP map: use preset veryfast or "
                    "slower, a small non-zero aq-strength (e.g. --param aq-strength=0.1), or encode with --no-map")
        if is_zero(settings.param("aq-strength")) and tree_off:
            return (f"aq-strength=0 with {tree} off makes {self.name} turn AQ off and ignore the QP map: "
                    f"{self.no_aq_advice()}, or encode with --no-map")
        return None

    def self_check_advice(self) -> str:
        return (f"with PyAV {av.__version__}, AQ must stay on (aq-mode >= 1 and, without {self.tree_param} or with "
                "keyint=1, a non-zero aq-strength; ultrafast presets lower both), or encode with --no-map")

    def no_aq_advice(self) -> str:
        return (f"for {self.name} without its own AQ use aq-mode=1 with aq-strength near 0 (e.g. 0) "
                f"and {self.tree_param} on")


def bit_depth(pix_fmt: str) -> int:
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def sample_aspect_ratio(info: VideoInfo) -> Fraction | None:
    """The source's pixel aspect ratio (VideoInfo does not carry it), so the output displays the same."""
    if not Path(info.path).is_file():
        return None
    with av.open(str(info.path)) as container:
        return container.streams.video[0].sample_aspect_ratio


class PyAVSession:
    """One pass through PyAV: frames reformatted and cropped, the map attached as ROI side data, packets muxed."""

    def __init__(self, adapter: PyAVAdapter, output: Path, info: VideoInfo, settings: EncodeSettings,
                 pass_params: dict[str, str], mapped: bool):
        self.mapped = mapped
        self.roi_on_every_frame = adapter.roi_on_every_frame
        self.pix_fmt = adapter.pix_fmt(info.pix_fmt, info.bit_depth)
        self.depth = bit_depth(self.pix_fmt)
        self.time_base = info.time_base or Fraction(1, 25)
        # how far a sane decode timestamp may precede its presentation: a reorder depth far beyond any encoder's
        self.max_reorder_ticks = MAX_REORDER_FRAMES * max(1, round(1 / ((info.frame_rate or 25) * self.time_base)))
        self.payload, self.opened = 0, False
        self.container = av.open(str(output), "w", format=adapter.container_format(output),
                                 options=REPEATABLE_MUX)
        stream = self.container.add_stream(adapter.codec, rate=info.frame_rate or 25)
        stream.width, stream.height = encoded_size(info.width, info.height)
        stream.pix_fmt = self.pix_fmt
        ctx = stream.codec_context
        ctx.time_base = self.time_base
        stream.time_base = self.time_base
        ctx.thread_type = "FRAME"
        if settings.bitrate_kbps is not None:
            ctx.bit_rate = round(settings.bitrate_kbps * 1000)
        stream.options = adapter.options(settings, pass_params)
        sar = sample_aspect_ratio(info)
        if sar:
            ctx.sample_aspect_ratio = sar
        self.stream = stream

    def encode(self, d: DecodedFrame, qp: QpMap | None) -> None:
        if not self.opened:  # the encoder opens on the first frame: signal the source's colours as ffmpeg does
            for attr in COLOUR_ATTRIBUTES:
                setattr(self.stream.codec_context, attr, getattr(d.frame, attr))
            if d.frame.rotation:  # a phone's portrait video stays portrait
                self.stream.set_display_rotation(d.frame.rotation)
            self.opened = True
        frame = to_encoder_frame(d.frame, self.pix_fmt)
        frame.pts, frame.time_base = d.pts, self.time_base
        frame.pict_type = PictureType.NONE
        if qp is not None:
            attach_qp_map(frame, qp, self.depth, keep_zero=self.roi_on_every_frame)
        elif self.mapped:  # a frame object used before may still carry an earlier map
            clear_roi(frame)
        self._mux(self.stream.encode(frame))

    def _mux(self, packets) -> None:
        for packet in packets:
            if packet.dts is not None and packet.pts is not None and not (
                    packet.pts - self.max_reorder_ticks <= packet.dts <= packet.pts):
                # FFmpeg's libx265 wrapper leaves the DTS uninitialised when the encode is shorter than x265's
                # lookahead (1-2 frames; mp4 then refuses the packet): such a packet decodes at its own pts
                packet.dts = packet.pts
            self.payload += packet.size
            self.container.mux(packet)

    def close(self) -> int:
        self._mux(self.stream.encode(None))
        self.container.close()
        return self.payload

    def abort(self) -> None:
        self.container.close()

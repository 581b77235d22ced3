"""One SVT-AV1 encoding pass through the library: `encode(frame, qp)` per picture, then `close()` (or `abort()`).

The encoder opens on the first frame (its colour description goes into the sequence header, as FFmpeg's
wrapper does).  Every picture is sent with pic_type "auto" (decoded frames' own types are ignored, as the
PyAV path resets them) and the source pts; a picture whose map differs from the previous picture's carries a
ROI_MAP_EVENT node (a picture with no map gets an all-zero event), so the map in force always belongs to the
picture.  Packets are temporal units in display order, muxed by output.py.

2-pass (pass_params {"pass": "1"|"2", "stats": path}) is SVT-AV1's own multi-pass: pass 1 ends with
svt_av1_enc_get_stream_info(FIRST_PASS_STATS_OUT) written to `stats`, pass 2 reads it into rc_stats_buffer
(as SvtAv1EncApp's --pass 1 / --pass 2 do).
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.video import DecodedFrame, VideoInfo

from ..base import EncodeSettings, normalise
from ..frames import encoded_size
from . import library as L
from .output import CONTAINERS, Av1Output
from .roi import CEvent, RoiEvent, event_from_map, superblock_grid

log = logging.getLogger("preanalysis")
# One SVT-AV1 encoder at a time per process, from init to deinit.  Why: two sessions in two threads of one
# `preanalysis eval` (--jobs 2) crashed once inside libSvtAv1Enc (a read at address 0x75, 11 points into a
# sweep; the same sweep ran through on a second try), and FFmpeg itself marks this library's init as not
# thread-safe.  SVT-AV1 runs its own worker threads, so little is lost.  Re-entrant: one thread may hold two.
LIBRARY_LOCK = threading.RLock()
COLOUR_FIELDS = {"color_primaries": "color_primaries", "color_trc": "transfer_characteristics",
                 "colorspace": "matrix_coefficients"}
ROI_SHIFT = "roi-shift"
RESERVED = {"rc": "the rate control follows --crf / --bitrate", "tbr": "set the bitrate with --bitrate",
            "w": "the size follows the source", "width": "the size follows the source",
            "h": "the size follows the source", "height": "the size follows the source",
            "fps-num": "the frame rate follows the source", "fps-denom": "the frame rate follows the source",
            "color-format": "the session encodes 4:2:0"}


# The lowest picture q-index SVT-AV1 4.1 gave a key frame at CRF c, as a share of 4c (carphone, 40 frames,
# preset 12, CRF 10-50: aq-mode 0 down to 0.10, aq-mode 1/2 down to 0.30; docs/encoders.md).
KEY_QINDEX_SHARE = {0: 0.10}
KEY_QINDEX_SHARE_DEFAULT = 0.30


def negative_floor(crf: float | None, aq_mode: int) -> int:
    """How far below 0 an offset may go.  Why: SVT-AV1 4.1 drops the *whole* ROI map of a picture when one
    segment's q-index (base + offset) would be <= 0 (md_config_process.c: a lossless segment in a lossy
    frame disables segmentation), and key frames sit far below 4 x CRF; so the most negative offset is kept
    above the lowest key-frame q-index measured for this aq-mode."""
    if crf is None:
        return 0
    share = KEY_QINDEX_SHARE.get(aq_mode, KEY_QINDEX_SHARE_DEFAULT)
    return max(0, int(4 * crf * share) - 1)


def check_param(key: str, value: str) -> None:
    """Refuse params the session sets itself (base.RESERVED_PARAMS covers crf, preset, pass, stats, ...)."""
    if key in RESERVED:
        raise PreanalysisError(f"param {key}={value} is not allowed for svtav1: {RESERVED[key]}")


def roi_shift(settings: EncodeSettings) -> int:
    """The `roi-shift` param (q-index, ours, not the library's): with a map, the CRF is lowered by shift / 4
    (SVT-AV1's CRF has quarter steps = 1 q-index) and every ROI offset raised by shift, so the map is
    applied as offsets >= 0 above the finest region's quantiser.  Why: SVT-AV1 4.1 keeps the frame's lambda
    for every segment, so a segment quantised finer than the frame gains little (docs/encoders.md); with the
    frame at the finest level both directions show.  Offsets below -shift are raised to -shift."""
    value = settings.param(ROI_SHIFT)
    if value is None:
        return 0
    try:
        shift = int(value)
    except ValueError:
        shift = -1
    if not 0 <= shift <= 255:
        raise PreanalysisError(f"{ROI_SHIFT}={value} must be a q-index count 0..255 (6.5 per QP; e.g. 26 = 4 QP)")
    if settings.crf is None:
        raise PreanalysisError(f"{ROI_SHIFT} lowers the CRF: it needs --crf")
    return min(shift, int(settings.crf * 4))


def configure(lib, config: L.EbSvtAv1EncConfiguration, settings: EncodeSettings, shift: int = 0) -> None:
    """Rate control, preset and free params through the library's own parser (svt_av1_enc_parse_parameter,
    the parser behind SvtAv1EncApp's options and FFmpeg's -svtav1-params): rate first, because `crf` resets
    aq-mode to 2 and a user's aq-mode must win.  shift: roi_shift(), applied when a map is in use."""
    items = [("crf", f"{settings.crf - shift / 4:g}")] if settings.crf is not None else [
        ("rc", "vbr"), ("tbr", f"{settings.bitrate_kbps:g}k")]
    if settings.preset != "medium":  # medium = the library's default preset (M8 in 4.1)
        items.append(("preset", settings.preset))
    for key, value in settings.params.items():
        check_param(key, value)
        if normalise(key) != ROI_SHIFT:
            items.append((key, value or "1"))
    for key, value in items:
        if lib.svt_av1_enc_parse_parameter(ctypes.byref(config), key.encode(), value.encode()) != L.EB_ErrorNone:
            raise PreanalysisError(f"SVT-AV1 rejects {key}={value}: use its option names without '--' "
                                   "(SvtAv1EncApp --help), e.g. aq-mode=0 or enable-variance-boost=1")


class SvtAv1Session:
    """One pass into `output` (an EncodeSession); the encoder itself opens on the first frame."""

    def __init__(self, output: str | Path, info: VideoInfo, settings: EncodeSettings,
                 pass_params: dict[str, str] | None = None, mapped: bool = True, enable_roi_map: bool = True,
                 roi_events: dict[int, RoiEvent] | None = None):
        """mapped: whether this pass's frames come with maps (roi-shift applies only then).  roi_events:
        {picture number: event} as read from an SvtAv1EncApp --roi-map-file (roi.py), sent at those pictures
        as the App sends them (unshifted), instead of events made from the maps given to encode()."""
        self.output, self.info, self.settings = Path(output), info, settings
        self.enable_roi_map, self.roi_events = enable_roi_map, roi_events
        shift = roi_shift(settings)  # checked even when unused
        self.shift = shift if mapped and roi_events is None else 0  # an encode without a map keeps its CRF
        self.pass_params = dict(pass_params or {})
        self.lib = L.svt_library()
        self.width, self.height = encoded_size(info.width, info.height)
        self.pix_fmt = "yuv420p10le" if info.bit_depth > 8 else "yuv420p"
        self.time_base = info.time_base or Fraction(1, 25)
        rate = info.frame_rate or Fraction(25)
        self.out = Av1Output(self.output, CONTAINERS[self.output.suffix.lower()], self.width, self.height,
                             self.time_base, max(1, round(1 / (rate * self.time_base))))
        self.handle = ctypes.c_void_p()
        self.locked = False  # holds LIBRARY_LOCK from the first frame to the release
        self.events: list[CEvent] = []  # alive until the release: the library keeps pointers to them
        self.last_event: RoiEvent | None = None
        self.pictures = self.payload = 0
        self.picture_qps: list[tuple[int, int, bool]] = []  # (pts, picture qp 0..63 = (base q-index + 2) >> 2, key)
        self.lowest_offset: dict[int, int] = {}  # pts -> the most negative offset in force for that picture
        self.stats_in: ctypes.Array | None = None

    # --- encoder lifetime -----------------------------------------------------------------------------------
    def _open(self, frame: av.VideoFrame) -> None:
        LIBRARY_LOCK.acquire()
        self.locked = True
        config = L.EbSvtAv1EncConfiguration()
        self._ok(self.lib.svt_av1_enc_init_handle(ctypes.byref(self.handle), ctypes.byref(config)), "init_handle")
        configure(self.lib, config, self.settings, self.shift)
        rate = self.info.frame_rate or Fraction(25)
        config.source_width, config.source_height = self.width, self.height
        config.encoder_bit_depth = 10 if self.pix_fmt == "yuv420p10le" else 8
        config.encoder_color_format = L.EB_YUV420
        config.frame_rate_numerator, config.frame_rate_denominator = rate.numerator, rate.denominator
        config.enable_roi_map = self.enable_roi_map  # on without events: the same stream (tests/test_svtav1.py)
        for attr, field in COLOUR_FIELDS.items():  # FFmpeg's AVCOL_* values are the CICP codes SVT-AV1 takes
            value = int(getattr(frame, attr))
            setattr(config, field, 2 if value == 0 and field != "matrix_coefficients" else value)
        config.color_range = 1 if frame.color_range == 2 or frame.format.name == "yuvj420p" else 0  # JPEG = full
        self._passes(config)
        self._ok(self.lib.svt_av1_enc_set_parameter(self.handle, ctypes.byref(config)), "set_parameter")
        self._ok(self.lib.svt_av1_enc_init(self.handle), "init")
        self.floor = self.shift if self.shift else negative_floor(self.settings.crf, config.aq_mode)

    def _passes(self, config: L.EbSvtAv1EncConfiguration) -> None:
        which = self.pass_params.get("pass")
        if which == "1":
            setattr(config, "pass", 1)
        elif which == "2":
            data = Path(self.pass_params["stats"]).read_bytes()
            self.stats_in = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            config.rc_stats_buffer.buf = ctypes.addressof(self.stats_in)
            config.rc_stats_buffer.sz = len(data)
            setattr(config, "pass", 2)

    def _ok(self, status: int, call: str) -> None:
        if status != L.EB_ErrorNone:
            raise PreanalysisError(f"SVT-AV1 {call} failed (error 0x{status & 0xFFFFFFFF:08x}) for {self.width}x"
                                   f"{self.height}, {self.settings.mode}, params {self.settings.params or '{}'}: "
                                   "check the params (the library logs why above)")

    def close(self) -> int:
        """Flush (EOS), write the first-pass stats in pass 1, free the encoder; the payload bytes written."""
        try:
            if self.handle:
                eos = L.EbBufferHeaderType(size=ctypes.sizeof(L.EbBufferHeaderType), flags=L.EB_BUFFERFLAG_EOS,
                                           pic_type=L.EB_AV1_INVALID_PICTURE)
                self._ok(self.lib.svt_av1_enc_send_picture(self.handle, ctypes.byref(eos)), "send_picture (EOS)")
                while not self._drain(done=True):
                    time.sleep(0.001)
                if self.pass_params.get("pass") == "1":
                    self._write_stats()
        finally:
            self.abort()
        dropped = self.dropped_maps()
        if dropped:
            log.warning("SVT-AV1 dropped the ROI map of %d of %d pictures (a segment would have reached q-index "
                        "<= 0): raise --crf or narrow the map's negative range", dropped, self.pictures)
        return self.payload

    def abort(self) -> None:
        """Free the encoder (and only then the events it may still point at) and close the file."""
        if self.handle:
            self.lib.svt_av1_enc_deinit(self.handle)
            self.lib.svt_av1_enc_deinit_handle(self.handle)
            self.handle = ctypes.c_void_p()
        self.out.close()
        self.events.clear()
        if self.locked:
            self.locked = False
            LIBRARY_LOCK.release()

    # --- pictures -------------------------------------------------------------------------------------------
    def encode(self, d: DecodedFrame, qp: QpMap | None) -> None:
        frame = d.frame
        if not self.handle:
            self._open(frame)
        if frame.format.name not in (self.pix_fmt, "yuvj420p" if self.pix_fmt == "yuv420p" else ""):
            frame = frame.reformat(format=self.pix_fmt)  # yuvj420p has yuv420p's layout: taken as it is
        header = L.EbBufferHeaderType(size=ctypes.sizeof(L.EbBufferHeaderType), pts=d.pts,
                                      pic_type=L.EB_AV1_INVALID_PICTURE)
        planes = self._planes(frame)
        header.p_buffer = ctypes.addressof(planes)
        header.n_filled_len = sum(p.buffer_size for p in frame.planes)
        event = self._event(qp)
        if event is not None:
            header.p_app_private = event.node_address
        self._ok(self.lib.svt_av1_enc_send_picture(self.handle, ctypes.byref(header)), "send_picture")
        self.lowest_offset[d.pts] = int(self.last_event.offsets.min()) if self.last_event is not None else 0
        self.pictures += 1
        self._drain(done=False)

    def _planes(self, frame: av.VideoFrame) -> L.EbSvtIOFormat:
        """The picture as SVT reads it: the frame's own planes (the library copies them during send_picture);
        strides in samples, the visible size cropped to even sides by the configured source size."""
        shift = 1 if self.pix_fmt == "yuv420p10le" else 0
        y, u, v = frame.planes
        return L.EbSvtIOFormat(luma=y.buffer_ptr, cb=u.buffer_ptr, cr=v.buffer_ptr, y_stride=y.line_size >> shift,
                               cb_stride=u.line_size >> shift, cr_stride=v.line_size >> shift)

    def _event(self, qp: QpMap | None) -> CEvent | None:
        """A new event when this picture's map differs from the one in force (none in force = all zero)."""
        if self.roi_events is not None:
            if qp is not None:
                raise PreanalysisError("give the SVT-AV1 session either ROI events from a file or QP maps, not both")
            return self._send(self.roi_events[self.pictures]) if self.pictures in self.roi_events else None
        rows, cols = superblock_grid(self.width, self.height)
        offsets = event_from_map(qp, self.width, self.height, self.floor).offsets if qp is not None else np.zeros(
            (rows, cols), np.int16)
        event = RoiEvent(np.minimum(offsets + self.shift, 255).astype(np.int16))
        if self.last_event is not None and np.array_equal(event.offsets, self.last_event.offsets):
            return None
        if self.last_event is None and not event.offsets.any():
            return None  # nothing in force yet and nothing to ask for
        return self._send(event)

    def _send(self, event: RoiEvent) -> CEvent:
        """The C event for the picture being sent now, kept until the encoder is freed."""
        self.last_event = event
        c_event = event.to_c(self.pictures)
        self.events.append(c_event)
        return c_event

    def _drain(self, done: bool) -> bool:
        """Write every packet ready now; True once the EOS packet came."""
        while True:
            out = ctypes.POINTER(L.EbBufferHeaderType)()
            status = self.lib.svt_av1_enc_get_packet(self.handle, ctypes.byref(out), 1 if done else 0)
            if status == L.EB_NoErrorEmptyQueue:
                return False
            self._ok(status, "get_packet")
            h = out.contents
            eos = bool(h.flags & L.EB_BUFFERFLAG_EOS)
            if h.n_filled_len:
                key = h.pic_type == L.EB_AV1_KEY_PICTURE
                self.picture_qps.append((h.pts, h.qp, key))
                self.out.write(ctypes.string_at(h.p_buffer, h.n_filled_len), h.pts, key)
                self.payload += h.n_filled_len
            self.lib.svt_av1_enc_release_out_buffer(ctypes.byref(out))
            if eos:
                return True

    def dropped_maps(self) -> int:
        """Pictures whose map SVT-AV1 certainly dropped: base q-index (at most 4 x picture qp + 1) plus the
        most negative offset in force <= 0."""
        return sum(1 for pts, qp, _ in self.picture_qps if self.lowest_offset.get(pts, 0) < 0
                   and 4 * qp + 1 + self.lowest_offset[pts] <= 0)

    def _write_stats(self) -> None:
        stats = L.SvtAv1FixedBuf()
        self._ok(self.lib.svt_av1_enc_get_stream_info(self.handle, L.SVT_AV1_STREAM_INFO_FIRST_PASS_STATS_OUT,
                                                      ctypes.byref(stats)), "get_stream_info (first-pass stats)")
        Path(self.pass_params["stats"]).write_bytes(ctypes.string_at(stats.buf, stats.sz))

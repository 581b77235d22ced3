"""SVT-AV1's temporal units into a file through PyAV's muxers: .mp4, .mkv, .ivf or .obu.

The output stream is copied from the stream FFmpeg's IVF demuxer finds in a one-packet IVF of the first
temporal unit, so FFmpeg itself builds the codec parameters (av1C / CodecPrivate) from the sequence header.
Every packet carries the source pts and the nominal frame duration: without a duration the mp4 muxer gives
the last frame none and ffmpeg's readers (libvmaf) drop it.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import av

from ..base import REPEATABLE_MUX

IVF_HEADER = struct.Struct("<4sHHIHHIIII")  # DKIF, version, header size, fourcc, w, h, tb den, tb num, frames, 0
IVF_FRAME = struct.Struct("<IQ")
AV01 = 0x31305641
CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".ivf": "ivf", ".obu": "obu"}


def one_unit_ivf(width: int, height: int, time_base: Fraction, unit: bytes) -> io.BytesIO:
    header = IVF_HEADER.pack(b"DKIF", 0, 32, AV01, width, height, time_base.denominator, time_base.numerator, 1, 0)
    return io.BytesIO(header + IVF_FRAME.pack(len(unit), 0) + unit)


class Av1Output:
    """Temporal units in display order (one shown frame each) muxed into `path`; the muxer opens on the first."""

    def __init__(self, path: Path, fmt: str, width: int, height: int, time_base: Fraction, frame_ticks: int):
        self.path, self.fmt, self.size = path, fmt, (width, height)
        self.time_base, self.frame_ticks = time_base, frame_ticks
        self.container = self.stream = None

    def write(self, unit: bytes, pts: int, key: bool) -> None:
        if self.container is None:
            self.container = av.open(str(self.path), "w", format=self.fmt, options=REPEATABLE_MUX)
            with av.open(one_unit_ivf(*self.size, self.time_base, unit), format="ivf") as template:
                self.stream = self.container.add_stream_from_template(template.streams.video[0], opaque=True)
            self.stream.time_base = self.time_base
        packet = av.Packet(unit)
        packet.pts = packet.dts = pts
        packet.duration = self.frame_ticks
        packet.time_base = self.time_base
        packet.is_keyframe = key
        packet.stream = self.stream
        self.container.mux(packet)

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

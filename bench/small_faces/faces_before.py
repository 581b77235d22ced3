"""Baseline of bench/small_faces: the `faces` analyser as it was before the small-face scan (main 5b3beaa), as
the shipped analyser with that scan off and without the source frame (crops enlarged from the analysis luma,
as before).  Checked against a verbatim copy of the old analyser: the same maps on the generated scenes."""

from __future__ import annotations

import numpy as np

from preanalysis.analysers import faces
from preanalysis.analysers.tracking import DetectorAnalyser


class Faces(faces.Faces):
    name = "faces_before"
    maps = ("faces_before",)

    def process(self, ctx):
        return DetectorAnalyser.process(self, ctx)  # self.source stays None: no source frame

    def small(self, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((0, 4)), np.zeros(0)

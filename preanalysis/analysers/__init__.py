"""Analysers, one file each: every analysis of a frame the salience mask can weigh.

Classical (numpy/OpenCV), registered on import: texture, motion, foreground (camera.py: the DIS flow and the
camera model they share; grid.py: maps on the encoder's block grid), still_foreground (off a still camera's
learned background), centre, temporal_masking (VMAF's motion), the content evidence people, faces (OpenCV's own
detectors; tracking.py: the tracker they share) and text (overlays), and spectral (the spectral-residual
salient-object cue, a prior like centre).
Learned (torch; networks in preanalysis.learning.models), imported only when a config asks for one:
flow_motion, predicted_motion, objects, static, predictability, sensitivity, vmaf_teacher (the teacher itself).
"""

from . import (  # noqa: F401  (register the classical ones)
    centre, faces, foreground, motion, people, spectral, still_foreground, temporal_masking, text, texture,
)
from .base import (
    ANALYSERS,
    LEARNED,
    Analyser,
    AnalysisContext,
    load_learned,
    map_owner,
    register_analyser,
)

__all__ = ["ANALYSERS", "LEARNED", "Analyser", "AnalysisContext", "load_learned", "map_owner", "register_analyser"]

"""preanalysis: analyse a video before encoding and tell the encoder where to spend bits.

    import preanalysis
    preanalysis.encode("in.mp4", "out.mp4", encoder="x264", crf=23)        # analyse + encode, one decode
    for fa in preanalysis.analyze("in.mp4", preanalysis.Config()):       # FrameAnalysis: maps, salience, qp
        ...

Names are imported on first use, so `import preanalysis` stays light (no encoders, eval or networks).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "preanalysis.config", "load_config": "preanalysis.config",
    "PreanalysisError": "preanalysis.errors",
    "QpMap": "preanalysis.qpmap",
    "allocate_bits": "preanalysis.allocate", "qp_offsets": "preanalysis.allocate",
    "FrameAnalysis": "preanalysis.pipeline", "analyze": "preanalysis.pipeline", "scene_cuts": "preanalysis.pipeline",
    "allocate_channels": "preanalysis.statmux",
    "encode": "preanalysis.facade", "Preanalysis": "preanalysis.facade",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'preanalysis' has no attribute {name!r}")

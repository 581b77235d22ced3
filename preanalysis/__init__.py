"""preanalysis: analyse a video before encoding and tell the encoder where to spend bits.

    from preanalysis import Config, analyze
    for fa in analyze("in.mp4", Config()):   # FrameAnalysis: maps, salience (uint8), qp (QpMap)
        ...
"""

from .allocate import QpMap, allocate_bits, qp_offsets
from .channels import allocate_channels
from .config import Config, load_config
from .errors import PreanalysisError
from .pipeline import FrameAnalysis, analyze, scene_cuts

__version__ = "0.1.0"
__all__ = [
    "Config", "FrameAnalysis", "PreanalysisError", "QpMap", "allocate_bits", "allocate_channels", "analyze",
    "load_config", "qp_offsets", "scene_cuts",
]

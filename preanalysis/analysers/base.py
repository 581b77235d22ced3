"""The analyser interface and its registry: every analysis (classical or learned) is one class here.

An analyser sees frames in order through an AnalysisContext and returns named float32 maps in [0, 1] at
the analysis resolution.  It may keep recurrent state between frames; `reset()` starts a new shot/stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import PreanalysisError


@dataclass
class AnalysisContext:
    """What an analyser may look at for one frame; shared work (e.g. optical flow) is cached per frame, once
    even when analysers run on threads of their own (pipeline.AnalyserLanes)."""

    index: int
    luma: np.ndarray  # float32 (h, w) in [0, 1], analysis resolution
    previous: np.ndarray | None  # the previous frame's luma, None on the first frame
    scale: float  # full-resolution pixels per analysis pixel
    # uint8 (H, W): the source frame's full-resolution Y plane when the caller has it (the pipeline does), for
    # detectors of objects too small to see at analysis resolution (faces); None: analysers use luma alone
    source: np.ndarray | None = None
    # uint8 (2, h // 2, w // 2): the frame's U and V at the analysis size cut to even sides, where encodes of the
    # analysis frames code them (analysis.code_source, video.shrink_chroma); None: they code neutral grey
    chroma: np.ndarray | None = None
    rate: Fraction | None = None  # the source's frame rate (video.VideoInfo.frame_rate) when the caller knows it
    cache: dict = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def shared(self, key: str, compute: Callable[[], object]):
        """Compute something once per frame however many analysers ask for it."""
        with self.lock:
            if key not in self.cache:
                self.cache[key] = compute()
            return self.cache[key]


class Analyser:
    """Base class: subclasses set `name` and `maps` and implement `process`."""

    name: ClassVar[str]
    maps: ClassVar[tuple[str, ...]]
    learned: ClassVar[bool] = False  # runs a network (worth a GPU; takes `device`, and `weights` in analysis.weights)
    # measures a whole budget segment when it closes (takes `causal`: False under a segment budget, when the
    # pipeline calls segment_maps(lumas, scale, source) and its maps replace the per-frame ones)
    segment_level: ClassVar[bool] = False
    vmaf_gradient: ClassVar[bool] = False  # reads VMAF gradients (takes `metrics`, `every`, `window`: analysis.teacher_*)

    def reset(self) -> None:
        """Forget state carried across frames (new stream, new chunk)."""

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def object_ids(self) -> np.ndarray | None:
        """int32 ids per pixel of the objects in the frame just processed, kept the same across frames
        (0 = background); None for analysers that do not track objects."""
        return None


class ModelAnalyser(Analyser):
    """A learned analyser around one network (a learning.contract.LearnedModel): `model_class` loaded from
    `weights` (its shipped file when not given) on `device` (auto | cpu | cuda, from `analysis.device`; resolved
    now, so a missing CUDA fails when the analysers are built, see pipeline.build_analysers)."""

    learned = True
    model_class: ClassVar[type]

    def __init__(self, weights: str | Path | None = None, device: str = "auto"):
        self.model = self.model_class(weights or self.model_class.name, device)
        self.device = self.model.device
        self.reset()


ANALYSERS: dict[str, type[Analyser]] = {}


def register_analyser(cls: type[Analyser]) -> type[Analyser]:
    if cls.name in ANALYSERS:
        raise ValueError(f"analyser {cls.name!r} registered twice")
    ANALYSERS[cls.name] = cls
    return cls


# Learned analysers by name (each produces one map of its own name), imported on first use: they load torch.
LEARNED = ("flow_motion", "predicted_motion", "objects", "static", "predictability", "sensitivity", "vmaf_teacher")


def load_learned(name: str) -> None:
    """Register the learned analyser `name` (importing its module)."""
    import importlib

    importlib.import_module(f"preanalysis.analysers.{name}")


def map_owner(map_name: str) -> str:
    """Which analyser produces a map called map_name (a map may be named after its analyser)."""
    if map_name in LEARNED and map_name not in ANALYSERS:
        load_learned(map_name)
    for name, cls in ANALYSERS.items():
        if map_name in cls.maps:
            return name
    known = sorted({m for cls in ANALYSERS.values() for m in cls.maps} | set(LEARNED))
    raise PreanalysisError(f"no analyser produces a map called {map_name!r}: use one of {', '.join(known)}")

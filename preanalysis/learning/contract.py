"""The contract every learned model of the project implements, so the zoo, the analysers and the CLI treat
them alike.

A model has one name: its zoo key (`preanalysis train NAME`), its shipped weights file
(preanalysis/weights/NAME.safetensors) and, where it feeds the salience mask, its analyser and map.  An
instance holds the network loaded for inference on a device; the class builds, trains and reports:

    build()                   the untrained network (training starts from it; weights load into it)
    Model(weights, device)    build + load the weights (architecture-checked) + ready for inference
    infer(...)                the model's own inference step (inputs differ per model: see its class)
    train(videos, quick, out) fit on generated scenes and the heads of real clips; write the weights
    report(clips)             measure it on the held-out tails of real clips, next to trivial baselines

A model's module (preanalysis/learning/models/NAME.py) holds its class and, beside it, the functions
`train(videos, quick, out) -> dict` and `report(clips) -> dict` that the class's train and report run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import torch

from .weights import load_model, pick_device


class LearnedModel:
    name: ClassVar[str]  # zoo key = weights file stem = analyser name (where there is one)
    arch: ClassVar[str]  # architecture tag stored with the weights and checked when they load

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu"):
        """weights: a shipped name or a path (default: the shipped file); device: auto | cpu | cuda."""
        self.device = pick_device(str(device))
        self.weights = weights if weights is not None else self.name
        self.net = self.load(self.weights)

    @classmethod
    def build(cls) -> torch.nn.Module:
        raise NotImplementedError

    def load(self, weights: str | Path) -> torch.nn.Module:
        """The network with `weights` loaded (a missing, corrupt or other-architecture file: one-line error)."""
        return load_model(self.build(), weights, self.arch, self.device)

    def infer(self, *inputs):
        raise NotImplementedError

    @classmethod
    def train(cls, videos: list[Path], quick: bool = False, out: Path | None = None) -> dict:
        """Train on `videos` (heads of real clips) and generated scenes; write the weights to `out` (a full
        run without `out` replaces the shipped file; a quick run writes only to `out`)."""
        return sys.modules[cls.__module__].train(videos, quick, out)

    @classmethod
    def report(cls, clips: list[Path]) -> dict:
        """Figures on the held-out tails of `clips`, per clip and mean, next to trivial baselines."""
        return sys.modules[cls.__module__].report(clips)

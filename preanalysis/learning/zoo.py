"""The model zoo: one name per learned model (zoo key, weights file, analyser), its class imported lazily
(only the model asked for pays for torch and its imports).  Every class implements learning.contract."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import PreanalysisError
from .contract import LearnedModel

MODELS: dict[str, str] = {  # name -> class, in the order data flows through them
    "flow_motion": "FlowMotionModel",
    "predicted_motion": "PredictedMotionModel",
    "objects": "ObjectsModel",
    "static": "StaticModel",
    "predictability": "PredictabilityModel",
    "stabilise": "StabiliseModel",
    "sensitivity": "SensitivityModel",
}
# The names these models had before they were given one name each (still accepted by the CLI).
ALIASES = {"motion": "flow_motion", "predictor": "predicted_motion", "segmentation": "objects",
           "temporal": "predictability"}


def canonical(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in MODELS:
        raise PreanalysisError(f"no model called {name!r}: use one of {', '.join(MODELS)}")
    return name


def model(name: str) -> type[LearnedModel]:
    name = canonical(name)
    module = importlib.import_module(f"preanalysis.learning.models.{name}")
    return getattr(module, MODELS[name])


def train(name: str, videos: list[Path] | None = None, quick: bool = False, out: Path | None = None) -> dict:
    """videos: the full training list (default: data.training_videos(None, quick))."""
    from .data import training_videos

    return model(name).train(list(videos) if videos else training_videos(None, quick), quick, out)


def report(name: str, clips: list[Path]) -> dict:
    return model(name).report(clips)

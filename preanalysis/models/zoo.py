"""The model zoo: name -> module with `train(videos, quick, out) -> dict` and `report(clips) -> dict`.

Modules are imported lazily (only the model asked for pays for its imports); importing one also registers
its learned analysers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..errors import PreanalysisError

MODELS: dict[str, str] = {
    "motion": "preanalysis.models.flow",
    "predictor": "preanalysis.models.predictor",
    "segmentation": "preanalysis.models.segmentation",
    "static": "preanalysis.models.static",
    "temporal": "preanalysis.models.temporal",
    "stabilise": "preanalysis.models.stabilise",
}


def module(name: str) -> ModuleType:
    if name not in MODELS:
        raise PreanalysisError(f"no model called {name!r}: use one of {', '.join(MODELS)}")
    try:
        return importlib.import_module(MODELS[name])
    except ModuleNotFoundError as exc:
        if exc.name == MODELS[name]:
            raise PreanalysisError(f"model {name!r} is not part of this install ({MODELS[name]} is missing)") from None
        raise


def train(name: str, videos: list[Path] | None = None, quick: bool = False, out: Path | None = None) -> dict:
    """videos: the full training list (default: clips.training_videos(None, quick))."""
    from .clips import training_videos

    return module(name).train(list(videos) if videos else training_videos(None, quick), quick, out)


def report(name: str, clips: list[Path]) -> dict:
    return module(name).report(clips)


def load_all() -> list[str]:
    """Import every model module that is present (registering its analysers); returns the names loaded."""
    loaded = []
    for name in MODELS:
        try:
            module(name)
        except PreanalysisError:
            continue
        loaded.append(name)
    return loaded

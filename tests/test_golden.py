"""Maps, encodes and encoder files stay byte-identical to the outputs recorded in tests/data (see tests/golden.py)."""

import json

import pytest

from golden import DATA, clip_24, make_outputs


@pytest.mark.slow
def test_outputs_match_the_recorded_ones(carphone, tmp_path):
    recorded = json.loads(DATA.read_text())
    made = make_outputs(clip_24(tmp_path), tmp_path)
    assert made.keys() == recorded.keys()
    changed = sorted(name for name in made if made[name] != recorded[name])
    assert not changed, f"outputs differ from the recorded ones: {changed} (re-record only for intended changes)"

"""Maps, encodes and encoder files stay byte-identical to the outputs recorded in tests/data (see tests/golden.py);
a maps file's salience mask within SALIENCE_TOLERANCE of its recorded block means."""

import json

import numpy as np
import pytest

from golden import DATA, SALIENCE, SALIENCE_TOLERANCE, clip_24, digests, make_outputs


@pytest.mark.slow
def test_outputs_match_the_recorded_ones(carphone, tmp_path):
    recorded = json.loads(DATA.read_text())
    made, masks = digests(make_outputs(clip_24(tmp_path), tmp_path))
    assert made.keys() == recorded.keys()
    changed = sorted(name for name in made if made[name] != recorded[name])
    with np.load(SALIENCE) as recorded_masks:
        assert masks.keys() == set(recorded_masks.files)
        changed += sorted(f"{name} (salience, {np.abs(mask - recorded_masks[name]).max():.3f} levels)"
                          for name, mask in masks.items()
                          if mask.shape != recorded_masks[name].shape
                          or np.abs(mask - recorded_masks[name]).max() > SALIENCE_TOLERANCE)
    assert not changed, f"outputs differ from the recorded ones: {changed} (re-record only for intended changes)"

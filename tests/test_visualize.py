"""Visual reports: what is drawn where, the video/PNG outputs and the contact sheet, and bad input."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.cli import main as cli_main
from preanalysis.errors import PreanalysisError
from preanalysis.visualize import VisualFrame, contact_sheet, qp_colours, render, sheet_indices


def frame(width=96, height=64, index=3) -> VisualFrame:
    rgb = np.full((height, width, 3), 128, np.uint8)
    salience = np.zeros((height // 2, width // 2), np.uint8)
    salience[:, : width // 4] = 255  # left half salient
    rows, cols = grid_shape(width, height)
    offsets = np.zeros((rows, cols), np.int8)
    offsets[:, 0] = -6
    offsets[:, -1] = 6
    ids = np.zeros((height, width), np.int32)
    ids[10:30, 50:80] = 7
    return VisualFrame(index, rgb, salience, QpMap(offsets, width, height), ids)


def test_side_by_side_layout_shows_source_heatmap_and_qp_grid():
    f = frame()
    out = render(f, "side")
    assert out.shape == (64, 96 * 3, 3)
    source, heat, grid = out[:, :96], out[:, 96:192], out[:, 192:]
    np.testing.assert_array_equal(source[40:], f.rgb[40:])  # untouched below the label
    # Salient left half is brighter in the heatmap than the non-salient right half.
    assert heat[40:, 5:20].mean() > heat[40:, 60:90].mean() + 40
    # The QP panel: blue where offsets are negative (more bits), red where positive.
    left, right = grid[40:60, 2:14].reshape(-1, 3).mean(0), grid[40:60, 82:94].reshape(-1, 3).mean(0)
    assert left[2] > left[0] + 30 and right[0] > right[2] + 30


def test_object_ids_are_outlined():
    f = frame()
    with_ids = render(f, "side")
    without = render(VisualFrame(f.index, f.rgb, f.salience, f.qp, None), "side")
    diff = np.abs(with_ids.astype(int) - without.astype(int)).sum(-1)
    ys, xs = np.nonzero(diff[:, 96:192])
    assert ys.size and 40 <= xs.min() and xs.max() <= 90 and ys.max() <= 40  # around the object's box


def test_blend_keeps_the_source_size_and_even_sides():
    out = render(frame(width=97, height=63), "blend")
    assert out.shape == (62, 96, 3)
    with pytest.raises(PreanalysisError, match="unknown layout"):
        render(frame(), "mosaic")


def test_qp_colours_and_sheet_helpers():
    c = qp_colours(np.array([[-6, 0, 6]]))
    assert tuple(c[0, 1]) == (255, 255, 255) and c[0, 0, 2] > c[0, 0, 0] and c[0, 2, 0] > c[0, 2, 2]
    assert sheet_indices(100, 4) == {0, 33, 66, 99} and sheet_indices(2, 12) == {0, 1}
    sheet = contact_sheet([np.zeros((50, 100, 3), np.uint8)] * 5, tile_height=50, width=330)
    assert sheet.shape == (2 * 54 + 4, 3 * 104 + 4, 3)


def test_visualize_command_writes_video_and_contact_sheet(carphone, tmp_path):
    out = tmp_path / "vis.mp4"
    assert cli_main(["visualize", str(carphone), "-o", str(out), "--frames", "10", "--sheet-frames", "4"]) == 0
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (176 * 3, 144)
        assert sum(1 for _ in c.decode(s)) == 10
    sheet = cv2.imread(str(tmp_path / "vis.contact.png"))
    assert sheet is not None and sheet.shape[0] > 200  # 4 wide tiles: more than one row


def test_visualize_from_maps_into_a_folder(carphone, tmp_path):
    maps = tmp_path / "m.npz"
    assert cli_main(["analyze", str(carphone), "-o", str(maps), "--frames", "6"]) == 0
    out = tmp_path / "frames"
    assert cli_main(["visualize", str(carphone), "-o", str(out), "--maps", str(maps), "--layout", "blend"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["contact_sheet.png"] + [f"frame_{i:06d}.png" for i in range(6)]
    assert cv2.imread(str(out / "frame_000000.png")).shape == (144, 176, 3)


def test_visualize_refuses_maps_of_another_video(carphone, bikes, tmp_path):
    maps = tmp_path / "m.npz"
    assert cli_main(["analyze", str(carphone), "-o", str(maps), "--frames", "2"]) == 0
    assert cli_main(["visualize", str(bikes), "-o", str(tmp_path / "v.mp4"), "--maps", str(maps)]) == 2
    assert not (tmp_path / "v.mp4").exists()


def test_eval_contact_sheet_from_the_cached_analysis_matches_a_fresh_one(carphone, tmp_path):
    """eval draws its contact sheet from the sweep's cached analysis (object ids and QP grid included): the
    same picture as a fresh analysis gives."""
    from eval.sweep import Cache, analyse_clip, file_hash
    from preanalysis.config import load_config
    from preanalysis.visualize import visual_frames, write_contact_sheet

    config = load_config("salience")  # the learned objects analyser: tracked object ids
    a = analyse_clip(carphone, config, 6, Cache(tmp_path / "cache"), file_hash(carphone))
    assert a.ids is not None and max(int(i.max()) for i in a.ids) > 0
    sheet = write_contact_sheet(carphone, lambda i: (a.salience[i], a.qp[i], a.ids[i], ""), len(a.qp),
                                tmp_path / "cached.png", sheet_frames=3)
    picks = sheet_indices(6, 3)
    fresh = contact_sheet([render(f) for f in visual_frames(carphone, config=config, stop=6) if f.index in picks])
    cached = cv2.cvtColor(cv2.imread(str(sheet)), cv2.COLOR_BGR2RGB)
    assert cached.shape == fresh.shape and np.array_equal(cached, fresh)
    plain = analyse_clip(carphone, load_config("default"), 3, Cache(tmp_path / "plain"), file_hash(carphone))
    assert plain.ids is None and not list((tmp_path / "plain").rglob("*.ids"))  # no object ids: no file of zeros

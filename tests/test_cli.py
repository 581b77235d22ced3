"""The CLI as a user meets it: help reads well, and every bad input is one clear line, never a traceback."""

import subprocess
import sys

import numpy as np
import pytest

from preanalysis.maps import load_maps
from preanalysis.learning.scenes import moving_objects, write_video


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "preanalysis.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("preanalysis: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr and "usage:" not in result.stderr, result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_help_lists_every_subcommand():
    from preanalysis.cli import COMMANDS

    result = cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout
        sub = cli(name, "--help")
        assert sub.returncode == 0 and "usage: preanalysis " + name in sub.stdout


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    s = moving_objects(width=96, height=64, frames=6)
    return write_video(s.rgb, tmp_path_factory.mktemp("clip") / "small.mkv")


def test_analyze_writes_the_documented_npz(small_clip, tmp_path):
    out = tmp_path / "maps.npz"
    result = cli("analyze", small_clip, "-o", out, "--weight", "texture=1", "--roi", "0,0,32,32,0.5")
    assert result.returncode == 0, result.stderr
    m = load_maps(out)
    assert m.qp_offsets.shape == (6, 4, 6) and m.qp_offsets.dtype == np.int8
    assert m.config["salience"]["weights"]["texture"] == 1.0
    assert m.config["salience"]["rois"][0]["weight"] == 0.5


def test_bad_inputs_give_one_line_errors(small_clip, audio_only, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    empty = tmp_path / "empty.y4m"
    empty.write_bytes(b"YUV4MPEG2 W64 H64 F25:1 Ip A1:1 C420jpeg\n")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("allocate: [1,\n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("allocate:\n  strenght: 1\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    out = tmp_path / "o.npz"
    assert_one_line_error(cli("analyze", tmp_path / "nope.mp4", "-o", out), "does not exist")
    assert_one_line_error(cli("analyze", text, "-o", out), "not a readable video")
    assert_one_line_error(cli("analyze", audio_only, "-o", out), "no video stream")
    assert_one_line_error(cli("analyze", empty, "-o", out), "no decodable video frames")
    assert_one_line_error(cli("analyze", small_clip, "-o", out, "--config", bad_yaml), "not valid YAML")
    assert_one_line_error(cli("analyze", small_clip, "-o", out, "--frames", "0"), "--frames >= 1")  # not "all"
    assert_one_line_error(cli("analyze", small_clip, "-o", out, "--config", unknown), "unknown key config.allocate.strenght")
    assert_one_line_error(cli("analyze", small_clip, "-o", out, "--allocate-strength", "99"), "allocate.strength")
    assert_one_line_error(cli("analyze", small_clip, "-o", out, "--weight", "texture"), "NAME=NUMBER")
    assert_one_line_error(cli("analyze", small_clip, "-o", a_file / "o.npz"), f"{a_file} is a file, not a folder")
    assert_one_line_error(cli("analyze", small_clip, "-o", tmp_path / "nowhere" / "o.npz"), "does not exist")
    assert_one_line_error(cli("eval", small_clip, "-o", tmp_path / "r", "--encoder", "nosuch"),
                          "argument --encoder: invalid choice 'nosuch' (choose from x264, x265, svtav1, vp9)")
    assert_one_line_error(cli("eval", small_clip), "required: -o/--output (see preanalysis eval --help)")
    assert_one_line_error(cli("analyze", small_clip, "-o", small_clip), "is the input file")
    assert not out.exists()


def test_truncated_input_is_analysed_as_far_as_it_goes(tmp_path):
    s = moving_objects(width=96, height=64, frames=10)
    full = write_video(s.rgb, tmp_path / "full.mkv")
    cut = tmp_path / "cut.mkv"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    before = cut.read_bytes()
    result = cli("analyze", cut, "-o", tmp_path / "m.npz")
    assert result.returncode == 0, result.stderr
    assert "truncated or corrupt" in result.stderr and "the rest is lost" in result.stderr
    # on a line of its own, not glued to the end of the progress bar it interrupted
    assert any(line.startswith("preanalysis:") and "truncated or corrupt" in line
               for line in result.stderr.replace("\r", "\n").splitlines())
    assert 3 <= len(load_maps(tmp_path / "m.npz")) <= 6
    assert cut.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary files left behind"

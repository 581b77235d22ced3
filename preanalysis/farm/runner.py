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
from .products import ProductTask, make_product

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
    return JobRun(job, progress, chunk_task).execute()


class JobRun:
    """One run of a job, in the order of its phases: resume (what the done-list says is finished), plan
    (scene cuts per input), chunks (analysed on the executor), assemble (each input's maps file from its
    chunks), products (qpfile / encode from the maps)."""

    def __init__(self, job: Job, progress: bool, chunk_task: Callable[[Chunk, object], bytes]):
        self.job, self.progress, self.chunk_task = job, progress, chunk_task
        self.config = job.analysis_config()
        self.config_yaml = self.config.to_yaml()
        self.report = FarmReport()
        self.state = job.state_dir
        self.done = DoneList(self.state / "done.jsonl")
        self.executor = None

    def execute(self) -> FarmReport:
        t0 = time.perf_counter()
        Path(self.job.output_dir).mkdir(parents=True, exist_ok=True)
        active = self.resume()
        if active:
            self.executor = make_executor(self.job.workers, self.job.ray_address, _uses_learned_analysers(self.config))
            self.report.backend = self.executor.name
            log.info("farm: %d input(s) to do, %d already finished; running on %s",
                     len(active), len(self.prints) - len(active), self.executor.name)
        try:
            need_maps = [inp for inp in active if (inp, "maps") not in self.made]
            self.plan(need_maps)
            chunks = self.run_chunks(need_maps)
            self.assemble(chunks)
            self.make_products(active)
        finally:
            if self.executor:
                self.executor.shutdown()
        self.report.outputs = {inp: self.job.output(inp) for inp in self.prints if (inp, "maps") in self.made}
        self.report.seconds = time.perf_counter() - t0
        return self.report

    def resume(self) -> list[str]:
        """Read the done-list: inputs' fingerprints, finished outputs, plans and intact chunk parts.  Returns
        the inputs with something left to make."""
        job, state = self.job, self.state
        self.prints: dict[str, str] = {}
        for inp in job.inputs:
            try:
                self.prints[inp] = fingerprint(job, inp, self.config_yaml)
            except OSError as exc:
                self.report.failures.append(Failure(inp, None, f"cannot read the input ({exc.strerror}): fix the path"))
        records = [r for r in self.done.records() if self.prints.get(r.get("input")) == r.get("fingerprint")]
        self.made = {(r["input"], r.get("product", "maps")) for r in records if r["kind"] == "output"
                     and r.get("settings", "") == _product_settings(job, r.get("product", "maps"))
                     and job.output(r["input"], r.get("product", "maps")).is_file()}
        self.plans = {r["input"]: r["cuts"] for r in records if r["kind"] == "plan"}
        self.parts: dict[tuple[str, int], Path] = {(r["input"], r["index"]): state / r["part"] for r in records
                                                   if r["kind"] == "chunk" and _intact(state / r["part"], r["sha256"])}
        for inp, print_ in self.prints.items():
            if (inp, "maps") in self.made:
                shutil.rmtree(state / "parts" / print_, ignore_errors=True)
        return [inp for inp in self.prints if any((inp, p) not in self.made for p in job.products)]

    def record(self, inp: str, product: str) -> None:
        self.done.append({"kind": "output", "input": inp, "fingerprint": self.prints[inp], "product": product,
                          "settings": _product_settings(self.job, product), "path": str(self.job.output(inp, product))})
        self.made.add((inp, product))

    def plan(self, inputs: list[str]) -> None:
        """Scene cuts of every input that has no plan yet (a full decode each, on the executor)."""

        def planned(inp: str, cuts: list[int]) -> None:
            self.plans[inp] = cuts
            self.done.append({"kind": "plan", "input": inp, "fingerprint": self.prints[inp], "cuts": cuts})

        def failed(inp: str, cause: str) -> None:
            self.report.failures.append(Failure(inp, None, cause))

        unplanned = {inp: (find_cuts, inp, self.config) for inp in inputs if inp not in self.plans}
        _run_tasks(self.executor, unplanned, self.job.retries, planned, failed,
                   _bar(self.progress, "plan", len(unplanned)))

    def run_chunks(self, inputs: list[str]) -> dict[str, list[Chunk]]:
        """Analyse every chunk not yet done; returns the chunks of the inputs whose chunks all succeeded."""
        job, state = self.job, self.state
        chunks = {inp: plan_chunks(inp, self.plans[inp], job.chunk_frames, job.frames)
                  for inp in inputs if inp in self.plans}
        todo = {(inp, c.index): (self.chunk_task, c, self.config) for inp, cs in chunks.items() for c in cs
                if (inp, c.index) not in self.parts}
        self.report.chunks_resumed = sum(len(cs) for cs in chunks.values()) - len(todo)
        failed_inputs: set[str] = set()

        def chunk_done(key: tuple[str, int], data: bytes) -> None:
            inp, index = key
            rel = Path("parts") / self.prints[inp] / f"{index:06d}.npz"
            (state / rel).parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(state / rel) as tmp:
                tmp.write_bytes(data)
            fsync_file_and_dir(state / rel)
            chunk = chunks[inp][index]
            self.done.append({"kind": "chunk", "input": inp, "fingerprint": self.prints[inp], "index": index,
                              "start": chunk.start, "stop": chunk.stop, "part": str(rel),
                              "sha256": hashlib.sha256(data).hexdigest()})
            self.parts[key] = state / rel
            self.report.chunks_run += 1

        def chunk_failed(key: tuple[str, int], cause: str) -> None:
            failed_inputs.add(key[0])
            self.report.failures.append(Failure(key[0], chunks[key[0]][key[1]].frames, cause))

        bar = _bar(self.progress, "chunks", sum(len(cs) for cs in chunks.values()), self.report.chunks_resumed)
        self.report.attempts = _run_tasks(self.executor, todo, job.retries, chunk_done, chunk_failed, bar, gpu=True)
        return {inp: cs for inp, cs in chunks.items() if inp not in failed_inputs}

    def assemble(self, chunks: dict[str, list[Chunk]]) -> None:
        """Each input's maps file from its chunk parts, in frame order; then the parts go."""
        for inp, cs in chunks.items():
            try:
                _write_output(self.job, inp, cs, [self.parts[(inp, c.index)] for c in cs], self.config_yaml)
            except PreanalysisError as exc:
                self.report.failures.append(Failure(inp, None, str(exc)))
                continue
            self.record(inp, "maps")
            shutil.rmtree(self.state / "parts" / self.prints[inp], ignore_errors=True)

    def make_products(self, inputs: list[str]) -> None:
        """The products made from the maps: whole-input tasks on the same executor."""
        job = self.job
        tasks = {(inp, p): (make_product, ProductTask(p, inp, str(job.output(inp)), str(job.output(inp, p)),
                                                      job.encode, self.config, job.frames, job.qpfile_base_qp))
                 for inp in inputs for p in job.products[1:] if (inp, "maps") in self.made and (inp, p) not in self.made}

        def failed(key: tuple[str, str], cause: str) -> None:
            self.report.failures.append(Failure(key[0], None, f"{key[1]}: {cause}"))

        _run_tasks(self.executor, tasks, job.retries, lambda key, _: self.record(*key), failed,
                   _bar(self.progress, "products", len(tasks)))


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
    """Only learned analysers are worth a GPU."""
    from ..analysers import ANALYSERS
    from ..pipeline import analyser_names

    return any(ANALYSERS[n].learned for n in analyser_names(config))

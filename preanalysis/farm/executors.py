"""Where chunk tasks run: in this process, in a local process pool, or as Ray tasks.

All three hand back concurrent.futures.Future objects, so the runner has one loop for every backend.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

from ..errors import PreanalysisError


def single_thread() -> None:
    """Farm workers run one per core: keep each library from starting its own thread pool."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


class InlineExecutor:
    """workers = 1: run each task right here, in order (no process start-up, easiest to debug)."""

    name = "in-process"
    capacity = 1  # tasks in flight

    def submit(self, fn: Callable, *args, gpu: bool = False) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 (reported per chunk by the runner, like a worker's exception)
            future.set_exception(exc)
        return future

    def restart(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


# Imported once in the fork server; every worker forks from it instead of importing torch/OpenCV/PyAV anew
# (measured: a 2-worker pool became usable in 3.7 s instead of 11.1 s with 'spawn' on this machine).
PRELOAD = ["preanalysis.pipeline", "preanalysis.farm.chunks", "preanalysis.farm.products"]


class PoolExecutor:
    """A local process pool.  'forkserver': workers fork from a clean server process (no threads or CUDA
    state inherited from the caller) that has already imported the analysis code."""

    def __init__(self, workers: int):
        self.workers = workers
        self.name = f"{workers} local processes"
        self.capacity = 2 * workers  # one queued behind each running task keeps workers busy
        self.pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=single_thread)

    def submit(self, fn: Callable, *args, gpu: bool = False) -> Future:
        return self.pool.submit(fn, *args)

    def restart(self) -> None:
        """After a worker died (BrokenProcessPool) every pending future is lost: start a fresh pool."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new()

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _ray_call(fn: Callable, *args):
    single_thread()
    return fn(*args)


class _GpuWorker:
    """A Ray actor holding one GPU for its lifetime (CUDA context and loaded networks stay warm)."""

    def run(self, fn: Callable, *args):
        return fn(*args)


class RayExecutor:
    """Ray tasks on a cluster (`address`: "auto", "ray://host:10001", "host:6379") or a private local Ray.

    One CPU per task.  Where the cluster has GPUs and `wants_gpu` (learned analysers), chunk tasks go to one
    actor per GPU (num_gpus=1 each) instead; planning and products stay CPU tasks.  Ray's own retries are
    off: the runner counts attempts itself.
    """

    def __init__(self, address: str, workers: int, wants_gpu: bool):
        try:
            import ray
        except ImportError:
            raise PreanalysisError("--ray-address needs Ray: pip install 'preanalysis[farm]' (or pip install ray)") from None
        self.ray = ray
        self.owned = not ray.is_initialized()
        if self.owned:
            # Workers must import this package the way the driver does.
            path = os.pathsep.join(p for p in (os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                                               os.environ.get("PYTHONPATH")) if p)
            env = {"env_vars": {"PYTHONPATH": path}}
            try:
                if address == "local":
                    ray.init(num_cpus=workers, include_dashboard=False, runtime_env=env, log_to_driver=False)
                else:
                    ray.init(address=address, runtime_env=env, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise PreanalysisError(f"cannot connect to Ray at {address!r} ({exc}): start the cluster "
                                       "(ray start --head) or fix --ray-address") from None
        gpus = int(ray.cluster_resources().get("GPU", 0))
        self.task = ray.remote(num_cpus=1, max_retries=0)(_ray_call)
        actor = ray.remote(num_cpus=1, num_gpus=1, max_restarts=1)(_GpuWorker)
        self.actors = [actor.remote() for _ in range(gpus)] if wants_gpu else []
        self.turn = 0
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.capacity = max(2, 2 * cpus)
        self.name = f"Ray at {address} ({cpus} CPUs, {gpus} GPUs{', chunks on GPU actors' if self.actors else ''})"

    def submit(self, fn: Callable, *args, gpu: bool = False) -> Future:
        if gpu and self.actors:
            self.turn = (self.turn + 1) % len(self.actors)
            return self.actors[self.turn].run.remote(fn, *args).future()
        return self.task.remote(fn, *args).future()

    def restart(self) -> None:
        pass

    def shutdown(self) -> None:
        if self.owned:
            self.ray.shutdown()


def make_executor(workers: int, ray_address: str | None, wants_gpu: bool = False):
    if ray_address:
        return RayExecutor(ray_address, workers, wants_gpu)
    return InlineExecutor() if workers == 1 else PoolExecutor(workers)


def failure_cause(exc: BaseException) -> str:
    """One line saying why a task failed (Ray wraps the worker's exception; unwrap it)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}" if not isinstance(cause, PreanalysisError) else text[0]

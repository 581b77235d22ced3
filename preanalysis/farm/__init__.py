"""Farm batches: chunked analysis of many inputs on a local process pool or a Ray cluster, resumable."""

from .chunks import Chunk, analyse_chunk, plan_chunks
from .job import Job, load_job
from .runner import Failure, FarmReport, run_job

__all__ = ["Chunk", "Failure", "FarmReport", "Job", "analyse_chunk", "load_job", "plan_chunks", "run_job"]

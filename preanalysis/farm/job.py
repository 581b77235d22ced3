"""The job file: which inputs, what to produce, where, and how to fan the work out.

Smallest job:  inputs: [a.mp4, b.mkv]   output_dir: out/   produce: [maps]
Relative paths are taken relative to the job file, so a job file travels with its media.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


from ..config import Config, check_one_clip_regions, for_encoder, from_dict, load_config, read_yaml
from ..errors import PreanalysisError

PRODUCTS = ("maps", "qpfile", "encode")  # maps are always made: the other products are built from them


@dataclass
class EncodeSpec:
    """How `produce: [encode]` encodes each input with its maps (encoder_adapters.EncodeSettings fields)."""

    encoder: str = "x264"
    crf: float | None = None  # CRF 23 when neither crf nor bitrate_kbps is given
    bitrate_kbps: float | None = None
    preset: str = "medium"
    params: dict[str, str] = field(default_factory=dict)
    container: str = "mp4"

    def settings(self, config_params: dict[str, str] | None = None):
        """EncodeSettings; the analysis config's encoder params (config_params) under the job's own."""
        from encoder_adapters import EncodeSettings

        crf = 23.0 if self.crf is None and self.bitrate_kbps is None else self.crf
        return EncodeSettings(self.encoder, crf=crf, bitrate_kbps=self.bitrate_kbps, preset=self.preset,
                              params={**(config_params or {}), **self.params})


@dataclass
class Job:
    inputs: list[str]
    output_dir: str
    produce: list[str] = field(default_factory=lambda: ["maps"])
    config: str | None = None  # analysis config YAML (preanalysis.config); default config when absent
    chunk_frames: int = 300  # a chunk is whole analysis segments, at least this long where the input allows
    frames: int | None = None  # analyse only the first N frames of each input
    workers: int = 1  # local processes (1 = in this process)
    retries: int = 2  # extra attempts per chunk before it is reported as failed
    ray_address: str | None = None  # None: local pool; "auto", "ray://host:10001", "host:6379"; "local": private Ray
    encode: EncodeSpec = field(default_factory=EncodeSpec)  # used by produce: [encode]
    qpfile_base_qp: float = 26.0  # used by produce: [qpfile] (x264/x265 --qpfile, frame-level QPs)

    def __post_init__(self):
        _check(len(self.inputs) > 0, "inputs must list at least one video")
        _check(len(self.produce) > 0 and all(p in PRODUCTS for p in self.produce),
               f"produce must be a list of {', '.join(PRODUCTS)}")
        _check(self.chunk_frames >= 1, "chunk_frames must be >= 1")
        _check(self.frames is None or self.frames >= 1, "frames must be >= 1")
        _check(1 <= self.workers <= 1024, "workers must be within [1, 1024]")
        _check(0 <= self.retries <= 100, "retries must be within [0, 100]")
        _check(self.encode.container in ("mp4", "mkv", "mov"), "encode.container must be mp4, mkv or mov")
        _check(0 <= self.qpfile_base_qp <= 51, "qpfile_base_qp must be within [0, 51]")
        if "encode" in self.produce:
            self.encode.settings()  # refuse bad encoder settings before any work
        stems: dict[str, str] = {}
        for path in self.inputs:
            stem = Path(path).stem
            _check(stem not in stems, f"inputs {stems.get(stem)} and {path} would both write {stem}.npz: rename one")
            stems[stem] = path

    def analysis_config(self) -> Config:
        """The analysis config, for the job's encoder when it encodes (an `auto` guard encoder becomes it)."""
        config = load_config(self.config)
        return for_encoder(config, self.encode.encoder) if "encode" in self.produce else config

    def output(self, input_path: str, product: str = "maps") -> Path:
        suffix = {"maps": ".npz", "qpfile": ".qpfile.txt", "encode": f".{self.encode.container}"}[product]
        return Path(self.output_dir) / f"{Path(input_path).stem}{suffix}"

    @property
    def products(self) -> list[str]:
        return ["maps", *(p for p in PRODUCTS[1:] if p in self.produce)]

    @property
    def state_dir(self) -> Path:
        """Done-list and finished chunk parts (kept until their input's outputs are written)."""
        return Path(self.output_dir) / ".preanalysis-farm"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PreanalysisError(f"invalid job: {message}")


def load_job(path: str | Path) -> Job:
    """Read and validate a job YAML file; paths in it are resolved relative to the file's folder."""
    path = Path(path)
    job = from_dict(Job, read_yaml(path, "job file"), "job")
    return resolve(job, path.parent)


def resolve(job: Job, base: Path) -> Job:
    """Make the job's paths absolute against `base`.  A missing input is reported with the farm's per-input
    failures (the rest of the batch still runs), not here."""
    def absolute(p: str) -> str:
        return str((base / Path(p).expanduser()).resolve())

    job.inputs = [absolute(p) for p in job.inputs]
    job.output_dir = absolute(job.output_dir)
    job.config = absolute(job.config) if job.config else None
    out = Path(job.output_dir)
    if out.exists() and not out.is_dir():
        raise PreanalysisError(f"output_dir {out} is a file: give a folder")
    check_one_clip_regions(job.analysis_config(), job.inputs, "farm job")  # fail early on a bad analysis config
    return job


def fingerprint(job: Job, input_path: str, config_yaml: str) -> str:
    """Identifies one input's work: a changed file, config, frame limit or file the config names (region files,
    other weights: the config holds only their paths) invalidates its done-list entries."""
    config = job.analysis_config()
    named = [p for p in [f.path for f in config.salience.roi_files] + list(config.analysis.weights.values())
             if Path(p).is_file()]  # a missing one fails the analysis with its own message
    key = "\0".join([*(_file_key(p) for p in [input_path, *named]), config_yaml, str(job.frames), str(job.chunk_frames)])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _file_key(path: str | Path) -> str:
    st = Path(path).stat()
    return f"{path}\0{st.st_size}\0{st.st_mtime_ns}"

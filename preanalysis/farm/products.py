"""What a job makes from an input's finished maps file: an x264/x265 qpfile, or an encode that uses the maps.

These run as whole-input tasks on the same executor as the chunks and write straight into output_dir
(atomically), so on a cluster output_dir must be a folder the workers can write (shared storage).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..maps import load_maps
from .job import EncodeSpec


@dataclass(frozen=True)
class ProductTask:
    """One product of one input (plain data: it travels to a worker process or a Ray node)."""

    product: str  # qpfile | encode
    input: str
    maps: str  # the input's finished maps file
    output: str
    encode: EncodeSpec
    config: Config  # the analysis config: its encoder settings and pre-filter apply to an encode
    frames: int | None  # only the first N frames (the job's `frames`)
    qpfile_base_qp: float


def make_product(task: ProductTask) -> str:
    """Worker task: build one product from the maps file; returns the output path.  An encode gets what
    `preanalysis encode --maps` would: the config's encoder settings (the job's params win) and pre-filter."""
    if task.product == "qpfile":
        from encoder_adapters.files import write_qpfile

        maps = load_maps(task.maps)
        write_qpfile(task.output, (maps.qp_map(i) for i in range(len(maps))), task.qpfile_base_qp,
                     keyframes=set(np.flatnonzero(maps.scene_start).tolist()))
    elif task.product == "encode":
        from ..facade import Preanalysis

        settings = task.encode.settings(task.config.encode.params(task.encode.encoder))
        Preanalysis(task.config).encode_with(task.input, task.output, settings, maps=task.maps, stop=task.frames)
    else:
        raise ValueError(f"unknown product {task.product!r}")
    return str(Path(task.output))

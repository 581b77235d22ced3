"""What a job makes from an input's finished maps file: an x264/x265 qpfile, or an encode that uses the maps.

These run as whole-input tasks on the same executor as the chunks and write straight into output_dir
(atomically), so on a cluster output_dir must be a folder the workers can write (shared storage).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import EncodeConfig
from ..maps import load_maps
from .job import EncodeSpec


def make_product(product: str, input_path: str, maps_path: str, output_path: str, encode: EncodeSpec,
                 encoder_config: EncodeConfig, frames: int | None, qpfile_base_qp: float) -> str:
    """Worker task: build one product of one input from its maps file; returns the output path.  An encode
    gets what `preanalysis encode` would: the analysis config's encoder settings (the job's params win) and
    its pre-filter."""
    maps = load_maps(maps_path)
    if product == "qpfile":
        from encoder_adapters.files import write_qpfile

        write_qpfile(output_path, (maps.qp_map(i) for i in range(len(maps))), qpfile_base_qp,
                     keyframes=set(np.flatnonzero(maps.scene_start).tolist()))
    elif product == "encode":
        from encoder_adapters import encode_frames

        from ..prefilters import filtered
        from ..video import decode, probe

        def qp_for_frame(index: int):
            return maps.qp_map(index) if index < len(maps) else None

        source = filtered(lambda: decode(input_path, 0, frames), encoder_config.prefilter)
        encode_frames(source, probe(input_path), output_path, encode.settings(encoder_config.params(encode.encoder)),
                      qp_for_frame=qp_for_frame)
    else:
        raise ValueError(f"unknown product {product!r}")
    return str(Path(output_path))

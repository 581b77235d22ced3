"""kvazaar ``--roi`` (write_kvazaar_roi)
Text ``W H`` then W*H integer deltas (+-51) in raster order, one map for the whole encode (kvazaar
stretches it over the frame, LCU x -> value x * W / LCUs per row): the temporal median of the frames'
maps on kvazaar's 64x64 LCU grid, so each value lands on exactly one LCU.  (The kvazaar inside the static
ffmpeg 9 reads a further map per frame when the file holds several, but in coding order, not display
order, so per-frame maps do not reach the intended frames that way; one map holds for every frame.)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from preanalysis.io import atomic_write_text
from preanalysis.qpmap import QpMap

from .grid import stack_offsets
from .qpfile import QP_RANGE_8BIT

KVAZAAR_LCU = 64


def kvazaar_roi(maps: Iterable[QpMap | None], block_size: int = KVAZAAR_LCU) -> np.ndarray:
    """One map for the whole encode: the per-block temporal median, rounded, clamped to +-51."""
    offsets, _, _ = stack_offsets(maps, block_size)
    return np.clip(np.round(np.median(offsets, axis=0)), -QP_RANGE_8BIT, QP_RANGE_8BIT).astype(np.int32)


def write_kvazaar_roi(
    path: str | Path, maps: Iterable[QpMap | None], block_size: int = KVAZAAR_LCU
) -> np.ndarray:
    roi = kvazaar_roi(maps, block_size)
    rows = "\n".join(" ".join(map(str, r)) for r in roi)
    atomic_write_text(Path(path), f"{roi.shape[1]} {roi.shape[0]}\n{rows}\n")
    return roi

"""The per-frame QP maps of one video stacked on the block grid an encoder's file uses.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap


def maps_size(maps: list[QpMap | None]) -> tuple[int, int]:
    """(width, height) the maps are for; refuses no maps at all and maps of different frame sizes."""
    known = [m for m in maps if m is not None]
    if not known:
        raise PreanalysisError("no QP maps to write: analyse at least one frame of the video")
    width, height = known[0].width, known[0].height
    for m in known:
        if (m.width, m.height) != (width, height):
            raise PreanalysisError(
                f"QP maps of {m.width}x{m.height} and {width}x{height} frames are mixed: use one video's maps"
            )
    return width, height


def stack_offsets(maps: Iterable[QpMap | None], block_size: int) -> tuple[np.ndarray, int, int]:
    """(frames x rows x cols offsets on a block_size grid, width, height); a None frame becomes all zeros."""
    maps = list(maps)
    width, height = maps_size(maps)
    grids = [m.aggregate(block_size).offsets for m in maps if m is not None]
    zero = np.zeros_like(grids[0])
    it = iter(grids)
    return np.stack([zero if m is None else next(it) for m in maps]).astype(np.int16), width, height

"""The contract between analysis and encoders: integer QP offsets per block of one frame, on the encoder's grid.

It imports nothing of the project's but its error type, so encoders, files, eval and the analysis can all
depend on it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PreanalysisError

BLOCK = 16  # H.264 macroblock; x264/x265 wrappers take offsets per 16x16 block.


@dataclass(frozen=True)
class QpMap:
    """Integer QP offsets per block of one frame (negative = more bits), in full-resolution coordinates."""

    offsets: np.ndarray  # int8, (ceil(height / block_size), ceil(width / block_size))
    width: int
    height: int
    block_size: int = BLOCK

    def __post_init__(self):
        rows, cols = grid_shape(self.width, self.height, self.block_size)
        if self.offsets.shape != (rows, cols):
            raise PreanalysisError(
                f"QP map shape {self.offsets.shape} does not match a {self.width}x{self.height} frame "
                f"with {self.block_size}px blocks ({rows}x{cols}): regenerate the maps for this video"
            )

    def aggregate(self, block_size: int) -> QpMap:
        """Coarser grid (32 for x265 CUs, 64 for CTBs/superblocks): the rounded mean of the covered blocks."""
        if block_size == self.block_size:
            return self
        return QpMap(np.round(self.block_means(block_size)).astype(np.int8), self.width, self.height, block_size)

    def block_means(self, block_size: int) -> np.ndarray:
        """The unrounded mean offset of the blocks each block_size square covers (float64, on its grid), for
        an encoder that scales offsets before rounding them (SVT-AV1's q-index)."""
        if block_size % self.block_size:
            raise PreanalysisError(f"cannot aggregate {self.block_size}px blocks to {block_size}px")
        k = block_size // self.block_size
        rows, cols = grid_shape(self.width, self.height, block_size)
        padded = np.full((rows * k, cols * k), np.nan, dtype=np.float64)
        padded[: self.offsets.shape[0], : self.offsets.shape[1]] = self.offsets
        return np.nanmean(padded.reshape(rows, k, cols, k), axis=(1, 3))

    def mean(self) -> float:
        return float(self.offsets.mean())


def grid_shape(width: int, height: int, block_size: int = BLOCK) -> tuple[int, int]:
    return (-(-height // block_size), -(-width // block_size))

"""NVENC delta-QP maps (write_nvenc_maps / read_nvenc_maps)
One file per sequence, little-endian::

    offset size  field
    0      4     magic  b"PQPM"
    4      2     version (uint16) = 1
    6      1     codec (uint8): 0 = H.264, 1 = HEVC
    7      1     block size in pixels (uint8): 16 for H.264, the CTB size (16, 32 or 64) for HEVC
    8      2     cols (uint16)  = ceil(width / block size)
    10     2     rows (uint16)  = ceil(height / block size)
    12     4     frames (uint32)
    16     ...   frames x rows x cols int8 deltas, frame after frame, each in raster order

A frame's slice is exactly the ``qpDeltaMap`` NVENC takes in ``NV_ENC_PIC_PARAMS`` with
``qpMapMode = NV_ENC_QP_MAP_DELTA`` (one signed byte per macroblock / CTB).  Deltas are clamped to +-51.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_output
from preanalysis.qpmap import QpMap, grid_shape

from ..nvenc import api as nvenc
from .grid import maps_size

NVENC_MAGIC = b"PQPM"
NVENC_VERSION = 1
NVENC_HEADER = struct.Struct("<4sHBBHHI")
NVENC_CODECS = {"h264": 0, "hevc": 1}


@dataclass(frozen=True)
class NvencMaps:
    codec: str  # h264 | hevc
    block_size: int
    offsets: np.ndarray  # int8, frames x rows x cols

    def frame(self, index: int) -> bytes:
        """The qpDeltaMap bytes of one picture (raster order, one signed byte per block)."""
        return np.ascontiguousarray(self.offsets[index]).tobytes()


def write_nvenc_maps(
    path: str | Path, maps: Iterable[QpMap | None], codec: str = "h264", ctb_size: int = 32
) -> NvencMaps:
    """Write one delta-QP file for the sequence: 16x16 blocks for H.264, ctb_size blocks for HEVC.

    Each frame is packed by encoder_adapters.nvenc.api.qp_delta_map: the very bytes the SDK adapter sends.
    """
    maps = list(maps)
    block = nvenc.block_size(codec, ctb_size)
    width, height = maps_size(maps)
    rows, cols = grid_shape(width, height, block)
    zero = np.zeros(rows * cols, np.int8)
    packed = [zero if m is None else nvenc.qp_delta_map(m, codec, width, height, ctb_size) for m in maps]
    data = NvencMaps(codec, block, np.stack(packed).reshape(len(maps), rows, cols))
    header = NVENC_HEADER.pack(NVENC_MAGIC, NVENC_VERSION, NVENC_CODECS[codec], block, cols, rows, len(maps))
    with atomic_output(path) as tmp:
        tmp.write_bytes(header + data.offsets.tobytes())
    return data


def read_nvenc_maps(path: str | Path) -> NvencMaps:
    """Read a file written by write_nvenc_maps, checking the header against the payload size."""
    raw = Path(path).read_bytes()
    if len(raw) < NVENC_HEADER.size or raw[:4] != NVENC_MAGIC:
        raise PreanalysisError(
            f"{path} is not an NVENC delta-QP map file: write it with `preanalysis qpfile --format nvenc`"
        )
    _, version, codec_id, block, cols, rows, frames = NVENC_HEADER.unpack_from(raw)
    if version != NVENC_VERSION:
        raise PreanalysisError(
            f"{path} has map file version {version}, this reader knows {NVENC_VERSION}: rewrite it"
        )
    codec = {v: k for k, v in NVENC_CODECS.items()}.get(codec_id)
    expected = NVENC_HEADER.size + frames * rows * cols
    if codec is None or len(raw) != expected:
        raise PreanalysisError(
            f"{path} is damaged ({len(raw)} bytes, header says {expected}): write it again"
        )
    offsets = np.frombuffer(raw, dtype=np.int8, offset=NVENC_HEADER.size).reshape(frames, rows, cols)
    return NvencMaps(codec, block, offsets)

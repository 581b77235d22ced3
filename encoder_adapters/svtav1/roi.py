"""Per-picture ROI maps for SVT-AV1: q-index offsets per 64x64 superblock, at most 8 distinct values.

An `RoiEvent` is one SvtAv1RoiMapEvt: the distinct offsets sorted in descending order as segment QPs and one
segment id per superblock in raster order, exactly as SvtAv1EncApp v4.1 builds it from a `--roi-map-file`
line (Source/App/app_context.c, parse_rio_map_file).  The order matters: for a block whose segment would be
lossless (base q-index + offset <= 0) the library falls back to the next lower segment id, i.e. the next
*larger* offset.  Events come from QpMaps (encoder_adapters.files.svtav1_offsets: 6.5 q-index per QP,
k-means to <= 8 levels) or from a `preanalysis qpfile --format svtav1` file read back the App's way.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap, grid_shape

from ..files.svtav1 import SVTAV1_MAX_SEGMENTS, SVTAV1_SUPERBLOCK, svtav1_offsets
from .library import ROI_MAP_EVENT, EbPrivDataNode, SvtAv1RoiMapEvt

MAX_OFFSET = 255


@dataclass(frozen=True)
class RoiEvent:
    """q-index offsets of one picture (and every later one until the next event), superblock raster order."""

    offsets: np.ndarray  # int16, rows x cols of 64x64 superblocks

    def __post_init__(self):
        values = np.unique(self.offsets)
        if values.size > SVTAV1_MAX_SEGMENTS:
            raise PreanalysisError(f"an SVT-AV1 ROI map has {values.size} distinct offsets, AV1 allows "
                                   f"{SVTAV1_MAX_SEGMENTS}: quantise the map (files.svtav1_offsets does)")
        if np.abs(values).max() > MAX_OFFSET:
            raise PreanalysisError(f"SVT-AV1 ROI offsets must be within +-{MAX_OFFSET} q-index, got "
                                   f"{values.min()}..{values.max()}")

    @property
    def segment_qps(self) -> np.ndarray:
        return np.unique(self.offsets)[::-1].astype(np.int16)  # descending, as the App sorts them

    @property
    def segment_map(self) -> np.ndarray:
        qps = self.segment_qps
        return (qps.size - 1 - np.searchsorted(qps[::-1], self.offsets)).astype(np.uint8)

    def to_c(self, picture_number: int) -> CEvent:
        return CEvent(self, picture_number)


class CEvent:
    """The C structs of one event, kept alive as long as the encoder may read them (the library keeps the
    pointer, it does not copy the event) -- so the session holds every CEvent until the encoder is closed."""

    def __init__(self, event: RoiEvent, picture_number: int):
        segment_map = np.ascontiguousarray(event.segment_map.ravel())
        self.map = (ctypes.c_uint8 * segment_map.size)(*segment_map.tolist())
        qps = event.segment_qps
        self.event = SvtAv1RoiMapEvt(start_picture_number=picture_number, max_seg_id=qps.size - 1)
        self.event.b64_seg_map = ctypes.cast(self.map, ctypes.POINTER(ctypes.c_uint8))
        for i, q in enumerate(qps.tolist()):
            self.event.seg_qp[i] = q
        # node.size is sizeof(SvtAv1RoiMapEvt*): the library asserts it (resource_coordination_process.c).
        self.node = EbPrivDataNode(node_type=ROI_MAP_EVENT, data=ctypes.addressof(self.event),
                                   size=ctypes.sizeof(ctypes.c_void_p))

    @property
    def node_address(self) -> int:
        return ctypes.addressof(self.node)


def superblock_grid(width: int, height: int) -> tuple[int, int]:
    """(rows, cols) of SVT-AV1's ROI grid: ceil(size / 64), as the library indexes b64_seg_map."""
    return grid_shape(width, height, SVTAV1_SUPERBLOCK)


def event_from_map(qp: QpMap, width: int, height: int, floor: int = MAX_OFFSET) -> RoiEvent:
    """A QpMap of the source size as the event for the width x height the encoder sees (cropped to even
    sides: the superblock grid may lose a column or row that only the dropped pixels reached); offsets
    below -floor are raised to -floor (session.negative_floor says why)."""
    offsets = svtav1_offsets([qp])[0]
    rows, cols = superblock_grid(width, height)
    return RoiEvent(np.maximum(offsets[:rows, :cols], -floor).astype(np.int16))


def read_roi_map_file(path: str | Path, width: int, height: int) -> dict[int, RoiEvent]:
    """{picture number: event} from an SvtAv1EncApp `--roi-map-file`, checked as the App v4.1 checks it:
    lines `<picture number> <offset> ...` with one offset in -255..255 per superblock, <= 8 distinct values
    per line; an empty file is an error (the App refuses it too)."""
    rows, cols = superblock_grid(width, height)
    events: dict[int, RoiEvent] = {}
    for line_no, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            picture, values = int(fields[0]), [int(v) for v in fields[1:]]
        except ValueError:
            raise PreanalysisError(f"{path}:{line_no}: not integers: write the file with `preanalysis qpfile "
                                   "--format svtav1`") from None
        if len(values) < rows * cols:
            raise PreanalysisError(f"{path}:{line_no}: {len(values)} offsets, a {width}x{height} picture has "
                                   f"{rows * cols} superblocks: write the map for this video's size")
        if picture < 0 or any(abs(v) > MAX_OFFSET for v in values):
            raise PreanalysisError(f"{path}:{line_no}: picture number < 0 or an offset outside -255..255")
        events[picture] = RoiEvent(np.array(values[: rows * cols], np.int16).reshape(rows, cols))
    if not events:
        raise PreanalysisError(f"{path} holds no ROI event: write it with `preanalysis qpfile --format svtav1`")
    return events

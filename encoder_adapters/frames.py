"""What every adapter does to a frame and its map before the encoder sees them: 4:2:0 needs even sides, so an
odd width or height loses its last column/row (H.264/HEVC/AV1 4:2:0 cannot signal half a chroma sample), and a
map made for the source size is checked against the source and clipped to the encoded size."""

from __future__ import annotations

import av
import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.video import VideoInfo


def encoded_size(width: int, height: int) -> tuple[int, int]:
    """The size the encoder sees: odd sides lose their last column/row."""
    return width - width % 2, height - height % 2


def to_encoder_frame(frame: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
    """The frame in the encoder's pixel format, cropped to even sides (a new frame unless nothing changes)."""
    if frame.format.name != pix_fmt:
        frame = frame.reformat(format=pix_fmt)
    width, height = encoded_size(frame.width, frame.height)
    if (width, height) == (frame.width, frame.height):
        return frame
    cropped = av.VideoFrame(width, height, pix_fmt)
    sample_bytes = 2 if frame.format.components[0].bits > 8 else 1
    for src, dst in zip(frame.planes, cropped.planes):
        src_rows = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)
        dst_rows = np.frombuffer(dst, np.uint8).reshape(dst.height, dst.line_size)
        dst_rows[:, : dst.width * sample_bytes] = src_rows[: dst.height, : dst.width * sample_bytes]
    return cropped


def check_map(qp: QpMap, info: VideoInfo, index: int) -> None:
    """A map must be made for this video's size (maps of another video would be applied to the wrong blocks)."""
    if (qp.width, qp.height) != (info.width, info.height):
        raise PreanalysisError(
            f"QP map of frame {index} is for {qp.width}x{qp.height} but the video is {info.width}x{info.height}: "
            "make the maps from this video"
        )


def map_for_encoded_size(qp: QpMap) -> QpMap:
    """The map on the grid of the even-cropped frame (unchanged for even sizes)."""
    width, height = encoded_size(qp.width, qp.height)
    if (width, height) == (qp.width, qp.height):
        return qp
    rows, cols = grid_shape(width, height, qp.block_size)
    return QpMap(qp.offsets[:rows, :cols], width, height, qp.block_size)

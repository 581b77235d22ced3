"""Read the QPs an H.264 encoder really used back from the bitstream (tests, self-check, eval loop).

FFmpeg's H.264 decoder exports VIDEO_ENC_PARAMS side data (base QP + per-macroblock deltas) when asked with
`export_side_data=venc_params`.  Blocks with no coded residual carry the previous QP: judge on I-frames or
with per-region medians.  HEVC decoders export nothing of the kind (use PSNR per region instead).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType

from preanalysis.errors import PreanalysisError


def read_qps(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """(pict_type name 'I'/'P'/'B', absolute QP per 16x16 block as int16 rows x cols) for each frame, in output order."""
    out: list[tuple[str, np.ndarray]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name not in ("h264", "mpeg2video"):
            raise PreanalysisError(
                f"{path} is {stream.codec_context.name}: per-block QPs can be read back only from H.264 (or MPEG-2)"
            )
        stream.codec_context.options = {"export_side_data": "venc_params"}
        for frame in container.decode(stream):
            params = frame.side_data.get("VIDEO_ENC_PARAMS")
            if params is None:
                raise PreanalysisError(f"{path}: the decoder exported no QPs for frame {len(out)}: use PyAV 18.x")
            out.append((PictureType(frame.pict_type).name, np.asarray(params.qp_map(), dtype=np.int16)))
    return out


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The coded Y plane as float64 (no range conversion, unlike reformat(format='gray')), any depth."""
    plane = frame.planes[0]
    dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
    rows = np.frombuffer(plane, dtype).reshape(plane.height, -1)
    return rows[:, : plane.width].astype(np.float64)

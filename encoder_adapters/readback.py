"""What an encoder really did, read back from its output (tests, self-checks, eval loop).

H.264: FFmpeg's decoder exports VIDEO_ENC_PARAMS side data (base QP + per-macroblock deltas) when asked with
`export_side_data=venc_params`.  Blocks with no coded residual carry the previous QP: judge on I-frames or
with per-region medians.  FFmpeg's HEVC, AV1 and VP9 decoders export nothing of the kind: HEVC QPs come from
libde265 (readback_hevc.py), and every self-check of those codecs compares the PSNR of the halves of a frame
(half_psnr).
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


def half_psnr(reference: av.VideoFrame, decoded: av.VideoFrame) -> float:
    """PSNR-Y of the left half minus the right half of `decoded` against `reference`, in dB."""
    ref = luma_plane(reference)
    dec = luma_plane(decoded)[: ref.shape[0], : ref.shape[1]]
    half = ref.shape[1] // 2
    peak = 1023.0 if reference.format.components[0].bits > 8 else 255.0

    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        mse = float(np.mean((a - b) ** 2))
        return 10 * np.log10(peak * peak / max(mse, 1e-6))

    return psnr(ref[:, :half], dec[:, :half]) - psnr(ref[:, half:], dec[:, half:])


def decoded_half_psnr(encoded: str | Path, sources: list[av.VideoFrame], index: int) -> float:
    """half_psnr of picture `index` (display order) of an encoded file against its source frame."""
    with av.open(str(encoded)) as container:
        for i, decoded in enumerate(container.decode(video=0)):
            if i == index:
                return half_psnr(sources[index], decoded)
    raise PreanalysisError(f"{encoded} holds fewer than {index + 1} pictures: the encoder dropped frames")

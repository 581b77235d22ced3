"""Encode frames with any adapter, one QpMap per frame: the loop every encoder shares.

Settings that would make the encoder silently ignore the map are refused before any work, and a cached
self-check proves the encoder honours maps with these params.  CRF is one pass; bitrate mode is two passes
where the adapter runs them (x264/x265), so the frame source is a function called once per pass.  The
output is written atomically; the input file is only read.

What the frames are is the caller's business: decoded as they are (`encode_file`), pre-filtered
(preanalysis.prefilters.filtered), or analysed in the same decode pass (preanalysis.facade).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_output, check_output_path
from preanalysis.video import DecodedFrame, VideoInfo, decode, probe

from .base import EncodeResult, EncodeSettings, get_adapter
from .frames import encoded_size
from .passes import QpForFrame, encode_pass
from .selfcheck import run_self_check

FrameSource = Callable[[], Iterable[DecodedFrame]]
log = logging.getLogger("preanalysis")


def encode_frames(
    frames_factory: FrameSource,
    info: VideoInfo,
    output_path: str | Path,
    settings: EncodeSettings,
    qp_for_frame: QpForFrame | None = None,
    progress: bool = False,
    self_check: bool = True,
) -> EncodeResult:
    """Encode the frames (frames_factory is called once per pass) atomically into output_path.

    The frames are consumed: their pict_type, pts/time_base and ROI side data may be set before encoding.
    """
    adapter = get_adapter(settings.encoder)
    output = check_output_path(output_path, info.path)
    adapter.container_format(output)
    why = adapter.param_problem(settings)
    if why:
        raise PreanalysisError(why)
    if qp_for_frame is not None:
        adapter.check_settings(settings, info.bit_depth)
        if self_check:
            run_self_check(adapter, settings, adapter.encoded_bit_depth(info))
    coded = encoded_size(info.width, info.height)
    if coded != (info.width, info.height):
        log.warning("%s is %dx%d: coded as %dx%d (4:2:0 needs even sides, so the last column / row is dropped)",
                    info.path, info.width, info.height, *coded)
    started = time.perf_counter()
    label = f"{adapter.name} {settings.mode}" if progress else None
    with atomic_output(output) as tmp:
        if settings.mode != "2-pass":
            result = encode_pass(frames_factory(), info, tmp, adapter, settings, qp_for_frame, progress=label)
        else:
            with tempfile.TemporaryDirectory(prefix="preanalysis-2pass-") as tmpdir:
                stats = str(Path(tmpdir) / "stats.log")
                first = Path(tmpdir) / f"pass1{output.suffix}"
                encode_pass(frames_factory(), info, first, adapter, settings, qp_for_frame,
                            {"pass": "1", "stats": stats}, progress=label and f"{label} (1/2)")
                result = encode_pass(frames_factory(), info, tmp, adapter, settings, qp_for_frame,
                                     {"pass": "2", "stats": stats}, progress=label and f"{label} (2/2)")
    return EncodeResult(
        path=output,
        frames=result.frames,
        size_bytes=output.stat().st_size,
        bitrate_kbps=result.payload_bytes * 8 / result.seconds / 1000,
        seconds=time.perf_counter() - started,
    )


def encode_file(
    input_path: str | Path,
    output_path: str | Path,
    settings: EncodeSettings,
    qp_for_frame: QpForFrame | None = None,
    progress: bool = False,
    start: int = 0,
    stop: int | None = None,
) -> EncodeResult:
    """Decode input_path (frames [start, stop)) and encode it as it is (no pre-filter)."""
    info = probe(input_path)
    check_output_path(output_path, input_path)
    return encode_frames(lambda: decode(input_path, start, stop), info, output_path, settings, qp_for_frame, progress)

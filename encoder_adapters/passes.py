"""One encoding pass: frames (and each frame's QpMap) through an adapter's session into one file.

Used by every encode (encoder_adapters.encode) and by the self-check, so a map reaches the encoder the same
way in both; run_session feeds a session opened by other means (tests drive an SVT-AV1 session that takes
its ROI events from a file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.video import DecodedFrame, VideoInfo

from .base import EncoderAdapter, EncodeSession, EncodeSettings, PassResult
from .frames import check_map

log = logging.getLogger("preanalysis")

QpForFrame = Callable[[int], "QpMap | None"]


def encode_pass(
    frames: Iterable[DecodedFrame],
    info: VideoInfo,
    output: Path,
    adapter: EncoderAdapter,
    settings: EncodeSettings,
    qp_for_frame: QpForFrame | None,
    pass_params: dict[str, str] | None = None,
    progress: str | None = None,
) -> PassResult:
    """Encode `frames` in order into `output` (one pass); a frame whose map is None gets no map."""
    session = adapter.open_pass(output, info, settings, pass_params or {}, mapped=qp_for_frame is not None)
    return run_session(session, frames, info, output, qp_for_frame, progress)


def run_session(
    session: EncodeSession,
    frames: Iterable[DecodedFrame],
    info: VideoInfo,
    output: Path,
    qp_for_frame: QpForFrame | None,
    progress: str | None = None,
) -> PassResult:
    """Feed an open session every frame and its checked map, then close it (abort it on any error).

    Containers need increasing timestamps: a repeated (or backward) source pts is stamped one tick after the
    previous frame's; every other pts is kept (VFR stays VFR)."""
    count, first, last, restamped = 0, None, None, 0
    bar = _progress(progress, info.frame_count)
    try:
        for d in frames:
            qp = qp_for_frame(d.index) if qp_for_frame is not None else None
            if qp is not None:
                check_map(qp, info, d.index)
            if last is not None and d.pts <= last:
                d = replace(d, pts=last + 1, time=float((last + 1) * info.time_base))
                restamped += 1
            session.encode(d, qp)
            first = d.pts if first is None else first
            last = d.pts
            count += 1
            if bar is not None:  # bool() of a tqdm of unknown length raises
                bar.update()
        payload = session.close()
    except BaseException:
        session.abort()
        raise
    finally:  # closed however the pass ends, so an error message starts on a line of its own
        if bar is not None:
            bar.close()
    if count == 0:
        raise PreanalysisError(f"no frames to encode into {output}: check the input and the frame range")
    if restamped:
        log.warning("%s: %d source timestamp(s) repeat or go back in time; those frames are stamped one tick later",
                    info.path, restamped)
    # n frames span n intervals: the pts range covers n - 1 of them.
    span = float((last - first) * info.time_base) * count / (count - 1) if count > 1 else 0.0
    return PassResult(count, payload, span if span > 0 else count / info.fps)


def _progress(label: str | None, total: int):
    if not label:
        return None
    from tqdm import tqdm

    return tqdm(total=total or None, desc=label, unit="f", leave=False)

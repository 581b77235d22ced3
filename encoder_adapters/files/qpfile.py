"""x264 / x265 ``--qpfile`` (write_qpfile)
One line per frame, ``framenum type QP`` with QP = clip(round(base_qp + mean offset of the frame), 0, 51):
frame level only, the per-block detail is lost.  Both parsers *require* a type letter (I=IDR, i=I,
K=keyframe, P, B=B-ref, b=B; there is no "auto" letter, only QP -1 means auto), so a line forces its
frame type.  We write ``I`` for frame 0 and the given keyframes (scene cuts) and ``P`` for the rest:
honest and valid for both encoders, at the price of no B-frames on mapped frames.  Frames whose map is
None get no line (type and QP left to the encoder).  The QPs are exact only with AQ and mbtree/cutree
off (x264 ``--aq-mode 0 --no-mbtree``, x265 ``--aq-mode 0 --no-cutree``); otherwise AQ is added.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import numpy as np

from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_write_text
from preanalysis.qpmap import QpMap

QP_RANGE_8BIT = 51


def frame_qps(maps: Iterable[QpMap | None], base_qp: float) -> list[int | None]:
    """Frame QP = clip(round(base_qp + mean block offset), 0, 51); None where the frame has no map."""
    if not 0 <= base_qp <= QP_RANGE_8BIT:
        raise PreanalysisError(f"base QP {base_qp} is outside 0..51: choose a base QP like 26")
    return [None if m is None else int(np.clip(round(base_qp + m.mean()), 0, QP_RANGE_8BIT)) for m in maps]


def write_qpfile(
    path: str | Path, maps: Iterable[QpMap | None], base_qp: float = 26, keyframes: Collection[int] = ()
) -> list[int | None]:
    """Write an x264/x265 --qpfile (same syntax for both); returns the frame QPs written."""
    qps = frame_qps(maps, base_qp)
    lines = []
    for n, qp in enumerate(qps):
        key = n == 0 or n in keyframes
        if qp is not None or key:
            lines.append(f"{n} {'I' if key else 'P'} {-1 if qp is None else qp}")
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
    return qps

"""Chunks: frame ranges that start at analysis segment starts, so each one analyses exactly like a full run.

The pipeline resets all analyser state at scene cuts and forced cuts (preanalysis.pipeline), so a chunk
[start, stop) with `start` a cut needs no temporal context from before it.  Workers return a chunk's
result as bytes (an .npz of the per-frame arrays the maps file keeps), so they need no shared disk with
the machine that writes the outputs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..qpmap import QpMap
from ..config import Config
from ..errors import PreanalysisError

FIELDS = ("index", "pts", "time", "scene_start", "qp_offsets", "salience", "guard", "guard_bd")


@dataclass(frozen=True)
class Chunk:
    input: str
    index: int  # position within its input
    start: int
    stop: int | None  # None: to the end of the input

    @property
    def frames(self) -> str:
        return f"{self.start}-{'end' if self.stop is None else self.stop - 1}"


def plan_chunks(input_path: str, cuts: list[int], chunk_frames: int, frames: int | None = None) -> list[Chunk]:
    """Group consecutive segments (starting at `cuts`) into chunks of at least chunk_frames frames."""
    cuts = sorted(c for c in set(cuts) if frames is None or c < frames)
    if not cuts or cuts[0] != 0:
        raise PreanalysisError(f"scene cuts of {input_path} must start at frame 0: the cut list is broken")
    starts = [0]
    for c in cuts[1:]:
        if c - starts[-1] >= chunk_frames:
            starts.append(c)
    stops: list[int | None] = [*starts[1:], frames]
    return [Chunk(input_path, i, s, e) for i, (s, e) in enumerate(zip(starts, stops))]


def find_cuts(input_path: str, config: Config) -> list[int]:
    """Worker task: the input's segment starts (a full decode at analysis resolution)."""
    from ..pipeline import scene_cuts

    return scene_cuts(input_path, config)


def analyse_chunk(chunk: Chunk, config: Config) -> bytes:
    """Worker task: analyse one chunk and return its per-frame arrays as .npz bytes."""
    from ..pipeline import analyze

    rows: dict[str, list] = {name: [] for name in FIELDS}
    grid = None
    for fa in analyze(chunk.input, config, start=chunk.start, stop=chunk.stop):
        for name, value in (("index", fa.index), ("pts", fa.pts), ("time", fa.time),
                            ("scene_start", fa.scene_start), ("qp_offsets", fa.qp.offsets),
                            ("salience", fa.salience), ("guard", fa.guard), ("guard_bd", fa.guard_bd)):
            rows[name].append(value)
        grid = (fa.qp.width, fa.qp.height, fa.qp.block_size)
    expected = None if chunk.stop is None else chunk.stop - chunk.start
    if grid is None or (expected is not None and len(rows["index"]) != expected):
        raise PreanalysisError(
            f"{chunk.input} frames {chunk.frames}: decoded {len(rows['index'])} frame(s), expected "
            f"{expected or 'some'}: the file is truncated or changed during the batch"
        )
    buf = io.BytesIO()
    np.savez(buf, index=np.array(rows["index"], np.int64), pts=np.array(rows["pts"], np.int64),
             time=np.array(rows["time"], np.float64), scene_start=np.array(rows["scene_start"], np.bool_),
             qp_offsets=np.stack(rows["qp_offsets"]).astype(np.int8), salience=np.stack(rows["salience"]),
             guard=np.array(rows["guard"], np.int8), guard_bd=np.array(rows["guard_bd"], np.float32),
             grid=np.array(grid, np.int64))
    return buf.getvalue()


def read_part(path: Path) -> Iterator:
    """The frames of a stored chunk as FrameAnalysis objects carrying what the maps file keeps."""
    from ..pipeline import FrameAnalysis

    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    width, height, block = (int(v) for v in d["grid"])
    empty = np.zeros((0, 0), np.float32)
    for i in range(len(d["index"])):
        yield FrameAnalysis(
            index=int(d["index"][i]), pts=int(d["pts"][i]), time=float(d["time"][i]), luma=empty, maps={},
            salience=d["salience"][i], qp=QpMap(d["qp_offsets"][i], width, height, block),
            scene_start=bool(d["scene_start"][i]), guard=int(d["guard"][i]), guard_bd=tuple(d["guard_bd"][i]),
        )


def assemble(parts: list[Path], chunks: list[Chunk]) -> Iterator:
    """All frames of an input, in order, checking that the chunks join without gaps or overlaps."""
    expected = 0
    for part, chunk in zip(parts, chunks):
        for fa in read_part(part):
            if fa.index != expected:
                raise PreanalysisError(
                    f"{chunk.input}: chunk {chunk.index} starts at frame {fa.index}, expected {expected}: "
                    "delete the output folder's .preanalysis-farm state and run the job again"
                )
            expected += 1
            yield fa

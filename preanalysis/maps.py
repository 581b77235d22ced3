"""The maps file (`preanalysis analyze -o MAPS.npz`): streamed to disk frame by frame, byte-reproducible.

Layout (a standard .npz: a zip of .npy arrays, readable with numpy.load):
  qp_offsets  int8   (frames, block rows, block cols)   QP offset per 16x16 block, full-resolution grid
  salience    uint8  (frames, h, w)                     the mask at analysis resolution
  pts         int64  (frames,)    time float64 (frames,)   scene_start bool (frames,)
  guard       int8   (frames,)    the segment guard's verdict: -1 not judged, 0 map off, k the k-th candidate kept
  guard_bd    float32 (frames, 2) its estimate for the segment, VMAF and VMAF-NEG BD-rate % (NaN: not measured)
  block_size, width, height  int scalars;   time_base int64 (2,);   config  str (the YAML used)
Arrays are written through .npy files whose header is patched with the final frame count, so memory stays
flat for any length; zip entries carry a fixed timestamp so equal inputs give byte-identical files.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml

from .qpmap import QpMap
from .errors import PreanalysisError
from .io import atomic_output

HEADER_BYTES = 128  # room for the largest shape we write; .npy headers are padded to a multiple of 64


class NpyStream:
    """Append equally shaped rows to a .npy file without knowing how many will come."""

    def __init__(self, path: Path):
        self.path, self.count, self.dtype, self.shape = path, 0, None, None
        self.file = open(path, "wb")
        self.file.write(b"\0" * HEADER_BYTES)

    def append(self, row: np.ndarray) -> None:
        if self.dtype is None:
            self.dtype, self.shape = row.dtype, row.shape
        self.file.write(np.ascontiguousarray(row, dtype=self.dtype).tobytes())
        self.count += 1

    def close(self, dtype=None, shape=()) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(self.dtype or dtype)),
                  "fortran_order": False, "shape": (self.count, *(self.shape or shape))}
        text = repr(header).encode("latin1")
        pad = HEADER_BYTES - 10 - len(text) - 1
        self.file.seek(0)
        self.file.write(b"\x93NUMPY\x01\x00" + (HEADER_BYTES - 10).to_bytes(2, "little") + text + b" " * pad + b"\n")
        self.file.close()


def _zip_add(zf: zipfile.ZipFile, name: str, path: Path) -> None:
    info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)


def write_maps(analyses: Iterable, out: str | Path, info, config_yaml: str = "") -> int:
    """Stream FrameAnalysis objects into OUT atomically; returns the number of frames written."""
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.resolve().parent, prefix=".maps-") as tmp:
        tmp = Path(tmp)
        names = ("qp_offsets", "salience", "pts", "time", "scene_start", "guard", "guard_bd")
        streams = {n: NpyStream(tmp / f"{n}.npy") for n in names}
        for fa in analyses:
            streams["qp_offsets"].append(fa.qp.offsets)
            streams["salience"].append(fa.salience)
            streams["pts"].append(np.int64(fa.pts))
            streams["time"].append(np.float64(fa.time))
            streams["scene_start"].append(np.bool_(fa.scene_start))
            # the guard's verdict; frames built by a caller without one are not judged
            streams["guard"].append(np.int8(getattr(fa, "guard", -1)))
            streams["guard_bd"].append(np.array(getattr(fa, "guard_bd", (np.nan, np.nan)), np.float32))
        count = streams["pts"].count
        if count == 0:
            raise PreanalysisError("no frames were analysed: check the frame range and the input")
        for s in streams.values():
            s.close()
        scalars = {
            "block_size": np.int64(16), "width": np.int64(info.width), "height": np.int64(info.height),
            "time_base": np.array([info.time_base.numerator, info.time_base.denominator], np.int64),
            "config": np.array(config_yaml),
        }
        for name, value in scalars.items():
            np.save(tmp / f"{name}.npy", value)
        with atomic_output(out) as target, zipfile.ZipFile(target, "w") as zf:
            for name in (*names, *scalars):
                _zip_add(zf, name, tmp / f"{name}.npy")
    return count


@dataclass
class MapsFile:
    qp_offsets: np.ndarray
    salience: np.ndarray
    pts: np.ndarray
    time: np.ndarray
    scene_start: np.ndarray
    block_size: int
    width: int
    height: int
    time_base: Fraction
    config: dict
    guard: np.ndarray  # int8 (frames,), see the layout above
    guard_bd: np.ndarray  # float32 (frames, 2)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.qp_offsets)

    def qp_map(self, index: int) -> QpMap:
        return QpMap(self.qp_offsets[index], self.width, self.height, self.block_size)

    def qp_for_frame(self, index: int) -> QpMap:
        """The map of frame `index` for an encode; a video longer than the maps is an error, not a gap."""
        if index >= len(self):
            raise PreanalysisError(f"maps {self.path} end at frame {len(self)} but the video goes on: "
                                   "analyse the whole input and pass those maps")
        return self.qp_map(index)

    def check_video(self, info, whole: bool = True) -> MapsFile:
        """These maps, after checking they were made from a video of info's size (and, for maps of a whole
        video, its length where the container says)."""
        if (self.width, self.height) != (info.width, info.height):
            raise PreanalysisError(
                f"maps {self.path} are for a {self.width}x{self.height} video but {info.path} is "
                f"{info.width}x{info.height}: analyse this input or pass its own maps"
            )
        if whole and info.frame_count and len(self) != info.frame_count:
            raise PreanalysisError(
                f"maps {self.path} have {len(self)} frames but {info.path} has {info.frame_count}: "
                "analyse the whole input (`preanalysis analyze`) and pass those maps"
            )
        return self


def load_maps(path: str | Path) -> MapsFile:
    path = Path(path)
    if not path.is_file():
        raise PreanalysisError(f"maps file {path} does not exist: run `preanalysis analyze` first")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        tb = d["time_base"]
        frames = len(d["qp_offsets"])  # files written before the guard's verdicts were kept: not judged
        guard = d.get("guard", np.full(frames, -1, np.int8))
        guard_bd = d.get("guard_bd", np.full((frames, 2), np.nan, np.float32))
        return MapsFile(
            qp_offsets=d["qp_offsets"], salience=d["salience"], pts=d["pts"], time=d["time"],
            scene_start=d["scene_start"], block_size=int(d["block_size"]), width=int(d["width"]),
            height=int(d["height"]), time_base=Fraction(int(tb[0]), int(tb[1])),
            config=yaml.safe_load(str(d["config"])) or {}, guard=guard, guard_bd=guard_bd, path=path,
        )
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise PreanalysisError(f"{path} is not a preanalysis maps file ({exc}): regenerate it with `preanalysis analyze`") from None

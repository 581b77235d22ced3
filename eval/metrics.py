"""Full-frame quality per frame: VMAF v0.6.1, VMAF-NEG and PSNR-Y from ONE libvmaf pass.

libvmaf shares its feature extractors between models, so both VMAF models and the PSNR feature cost about
one run (the expensive part of every sweep).  It runs in the static ffmpeg that imageio-ffmpeg ships (or the
user's, via an argument or PREANALYSIS_FFMPEG), but ffmpeg never reads the files: both are decoded here
(eval.pairing) and handed over as raw y4m streams through named pipes, timestamps = frame index, so frame i
meets frame i whatever the files' timestamps, and memory stays flat (no frame is kept, nothing goes to disk).
Scores are always taken against the original source; the alignment guard runs on every pair.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ffmpeg_quality_metrics import FfmpegQualityMetrics

from preanalysis.errors import PreanalysisError

from . import pairing
from .pairing import count_frames, even_crop  # noqa: F401  (part of this module's interface)

METRICS = ("vmaf", "vmaf_neg", "psnr_y")
MODEL_DIR = Path(FfmpegQualityMetrics.DEFAULT_VMAF_MODEL_DIRECTORY)
MODELS = {"vmaf": MODEL_DIR / "vmaf_v0.6.1.json", "vmaf_neg": MODEL_DIR / "vmaf_v0.6.1neg.json"}


@dataclass
class FrameScores:
    """Per-frame scores of one encode against its source (arrays of equal length)."""

    vmaf: np.ndarray
    vmaf_neg: np.ndarray
    psnr_y: np.ndarray

    def means(self) -> dict[str, float]:
        """Mean of per-frame scores (how every published table pools)."""
        return {m: float(np.mean(getattr(self, m))) for m in METRICS}

    def __len__(self) -> int:
        return len(self.vmaf)


def ffmpeg_path(explicit: str | None = None) -> str:
    """The ffmpeg to run: the explicit one, else $PREANALYSIS_FFMPEG, else imageio-ffmpeg's static build."""
    path = explicit or os.environ.get("PREANALYSIS_FFMPEG")
    if path:
        if not Path(path).is_file():
            raise PreanalysisError(f"ffmpeg {path} does not exist: pass --ffmpeg PATH to an ffmpeg built with libvmaf")
        return str(path)
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


LIBVMAF_MIN_SIDE = 16  # libvmaf (VMAF's 4-scale pyramid) crashes on a frame side of 16 pixels or fewer
THUMBS_AHEAD = 64  # with temporary files: thumbnails one side may run ahead of the other before it waits


class _SideWriter(threading.Thread):
    """Writes one side's frames, in the comparison layout, as a y4m stream into libvmaf's named pipe (or a
    file); hands each frame's guard thumbnail to the caller.  Once libvmaf stops reading (the other side
    ended), it only counts what is left, so a length mismatch names both counts."""

    def __init__(self, frames, target: pairing.Layout, path: Path, alive, paced: bool):
        super().__init__(daemon=True)
        self.frames, self.target, self.path, self.alive = frames, target, path, alive
        # Thumbnails, then None.  Through pipes libvmaf paces both sides (one runs ahead by what ffmpeg reads
        # of its first input before it opens the second), and a bound could stall the side it waits for.
        self.thumbs: queue.Queue = queue.Queue(0 if paced else THUMBS_AHEAD)
        self.count = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        out = None
        try:
            out = _open_for_writing(self.path, self.alive)
            if out is not None:
                out.write(self.target.y4m_header())
            for frame in self.frames:
                if self.stop.is_set():
                    return
                if out is not None:
                    planes = pairing.planes(frame, self.target)
                    self.thumbs.put(pairing.thumbnail(planes[0], self.target.peak))
                    try:
                        out.write(b"FRAME\n")
                        for plane in planes:
                            out.write(np.ascontiguousarray(plane).data)
                    except BrokenPipeError:  # libvmaf is done with this side: count the rest
                        _close_quietly(out)
                        out = None
                self.count += 1
        except Exception as exc:  # noqa: BLE001  (re-raised by the caller, in its own thread)
            self.error = exc
        finally:
            _close_quietly(out)
            self.thumbs.put(None)


def _open_for_writing(path: Path, alive):
    """Open a named pipe once libvmaf opens it (None if ffmpeg exits first); a plain file at once."""
    if not path.exists() or not stat.S_ISFIFO(path.stat().st_mode):
        return open(path, "wb")
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            if not alive():
                return None
            time.sleep(0.005)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "wb", buffering=0)  # unbuffered: libvmaf must see each frame as it is written


def _close_quietly(out) -> None:
    if out is not None:
        with contextlib.suppress(OSError):
            out.close()


def _models_option() -> str:
    """libvmaf's model= value for both VMAF models, under the names the scores are read back by."""
    return "|".join(f"path={p}\\:name={n}" for n, p in MODELS.items())


def _libvmaf_command(ffmpeg: str, ref: Path, enc: Path, log: Path, threads: int) -> list[str]:
    options = (f"model={_models_option()}:feature=name=psnr:n_threads={threads}:log_fmt=json:log_path={log}"
               ":shortest=1:repeatlast=0")
    raw = ["-probesize", "32", "-f", "yuv4mpegpipe", "-i"]  # the y4m header says all: no read-ahead to probe
    return [ffmpeg, "-v", "error", "-nostdin", *raw, str(ref), *raw, str(enc),
            "-lavfi", f"[1:v][0:v]libvmaf='{options}'", "-f", "null", "-"]


def measure_range(
    reference: str | Path,
    encoded: str | Path,
    start: int = 0,
    stop: int | None = None,
    ffmpeg: str | None = None,
    threads: int = 2,
) -> FrameScores:
    """VMAF, VMAF-NEG and PSNR-Y of every frame of `encoded` against reference frames [start, stop), paired by
    index (eval.pairing) and guarded against misalignment."""
    target = pairing.layout(reference, encoded)
    if min(target.width, target.height) <= LIBVMAF_MIN_SIDE:
        raise PreanalysisError(f"encode {encoded} is {target.width}x{target.height}: libvmaf needs frames"
                               f" wider and taller than {LIBVMAF_MIN_SIDE} pixels (smaller ones crash it);"
                               " score a larger clip")
    exe = ffmpeg_path(ffmpeg)
    guard = pairing.AlignmentGuard(reference, encoded, start, stop)
    with tempfile.TemporaryDirectory(prefix="preanalysis-vmaf-") as tmp:
        ref_pipe, enc_pipe, log = Path(tmp) / "ref.y4m", Path(tmp) / "enc.y4m", Path(tmp) / "vmaf.json"
        fifo = hasattr(os, "mkfifo")  # without named pipes (Windows) both sides go through temporary files
        if fifo:
            os.mkfifo(ref_pipe)
            os.mkfifo(enc_pipe)
        proc: subprocess.Popen | None = None
        alive = lambda: proc is None or proc.poll() is None
        writers = [_SideWriter(pairing.side(reference, start, stop), target, ref_pipe, alive, fifo),
                   _SideWriter(pairing.side(encoded), target, enc_pipe, alive, fifo)]
        try:
            if fifo:
                proc = _start(exe, ref_pipe, enc_pipe, log, threads)
            for w in writers:
                w.start()
            _guard_both(guard, *writers)
            for w in writers:
                w.join()
            for w in writers:
                if w.error is not None:
                    raise w.error
            if writers[0].count != writers[1].count:
                raise pairing.length_mismatch(reference, encoded, writers[0].count, writers[1].count)
            if not fifo:
                proc = _start(exe, ref_pipe, enc_pipe, log, threads)
            _, stderr = proc.communicate()
            if proc.returncode != 0:
                first = (stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
                raise PreanalysisError(f"VMAF run failed ({first}): use an ffmpeg built with libvmaf"
                                       " (--ffmpeg)")
            rows = json.loads(log.read_text())["frames"]
        finally:  # on an error: stop both sides, end libvmaf, free a writer waiting to hand over a thumbnail
            for w in writers:
                w.stop.set()
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            for w in writers:
                while w.is_alive():
                    with contextlib.suppress(queue.Empty):
                        w.thumbs.get(timeout=0.05)
    if len(rows) != writers[1].count:
        raise PreanalysisError(f"libvmaf scored {len(rows)} of the {writers[1].count} frames of {encoded}:"
                               " check the ffmpeg build (--ffmpeg)")
    return FrameScores(*(np.array([r["metrics"][m] for r in rows], dtype=np.float64) for m in METRICS))


def _start(exe: str, ref: Path, enc: Path, log: Path, threads: int) -> subprocess.Popen:
    try:
        return subprocess.Popen(_libvmaf_command(exe, ref, enc, log, threads), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise PreanalysisError(f"cannot run ffmpeg {exe} ({exc.strerror}): pass --ffmpeg PATH to an ffmpeg"
                               " with libvmaf") from None


def _guard_both(guard: pairing.AlignmentGuard, ref: _SideWriter, enc: _SideWriter) -> None:
    """Run the guard over both writers' thumbnails, in step, until either side ends."""
    while True:
        r, e = ref.thumbs.get(), enc.thumbs.get()
        if r is None or e is None:
            break
        guard.add(r, e)
    for w, last in ((ref, r), (enc, e)):
        while last is not None:
            last = w.thumbs.get()
    if ref.count == enc.count and ref.error is None and enc.error is None:
        guard.finish()


def write_luma_y4m(path: Path, lumas: np.ndarray) -> None:
    """uint8 luma frames (n, h, w), h and w even, as a 4:2:0 y4m with neutral chroma (VMAF reads only luma)."""
    _, h, w = lumas.shape
    chroma = np.full(2 * (h // 2) * (w // 2), 128, np.uint8).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C420jpeg\n".encode())
        out.writelines(b"FRAME\n" + np.ascontiguousarray(y).tobytes() + chroma for y in lumas)


def luma_vmaf(reference: np.ndarray, distorted: np.ndarray, every: int = 1, threads: int = 2,
              ffmpeg: str | None = None) -> dict[str, float]:
    """Mean VMAF and VMAF-NEG of every `every`-th frame of two uint8 luma sequences (n, h, w) in memory, from one
    libvmaf run (its n_subsample: the motion feature still sees every frame).  Why here: the segment guard scores
    its encodes with the same libvmaf and models as `eval`, at a fraction of vmaf-torch's CPU time."""
    if reference.shape != distorted.shape or min(reference.shape[1:]) <= LIBVMAF_MIN_SIDE:
        raise PreanalysisError(f"libvmaf needs two sequences of equal shape, sides over {LIBVMAF_MIN_SIDE} px: "
                               f"got {reference.shape} and {distorted.shape}")
    with tempfile.TemporaryDirectory(prefix="preanalysis-vmaf-") as tmp:
        ref, dist, log = Path(tmp, "ref.y4m"), Path(tmp, "dist.y4m"), Path(tmp, "log.json")
        write_luma_y4m(ref, reference)
        write_luma_y4m(dist, distorted)
        options = f"model={_models_option()}:n_threads={threads}:n_subsample={every}:log_fmt=json:log_path={log}"
        run = subprocess.run([ffmpeg_path(ffmpeg), "-v", "error", "-nostdin", "-i", str(dist), "-i", str(ref),
                              "-lavfi", f"[0:v][1:v]libvmaf='{options}'", "-f", "null", "-"],
                             capture_output=True, text=True, check=False)
        if run.returncode or not log.is_file():
            raise PreanalysisError(f"libvmaf failed ({run.stderr.strip()[-200:]}): use an ffmpeg built with "
                                   "libvmaf (PREANALYSIS_FFMPEG)")
        pooled = json.loads(log.read_text())["pooled_metrics"]
    return {m: float(pooled[m]["mean"]) for m in MODELS}


def measure(
    reference: str | Path,
    encoded: str | Path,
    frames: int | None = None,
    ffmpeg: str | None = None,
    threads: int = 2,
) -> FrameScores:
    """VMAF, VMAF-NEG and PSNR-Y of every frame of `encoded` against the first frames of `reference`."""
    return measure_range(reference, encoded, 0, frames, ffmpeg, threads)

"""The VMAF sensitivity teacher: how much VMAF (and VMAF-NEG) each 16x16 block loses when the encoder codes it
one QP step coarser, measured with vmaf-torch on real x264 encodes (the labels the `sensitivity` student learns).

For a source segment, x264 codes it at CRF c (D0) and c + step (D1), with the settings maps are used under (own AQ
off, mbtree on).  VMAF_t is a smooth function of the distorted frame t (its motion feature reads the reference
only), so the gradient of VMAF at the midpoint D0 + (D1 - D0)/2 times (D1 - D0), summed over a block, is that
block's share of the frame's VMAF change (integrated gradients with one midpoint step, "IG1").  Measured before
this module was written: the plain gradient at D0 is useless over a QP step (VMAF is far from linear there), IG1
agrees with pasting each block of D1 into D0 and scoring (the block's true marginal loss) at r = 0.85 / 0.91 and
its block sums add up to the frame's real change.

The mapping to QP offsets: w = -dVMAF / dMSE per block (VMAF lost per unit of squared error, both 3x3-block
smoothed, floored at a fraction of the frame mean); if x264 allocates for MSE, weighting a block's distortion by w
moves it by dQP = -3 log2(w / mean).  `offsets` takes dQP = -gain (log2 w - frame mean), clipped.

libaom's tune=vmaf formulation (`aom_offsets`) is kept next to it for comparison: the source blurred (5x5
Gaussian) is the distortion, 64x64 blocks, w = MSE / dVMAF, scale = 6 (1 - e^(-0.05 w)) + 0.8, dQP = 3 log2 scale.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from ..config import AQ_OFF_PARAMS, param_string
from ..errors import PreanalysisError
from ..qpmap import QpMap
from ..video import UNIT_RATE, SourceCoding, decode, plane_pixels, probe

BLOCK = 16
ANCHOR_PARAMS = AQ_OFF_PARAMS  # x264 as maps are used (own AQ off, mbtree on)
MAX_WIDTH = 640  # wider sources are downscaled by a power of two first (the teacher costs ~ pixels)
LOG_CLIP = 3.0  # |centred log2 w| beyond this is noise of a ratio of small numbers, not information
# libvmaf's motion filter (feature/motion.c FILTER_5), applied separably with mirrored borders.
VMAF_BLUR = np.array([0.054488685, 0.244201342, 0.402619947, 0.244201342, 0.054488685], np.float32)
VERSION = 2  # bump when what a cached teaching means changes (2: x264's own frame types, regular frame times)


def teacher_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """Even size after the smallest power-of-two downscale that fits max_width."""
    factor = 1 << max(0, math.ceil(math.log2(width / max_width)))
    return max(16, width // factor // 2 * 2), max(16, height // factor // 2 * 2)


def source_frames(path: str | Path, start: int, stop: int, size: tuple[int, int]) -> list[av.VideoFrame]:
    """Frames [start, stop) as yuv420p at `size` (what the teacher's encodes and VMAF's reference see)."""
    out = []
    for i, d in enumerate(decode(path, start, stop)):
        f = d.frame.reformat(width=size[0], height=size[1], format="yuv420p")
        f.pts = i
        out.append(f)
    if len(out) < 2:
        raise PreanalysisError(f"{path} has {len(out)} frame(s) in {start}..{stop}: the teacher needs at least 2")
    return out


def luma_of(frame: av.VideoFrame) -> np.ndarray:
    p = frame.planes[0]
    return plane_pixels(p).copy()


# encoder -> (PyAV codec, decoder, its params option, params it always gets).  x265: one thread pool and one frame
# thread, so a segment codes to the same stream every time (as x264 with threads=1).
CODERS = {"x264": ("libx264", "h264", "x264-params", ""),
          "x265": ("libx265", "hevc", "x265-params", "log-level=error:pools=1:frame-threads=1")}


def _repeatable(encoder: str) -> str:
    """x264 without its AVX-512 code where the CPU has it, as the x264 adapter codes (repeatable_asm): with it the
    same frames do not always code to the same stream, and the segment guard's verdicts, so the maps, would change
    from run to run.  It comes first in the params: an `asm` the caller names wins."""
    if encoder != "x264":
        return ""
    from encoder_adapters.pyav.x264 import repeatable_asm

    return param_string(repeatable_asm())


def encode_decode(frames: list[av.VideoFrame], crf: float, qp: list[QpMap] | None = None,
                  params: str = ANCHOR_PARAMS, preset: str = "medium", encoder: str = "x264",
                  rate: Fraction = UNIT_RATE) -> tuple[np.ndarray, int]:
    """Encode the frames with `encoder` (x264 or x265) at `crf` (with each frame's QP map as ROI side data, when
    given) and `rate` frames per second, and decode them again: (the Y planes as the encoder degrades them
    (frames, H, W) uint8 in display order, paired with the source by index; the stream's bits)."""
    if encoder not in CODERS:
        raise PreanalysisError(f"cannot code with {encoder!r}: use one of {', '.join(CODERS)}")
    codec, decoder, option, fixed = CODERS[encoder]
    first = frames[0]
    enc = av.CodecContext.create(codec, "w")
    enc.width, enc.height, enc.pix_fmt = first.width, first.height, "yuv420p"
    enc.time_base, enc.framerate = 1 / Fraction(rate), Fraction(rate)
    enc.options = {"crf": f"{crf:g}", "preset": preset,
                   option: ":".join(p for p in (_repeatable(encoder), params, fixed) if p),
                   **({"threads": "1"} if encoder == "x264" else {})}
    # A decoded frame carries its type, which libx264 would force (every frame of a y4m source an I frame), and its
    # decoder's time base, in which pts 0, 1, 2 ... are microseconds apart (x264's frame durations, so its mbtree,
    # go wrong): the encodes must code as the encodes they stand for, at regular frame times, in x264's own types.
    for i, f in enumerate(frames):
        f.pts, f.time_base, f.pict_type = i, enc.time_base, av.video.frame.PictureType.NONE
    if qp is not None:
        from encoder_adapters.pyav.roi_sidedata import attach_qp_map

        for f, q in zip(frames, qp, strict=True):  # x265: on every frame (its wrapper crashes if ROI comes and goes)
            attach_qp_map(f, q, keep_zero=encoder == "x265")
    dec = av.CodecContext.create(decoder, "r")
    out: list[np.ndarray] = []
    bits = 0
    for f in [*frames, None]:
        for packet in enc.encode(f):
            bits += 8 * packet.size
            out += [luma_of(g) for g in dec.decode(packet)]
    out += [luma_of(g) for g in dec.decode(None)]
    if len(out) != len(frames):
        raise PreanalysisError(f"{encoder} gave {len(out)} frames for {len(frames)}: cannot pair by index")
    return np.stack(out), bits


def x264_luma(frames: list[av.VideoFrame], crf: float, params: str = ANCHOR_PARAMS, preset: str = "medium") -> np.ndarray:
    """encode_decode's Y planes with x264, without a map."""
    return encode_decode(frames, crf, None, params, preset)[0]


def blurred(y: np.ndarray) -> np.ndarray:
    k = VMAF_BLUR.reshape(1, -1)
    return cv2.sepFilter2D(y.astype(np.float32), -1, k, k.T, borderType=cv2.BORDER_REFLECT_101)


def vmaf_motion2(ref: np.ndarray) -> np.ndarray:
    """libvmaf's motion2 per frame of a (frames, H, W) reference (frame 0: 0, the last: its backward difference)."""
    b = [blurred(f) for f in ref]
    d = np.array([float(np.mean(np.abs(b[t] - b[t - 1]))) for t in range(1, len(b))])
    m = np.zeros(len(b))
    if len(d):
        m[1:-1] = np.minimum(d[:-1], d[1:])
        m[-1] = d[-1]
    return m


def block_sum(x: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Sum over each block of the last two axes (edge blocks sum what they have)."""
    h, w = x.shape[-2:]
    rows, cols = -(-h // block), -(-w // block)
    p = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, rows * block - h), (0, cols * block - w)])
    return p.reshape(*x.shape[:-2], rows, block, cols, block).sum(axis=(-3, -1))


class VmafGradient:
    """Per-frame VMAF (or VMAF-NEG) of dist against ref and its gradient with respect to dist, batched."""

    def __init__(self, neg: bool = False, device: str | torch.device | None = None, batch: int = 4):
        try:
            from vmaf_torch import VMAF
        except ImportError:
            raise PreanalysisError("the sensitivity teacher needs vmaf-torch: pip install vmaf-torch") from None
        self.neg = neg
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = VMAF(NEG=neg).to(self.device).eval()
        self.batch = batch if self.device.type == "cpu" else 32

    def _score(self, r: torch.Tensor, d: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        adm = self.model.compute_adm_score(r, d)
        vif = self.model.compute_vif_features(r, d)
        return self.model.predict(adm, motion, vif).flatten()

    def _tensors(self, ref, dist, motion, a):
        r = torch.from_numpy(np.asarray(ref[a:a + self.batch], np.float32))[:, None].to(self.device)
        d = torch.from_numpy(np.asarray(dist[a:a + self.batch], np.float32))[:, None].to(self.device)
        m = torch.tensor(np.asarray(motion[a:a + self.batch]), dtype=torch.float32, device=self.device)[:, None]
        return r, d, m

    def gradient(self, ref: np.ndarray, dist: np.ndarray, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores (N,), d score / d dist (N, H, W) float32)."""
        scores, grads = [], []
        for a in range(0, len(ref), self.batch):
            r, d, m = self._tensors(ref, dist, motion, a)
            d.requires_grad_(True)
            s = self._score(r, d, m)
            (g,) = torch.autograd.grad(s.sum(), d)
            scores.append(s.detach().cpu().numpy())
            grads.append(g[:, 0].cpu().numpy())
        return np.concatenate(scores), np.concatenate(grads)

    @torch.no_grad()
    def scores(self, ref: np.ndarray, dist: np.ndarray, motion: np.ndarray) -> np.ndarray:
        out = []
        for a in range(0, len(ref), self.batch):
            out.append(self._score(*self._tensors(ref, dist, motion, a)).cpu().numpy())
        return np.concatenate(out)

    def midpoint_attribution(self, ref: np.ndarray, d0: np.ndarray, d1: np.ndarray, motion: np.ndarray) -> np.ndarray:
        """IG1: per-pixel share (N, H, W) of VMAF(d1) - VMAF(d0), the gradient at the midpoint times d1 - d0."""
        diff = d1.astype(np.float32) - d0.astype(np.float32)
        _, g = self.gradient(ref, d0.astype(np.float32) + 0.5 * diff, motion)
        return g * diff


@dataclass
class Teaching:
    """The teacher's measurements of one segment, per frame and 16x16 block (frames, rows, cols)."""

    dv: dict[str, np.ndarray]  # metric (vmaf, neg) -> the block's score change from CRF c to c + step (<= 0)
    dmse: np.ndarray  # the block's squared-error change (per pixel) over the same step
    dbits: np.ndarray  # the block's bit change predicted by the rate model (allocate.block_complexity)
    size: tuple[int, int]  # (width, height) the teacher measured at
    seconds_per_frame: float  # the teacher's cost per scored frame and metric, on the device it ran on

    def log_weight(self, metric: str = "neg", per: str = "mse") -> np.ndarray:
        """Centred log2 of w = -dV/dMSE per block (per="bits": -dV per bit the rate model says the step
        saves), clipped to +-LOG_CLIP (the student's target is the mse reading)."""
        if metric not in self.dv:
            raise PreanalysisError(f"the teaching holds {sorted(self.dv)}, not {metric!r}: teach that metric")
        if per not in ("mse", "bits"):
            raise PreanalysisError(f"teacher reading {per!r} is not known: use mse or bits")
        return centred_log_weight(self.dv[metric], self.dmse if per == "mse" else -self.dbits)


def _smooth(x: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.blur(f.astype(np.float64), (size, size), borderType=cv2.BORDER_REPLICATE) for f in x])


def log_ratio(num: np.ndarray, den: np.ndarray, smooth: int = 3, floor: float = 0.05) -> np.ndarray:
    """log2(num / den) per block (frames, rows, cols): both clamped >= 0, 3x3-smoothed, floored per frame."""
    n = _smooth(np.maximum(num, 0.0), smooth)
    d = _smooth(np.maximum(den, 0.0), smooth)
    n = np.maximum(n, floor * n.mean(axis=(1, 2), keepdims=True) + 1e-12)
    d = np.maximum(d, floor * d.mean(axis=(1, 2), keepdims=True) + 1e-12)
    return np.log2(n / d)


def centred_log_weight(dv: np.ndarray, den: np.ndarray) -> np.ndarray:
    """log2 of w = -dv / den per block, centred per frame and clipped to +-LOG_CLIP (the student's target)."""
    lw = log_ratio(-dv, den)
    return np.clip(lw - lw.mean(axis=(1, 2), keepdims=True), -LOG_CLIP, LOG_CLIP)


def offsets(log_weight: np.ndarray, gain: float, bound: float = 6.0) -> np.ndarray:
    """dQP = -gain (log2 w - frame mean), clipped to +-bound: more bits where VMAF is more sensitive."""
    from ..allocate import sensitivity_offsets

    return np.clip(sensitivity_offsets(log_weight, gain), -bound, bound)


def _file_key(path: Path, *parts) -> str:
    st = path.stat()
    text = json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns, VERSION, *parts], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def scored_rows(n: int, every: int) -> tuple[np.ndarray, np.ndarray]:
    """(the scored frames of n: every `every`-th, each frame's row among them: the frames between take the
    last scored one's teaching)."""
    return np.arange(0, n, every), np.arange(n) // every


def _measure(coded: tuple[np.ndarray, np.ndarray], ref: np.ndarray, pick: np.ndarray,
             gradients: dict[str, VmafGradient], block: int) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """From the decoded Y planes at CRF crf and crf + step (`coded`), per block of the `pick`ed frames: each
    gradient's IG1 score change, the squared-error change (per pixel), and the gradients' seconds per picked frame
    and metric."""
    d0, d1 = coded[0][pick], coded[1][pick]
    motion = vmaf_motion2(ref)[pick]
    r = ref[pick]
    t0 = time.perf_counter()
    dv = {m: block_sum(vg.midpoint_attribution(r, d0, d1, motion), block) for m, vg in gradients.items()}
    seconds = (time.perf_counter() - t0) / len(pick) / max(1, len(gradients))
    rf = r.astype(np.float32)
    return dv, block_sum((d1 - rf) ** 2 - (d0 - rf) ** 2, block) / block**2, seconds


def teach(path: str | Path, start: int, stop: int, crf: float = 27, step: float = 5, max_width: int = MAX_WIDTH,
          every: int = 1, metrics: tuple[str, ...] = ("vmaf", "neg"), device: str | None = None,
          cache: Path | None = None) -> Teaching:
    """Run the teacher on frames [start, stop) of a clip: encodes of every frame, VMAF gradients of every
    `every`-th frame (the frames between repeat the last scored one); cached in `cache` when given."""
    from ..allocate import block_complexity

    path = Path(path)
    key = _file_key(path, start, stop, crf, step, max_width, every, sorted(metrics))
    target = cache / f"teach-{key}.npz" if cache else None
    if target is not None and target.is_file():
        d = np.load(target)
        return Teaching({m: d[f"dv_{m}"] for m in metrics}, d["dmse"], d["dbits"],
                        tuple(int(v) for v in d["size"]), float(d["seconds_per_frame"]))
    info = probe(path)
    size = teacher_size(info.width, info.height, max_width)
    unknown = sorted(set(metrics) - {"vmaf", "neg"})
    if unknown:
        raise PreanalysisError(f"teacher metric {unknown[0]!r} is not known: use vmaf or neg")
    frames = source_frames(path, start, stop, size)
    ref = np.stack([luma_of(f) for f in frames])
    pick, spread = scored_rows(len(ref), every)
    gradients = {m: VmafGradient(m == "neg", device) for m in metrics}
    coded = (x264_luma(frames, crf), x264_luma(frames, crf + step))
    dv, dmse, seconds = _measure(coded, ref, pick, gradients, BLOCK)
    # Rate model (allocate.py): bits ~ complexity * 2^(-dQP/6), so `step` QP coarser changes a block's bits so.
    comp = np.stack([block_complexity(f / 255.0, size[0], size[1]) for f in ref[pick]])
    dbits = comp * (2.0 ** (-step / 6) - 1)
    t = Teaching({m: v[spread] for m, v in dv.items()}, dmse[spread], dbits[spread], size, seconds)
    if target is not None:
        from ..io import atomic_output

        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp, open(tmp, "wb") as f:
            np.savez(f, **{f"dv_{m}": v for m, v in t.dv.items()}, dmse=t.dmse, dbits=t.dbits,
                     size=np.array(size), seconds_per_frame=np.array(seconds))
    return t


def even_uint8(luma: np.ndarray) -> np.ndarray:
    """Analysis luma (floats in [0, 1]) -> uint8 cut to even height and width (what x264's 4:2:0 codes)."""
    h, w = luma.shape
    return (np.clip(luma[: h // 2 * 2, : w // 2 * 2], 0, 1) * 255).round().astype(np.uint8)


def yuv_frames(lumas: np.ndarray, chroma: np.ndarray | None = None) -> list[av.VideoFrame]:
    """uint8 luma frames (n, h, w), h and w even, as yuv420p frames (what x264 codes): with neutral chroma, or the
    frames' own (chroma: uint8 (n, 2, h / 2, w / 2), U then V, as video.shrink_chroma gives them)."""
    n, h, w = lumas.shape
    planes = np.full((n, h * 3 // 2, w), 128, np.uint8)
    planes[:, :h] = lumas
    if chroma is not None:  # yuv420p's layout: U then V, each (h / 2, w / 2), packed two rows per row of width w
        planes[:, h:] = chroma.reshape(n, h // 2, w)
    return [av.VideoFrame.from_ndarray(p, format="yuv420p") for p in planes]


_CODED: OrderedDict[tuple, tuple[np.ndarray, int]] = OrderedDict()
_CODED_LOCK = threading.Lock()
CODED_KEEP = 2  # remembered no-map encodes: a segment's two CRFs


def forget_coded() -> None:
    """Drop the remembered no-map encodes (code_lumas): once a segment is judged (pipeline.reallocate), or to time
    the guard alone."""
    with _CODED_LOCK:
        _CODED.clear()


def code_lumas(lumas: np.ndarray, crf: float, qp: list[QpMap] | None = None, encoder: str = "x264",
               keep: bool = True, params: str = ANCHOR_PARAMS, source: SourceCoding | None = None
               ) -> tuple[np.ndarray, int]:
    """encode_decode of uint8 luma frames (n, h, w) with neutral chroma at 25 fps, or with the source's chroma at
    its rate (source).  Without a map the last CODED_KEEP results
    are remembered by the frames' content: the segment guard (preanalysis.verify) codes the segment the teacher
    has just coded, at the same CRFs and settings, and the encoder on one thread gives the same stream again, so
    it re-uses them instead of paying for two more encodes.  keep=False (the guard, the last user): a remembered
    result is handed over and forgotten, a fresh one is not remembered, so nothing stays in memory after the
    guard.  params: the encoder's settings (x264-params / x265-params), part of what is remembered.  The decoded
    planes returned are read-only."""
    chroma, rate = (None, UNIT_RATE) if source is None else (source.chroma, source.rate)
    if qp is not None:
        return encode_decode(yuv_frames(lumas, chroma), crf, qp, params=params, encoder=encoder, rate=rate)
    key = (hashlib.sha1(np.ascontiguousarray(lumas)).hexdigest(), lumas.shape, float(crf), encoder, params,
           None if source is None else source.key())
    with _CODED_LOCK:
        hit = _CODED.get(key) if keep else _CODED.pop(key, None)
        if hit is not None:
            if keep:
                _CODED.move_to_end(key)
            return hit
    decoded, bits = encode_decode(yuv_frames(lumas, chroma), crf, params=params, encoder=encoder, rate=rate)
    decoded.setflags(write=False)
    if keep:
        with _CODED_LOCK:
            _CODED[key] = (decoded, bits)
            while len(_CODED) > CODED_KEEP:
                _CODED.popitem(last=False)
    return decoded, bits


def teach_lumas(lumas: np.ndarray, vg: VmafGradient | Sequence[VmafGradient], block: int = BLOCK,
                pick: np.ndarray | None = None, crf: float = 27, step: float = 5, source: SourceCoding | None = None
                ) -> np.ndarray:
    """The teacher on consecutive luma frames (uint8 (n, h, w), h and w even; coded grey at 25 fps, or as the
    source has them: see code_lumas): x264 codes them all at CRF crf and crf + step, the IG1 VMAF attribution of
    the `pick`ed frames (default all) per block gives each one's centred, clipped log2 weight w = -dV / dMSE,
    (len(pick), rows, cols): the student's target.  With several
    gradients (VMAF and VMAF-NEG) the weight is the mean of theirs, on the same encodes."""
    pick = np.arange(len(lumas)) if pick is None else np.asarray(pick)
    gradients = [vg] if isinstance(vg, VmafGradient) else list(vg)
    coded = (code_lumas(lumas, crf, source=source)[0], code_lumas(lumas, crf + step, source=source)[0])
    dv, dmse, _ = _measure(coded, lumas, pick, dict(enumerate(gradients)), block)
    return np.mean([centred_log_weight(v, dmse) for v in dv.values()], axis=0).astype(np.float32)


def teach_last(lumas: np.ndarray, vg: VmafGradient | Sequence[VmafGradient], block: int = BLOCK,
               source: SourceCoding | None = None) -> np.ndarray:
    """teach_lumas for the last frame only (rows, cols): the frames as they arrive, no lookahead."""
    return teach_lumas(lumas, vg, block, np.array([len(lumas) - 1]), source=source)[0]


# ---------------------------------------------------------------- libaom's formulation, for comparison


def aom_block_weights(vg: VmafGradient, ref: np.ndarray, motion: np.ndarray, block: int = 64, sigma: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """libaom tune=vmaf's sensitivity with its per-block forward passes replaced by IG1: the source blurred
    (5x5 Gaussian) is the distortion; (dVMAF, MSE) per `block`-px block, (frames, rows, cols) each."""
    soft = np.stack([cv2.GaussianBlur(f, (5, 5), sigma, borderType=cv2.BORDER_REFLECT_101) for f in ref])
    dv = block_sum(vg.midpoint_attribution(ref, ref, soft, motion), block)
    mse = block_sum((soft.astype(np.float32) - ref.astype(np.float32)) ** 2, block) / block**2
    return dv, mse


def aom_offsets(dv: np.ndarray, mse: np.ndarray, grid: tuple[int, int], gain: float = 1.0, factor: int = 4,
                eps: float = 1e-4) -> np.ndarray:
    """libaom's mapping as x264 offsets: dQP = gain * 3 log2(scale), mean zero per frame, each 64-px block's
    value spread over its 16-px blocks and cut to `grid` (rows, cols)."""
    w = mse / np.maximum(-dv, eps)
    scale = 6.0 * (1.0 - np.exp(-0.05 * w)) + 0.8
    q = gain * 3.0 * np.log2(scale)
    q = q - q.mean(axis=(1, 2), keepdims=True)
    q = np.repeat(np.repeat(q, factor, axis=1), factor, axis=2)
    return q[:, : grid[0], : grid[1]]


def teach_aom(path: str | Path, start: int, stop: int, max_width: int = MAX_WIDTH, every: int = 1,
              device: str | None = None) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """libaom's (dVMAF, MSE) per 64-px block of frames [start, stop) (every `every`-th frame scored, the frames
    between repeat it), and the size measured at."""
    info = probe(path)
    size = teacher_size(info.width, info.height, max_width)
    ref = np.stack([luma_of(f) for f in source_frames(path, start, stop, size)])
    pick, spread = scored_rows(len(ref), every)
    dv, mse = aom_block_weights(VmafGradient(False, device), ref[pick], vmaf_motion2(ref)[pick])
    return dv[spread], mse[spread], size

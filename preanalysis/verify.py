"""The segment guard (allocate.verify): a segment's QP offsets are checked by real encodes before they are used.

x264 (or x265: allocate.verify_encoder, the encoder the map is for) codes the segment at two CRFs with and without
the offsets, with the settings maps are used under (own AQ off, mbtree on, medium; the two without are the VMAF
teacher's, remembered by teacher_vmaf.code_lumas, when it has just coded the segment): its analysis luma with the
offsets averaged onto the analysis blocks, or native samples of the source with the offsets as the encoder gets
them (allocate.verify_resolution).  VMAF and VMAF-NEG score every EVERY-th frame (allocate.verify_scorer: libvmaf,
eval's own, both models in one ffmpeg run; or vmaf-torch on the analysis device, ~14x libvmaf's CPU time).  The
estimate is the worse of the two two-point BD-rates (the issue judges both metrics, and bounds each clip on VMAF);
the segment keeps its map only where the estimate is below -margin (allocate.verify_margin, %), else it is coded
without it.  With allocate.verify_gains the guard also codes the maps of other student gains and keeps whichever
candidate has the lowest estimate (the encodes without a map are shared).  Why: a map that earns bits on the mean
can still cost bits on one kind of footage (the student lost +7 % VMAF on a screen recording, the teacher +1.03 %
on an underwater clip), and no rule fitted on other clips predicts which; the encoder itself, run on the segment,
might.  Measured (docs/results.md, docs/models.md): on in
the default (it lifted the default from -2.93 to -3.55 % VMAF BD against x264 with AQ off on eight blind cuts) and
in vmaf-teacher (it dropped the one losing map of eight blind clips); a margin fitted as its worst optimism on fit
clips (17.9 %) dropped every map.  It also catches maps that waste bits outright (tests/test_verify.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .qpmap import BLOCK, QpMap, grid_shape

if TYPE_CHECKING:
    from .video import SourceCoding

CRFS = (27.0, 32.0)  # the teacher's two points: the middle of the CRF 22-37 range maps are measured over
EVERY = 4  # scored frames: every 4th, as the teacher scores (allocate.verify_every)
SAMPLE_PIXELS = 640 * 352  # native samples: the whole frame up to this many pixels, else four tiles of TILE blocks
TILE = (20, 11)  # 320x176 px: four make a 640x352 mosaic
WORKERS = 2  # the guard's encodes coded and scored at once with libvmaf (each encoder on one thread)
log = logging.getLogger(__name__)


METRICS = ("vmaf", "neg")


@dataclass(frozen=True)
class Verdict:
    """What the guard measured on one segment: each candidate map's two-point BD-rate per metric (%, negative =
    saves bits) and the candidate kept (None: the segment is coded without a map).  A candidate's estimate is the
    worse of its metrics; the lowest estimate wins where it is below -margin."""

    estimates: tuple[dict[str, float], ...]
    choice: int | None
    plain: dict[str, float] = field(default_factory=dict)  # the scores without a map at the upper CRF ({}: none)

    @property
    def keep(self) -> bool:
        return self.choice is not None

    @property
    def bd_rates(self) -> dict[str, float]:
        """The kept candidate's BD-rates, else the best candidate's ({} when nothing was measured)."""
        if not self.estimates:
            return {}
        return self.estimates[self.choice if self.keep else best(self.estimates)]

    @property
    def bd_rate(self) -> float:
        return max(self.bd_rates.values(), default=0.0)


def saves(estimate: Sequence[float], margin: float) -> bool:
    """The guard's test of an estimate (VMAF, VMAF-NEG BD-rate %): it keeps a map only where the worse of the two
    saves more than `margin` percent of rate."""
    return max(estimate) < -margin


def best(estimates: Sequence[dict[str, float]]) -> int:
    """The candidate with the lowest estimate (the worse of its metrics)."""
    return min(range(len(estimates)), key=lambda i: max(estimates[i].values()))


@dataclass(frozen=True)
class GuardSettings:
    """How the guard codes and scores a segment (allocate.verify_*): the analysis device (vmaf-torch), the margin
    (%), the encoder and its settings (None: the anchor's, own AQ off), the scorer, every how many frames it
    scores, its two CRFs, and its VMAF ceiling (0: none)."""

    device: str = "auto"
    margin: float = 0.0
    encoder: str = "x264"
    scorer: str = "libvmaf"
    params: str | None = None
    every: int = EVERY
    crfs: tuple[float, float] = CRFS
    ceiling: float = 0.0

    @classmethod
    def of(cls, config) -> GuardSettings:
        """A config's guard; with allocate.verify_params encode the anchor's settings are followed by the config's
        own encoder parameters (later ones win)."""
        from .config import AQ_OFF, param_string

        a = config.allocate
        merged = {**AQ_OFF, **(config.encode.params(a.guard_encoder) if a.verify_params == "encode" else {})}
        params = None if merged == AQ_OFF else param_string(merged)
        return cls(config.analysis.device, a.verify_margin, a.guard_encoder, a.verify_scorer, params, a.verify_every,
                   tuple(a.verify_crfs), a.verify_ceiling)


def two_point_bd_rate(rate0: tuple[float, float], score0: tuple[float, float], rate1: tuple[float, float],
                      score1: tuple[float, float]) -> float:
    """Rate change (%) of curve 1 against curve 0 at equal score, each curve the line through its two points in
    (score, log rate): the log-rate difference averaged over the scores both span (linear in the score, so its
    value at the middle of that span); where the spans do not overlap, at the middle of the gap between them."""
    lo = max(min(score0), min(score1))
    hi = min(max(score0), max(score1))
    middle = 0.5 * (lo + hi)

    def log_rate(rate, score):
        lr = np.log(rate)
        if score[0] == score[1]:
            return float(lr.mean())
        return float(lr[0] + (middle - score[0]) * (lr[1] - lr[0]) / (score[1] - score[0]))

    return float(100.0 * (np.exp(log_rate(rate1, score1) - log_rate(rate0, score0)) - 1.0))


def analysis_maps(offsets: np.ndarray, shape: tuple[int, int]) -> list[QpMap]:
    """Offsets on the encode's block grid (frames, rows, cols) -> QP maps of the analysis frames (h, w): the
    area mean of the offsets each 16-px analysis block covers, rounded."""
    h, w = shape
    rows, cols = grid_shape(w, h)
    return [QpMap(np.round(cv2.resize(o.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA)
                           ).astype(np.int8), w, h) for o in offsets]


@cache
def _scorer(device: str, metric: str):
    """VMAF or VMAF-NEG on the analysis device setting (auto: CUDA when present), loaded once per process."""
    from .learning.teacher_vmaf import VmafGradient
    from .learning.weights import pick_device

    return VmafGradient(neg=metric == "neg", device=pick_device(device))


def mean_scores(lumas: np.ndarray, decoded: np.ndarray, scorer: str = "libvmaf", device: str = "auto",
                every: int = EVERY) -> dict[str, float]:
    """Mean VMAF and VMAF-NEG (METRICS) of every EVERY-th decoded frame: by libvmaf (one ffmpeg run for both
    models, the motion feature from every frame; the CPU's choice) or vmaf-torch (on the analysis device)."""
    if scorer == "libvmaf":
        from eval.metrics import luma_vmaf

        means = luma_vmaf(lumas, decoded, every)
        return {"vmaf": means["vmaf"], "neg": means["vmaf_neg"]}
    from .learning.teacher_vmaf import vmaf_motion2

    pick = np.arange(0, len(lumas), every)
    motion = vmaf_motion2(lumas)[pick]
    return {m: float(_scorer(device, m).scores(lumas[pick], decoded[pick], motion).mean()) for m in METRICS}


def measure(lumas: np.ndarray, candidates: Sequence[list[QpMap]], guard: GuardSettings | None = None,
            source: SourceCoding | None = None) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Each candidate map's two-point BD-rate (%) per metric (of METRICS) on uint8 luma frames (n, h, w), h and w
    even (grey at 25 fps, or with the source's chroma at its rate: source), coded and scored as `guard` says,
    every candidate compared with the same encodes without a map; and the scores of the encode without a map at
    the upper CRF."""
    g = guard or GuardSettings()

    def code_and_score(job: tuple[list[QpMap] | None, float]) -> tuple[int, dict[str, float]]:
        qp, crf = job
        return coded_scores(lumas, crf, qp, g, source)

    # Each encode runs on one thread (the same stream every time), so several at once give the same figures
    # sooner; vmaf-torch scores one at a time (it has the analysis device's threads to itself).
    jobs = [(qp, crf) for qp in (None, *candidates) for crf in g.crfs]
    with ThreadPoolExecutor(WORKERS if g.scorer == "libvmaf" else 1) as pool:
        points = list(pool.map(code_and_score, jobs))
    curves = []
    for start in range(0, len(points), len(g.crfs)):
        curve = points[start:start + len(g.crfs)]
        curves.append((tuple(bits for bits, _ in curve), {m: tuple(s[m] for _, s in curve) for m in METRICS}))
    (rate0, score0), *mapped = curves
    return ([{m: two_point_bd_rate(rate0, score0[m], rate1, score1[m]) for m in METRICS} for rate1, score1 in mapped],
            {m: score0[m][-1] for m in METRICS})


def coded_scores(frames: np.ndarray, crf: float, qp: list[QpMap] | None, guard: GuardSettings,
                 source: SourceCoding | None = None) -> tuple[int, dict[str, float]]:
    """The bits and the VMAF and VMAF-NEG (METRICS) of uint8 frames (n, h, w) (coded as `source`, see measure)
    coded at `crf` with the QP maps `qp` (None: without a map, the teacher's encodes when it has just coded them)
    with the guard's encoder, settings and scorer; the decoded frames are then dropped."""
    from .learning.teacher_vmaf import ANCHOR_PARAMS, code_lumas

    decoded, bits = code_lumas(frames, crf, qp, guard.encoder, keep=False, params=guard.params or ANCHOR_PARAMS,
                               source=source)
    return bits, mean_scores(frames, decoded, guard.scorer, guard.device, guard.every)


def plain_scores(frames: np.ndarray, guard: GuardSettings) -> dict[str, float]:
    """VMAF and VMAF-NEG of uint8 frames (n, h, w) coded without a map at the guard's upper CRF."""
    return coded_scores(frames, guard.crfs[-1], None, guard)[1]


def middle(length: int, frames: int) -> slice:
    """The frames of a segment of `length` the guard codes: the middle `frames` of them (all when 0 or more than
    there are).  Why the middle: away from the cuts, where a window of a scene looks most like the rest of it."""
    if not frames or frames >= length:
        return slice(0, length)
    start = (length - frames) // 2
    return slice(start, start + frames)


@dataclass(frozen=True)
class NativeSample:
    """What the guard codes of a source frame with allocate.verify_resolution native: the source's own luma, on
    the encode's 16-px grid, so the encoder sees the offsets exactly as it will.  The whole frame when it has at
    most SAMPLE_PIXELS (allocate.verify_whole_pixels); else four block-aligned tiles of TILE (allocate.verify_tile)
    blocks, one in the middle of each quadrant, side by side (a 2x2 mosaic): a bounded cost whatever the source's
    size."""

    width: int  # the source's
    height: int
    tiles: tuple[tuple[int, int], ...] = ()  # (block x, block y) of the tiles' corners; () = the whole frame
    tile: tuple[int, int] = (0, 0)  # a tile's size in blocks (columns, rows)

    @classmethod
    def for_frame(cls, width: int, height: int, tile: Sequence[int] = TILE, whole_pixels: int = SAMPLE_PIXELS
                  ) -> NativeSample:
        """The sample of a width x height source; tile: a tile's size in blocks (allocate.verify_tile);
        whole_pixels: the largest frame sampled whole (allocate.verify_whole_pixels)."""
        if width * height <= whole_pixels:
            return cls(width, height)
        cols, rows = width // BLOCK, height // BLOCK  # whole blocks only
        tw, th = min(tile[0], cols // 2), min(tile[1], rows // 2)
        tiles = tuple((qx * (cols // 2) + (cols // 2 - tw) // 2, qy * (rows // 2) + (rows // 2 - th) // 2)
                      for qy in (0, 1) for qx in (0, 1))
        return cls(width, height, tiles, (tw, th))

    @classmethod
    def of(cls, width: int, height: int, allocate) -> NativeSample:
        """The sample a config's guard codes of a width x height source (allocate.verify_tile, verify_whole_pixels)."""
        return cls.for_frame(width, height, allocate.verify_tile, allocate.verify_whole_pixels)

    def luma(self, y: np.ndarray) -> np.ndarray:
        """The sample of a source Y plane (uint8 (height, width)): a new uint8 array, even sides."""
        if not self.tiles:
            return y[: self.height // 2 * 2, : self.width // 2 * 2].copy()
        (tw, th), b = self.tile, BLOCK
        parts = [y[by * b:(by + th) * b, bx * b:(bx + tw) * b] for bx, by in self.tiles]
        return np.block([[parts[0], parts[1]], [parts[2], parts[3]]])

    def qp_map(self, offsets: np.ndarray) -> QpMap:
        """The sample's QP map from the frame's offsets on the encode grid (rows, cols)."""
        if not self.tiles:
            w, h = self.width // 2 * 2, self.height // 2 * 2
            rows, cols = grid_shape(w, h)
            return QpMap(np.ascontiguousarray(offsets[:rows, :cols]), w, h)
        tw, th = self.tile
        parts = [offsets[by:by + th, bx:bx + tw] for bx, by in self.tiles]
        return QpMap(np.block([[parts[0], parts[1]], [parts[2], parts[3]]]), 2 * tw * BLOCK, 2 * th * BLOCK)


def verify(lumas: list[np.ndarray], candidates: Sequence[np.ndarray], guard: GuardSettings | None = None,
           ceiling_samples: list[np.ndarray] | None = None, source: SourceCoding | None = None) -> Verdict:
    """The guard on one segment at analysis resolution: analysis lumas (floats in [0, 1]) and one or more
    candidate offsets on the encode's grid (each (frames, rows, cols)), area-averaged onto the analysis blocks
    (see judge); with ceiling_samples (the frames' native samples, allocate.verify_ceiling_native) the ceiling
    compares their score instead; with source (the frames' chroma and the source's rate: analysis.code_source) the
    encodes code the frames as the source has them, else grey at 25 fps.  Candidates without offsets, or a segment
    of one frame, are kept as they are (nothing to measure)."""
    if not any(np.any(c) for c in candidates) or len(lumas) < 2:
        return Verdict((), 0)
    from .learning.teacher_vmaf import even_uint8

    frames = np.stack([even_uint8(y) for y in lumas])
    return judge(frames, [analysis_maps(c, frames.shape[1:]) for c in candidates], guard or GuardSettings(),
                 "at analysis resolution" + (f" as the source (its chroma, {float(source.rate):g} fps)"
                                             if source else ""),
                 None if ceiling_samples is None else np.stack(ceiling_samples), source)


def verify_native(samples: list[np.ndarray], candidates: Sequence[np.ndarray], sample: NativeSample,
                  guard: GuardSettings | None = None, source: SourceCoding | None = None) -> Verdict:
    """The guard on one segment on native samples (NativeSample.luma of each source frame) with the frames'
    candidate offsets on the encode's grid, exactly as the encoder gets them (see judge); source: the source's frame
    rate to code them at (its chroma is None: the samples are luma)."""
    if not any(np.any(c) for c in candidates) or len(samples) < 2:
        return Verdict((), 0)
    return judge(np.stack(samples), [[sample.qp_map(o) for o in c] for c in candidates], guard or GuardSettings(),
                 "on native samples" + (f" at {float(source.rate):g} fps" if source else ""), source=source)


def judge(frames: np.ndarray, candidates: list[list[QpMap]], guard: GuardSettings, where: str,
          ceiling_frames: np.ndarray | None = None, source: SourceCoding | None = None) -> Verdict:
    """uint8 frames (n, h, w), h and w even, and the QP maps of each candidate, coded by `encoder` (the one the
    map is for: x264 or x265) with its settings and scored as `guard` says; the candidate with the
    lowest estimated BD-rate is kept where that is below -margin (%), unless the segment coded without a map at the
    upper CRF already scores at least the guard's ceiling (VMAF; 0 = none): on such easy content VMAF's curve over
    rate is flat, so the map's small VMAF changes are large rate changes, and there the maps that lost on blind
    cuts were (docs/splits.md, 20:22 of 2026-11-30).  With ceiling_frames (uint8 native samples of the same frames)
    the ceiling compares their score, coded once more without a map at the upper CRF: the analysis luma of a large
    source reads several VMAF lower than the source itself.  With source the encodes code the frames as the source
    has them (see measure; the ceiling's native encode stays grey at 25 fps, as the ceiling was chosen).  Frames too
    small for libvmaf are coded without a map."""
    from eval.metrics import LIBVMAF_MIN_SIDE

    if guard.scorer == "libvmaf" and min(frames.shape[1:]) <= LIBVMAF_MIN_SIDE:
        log.info("segment of %d frames: frames of %dx%d are too small for libvmaf: coded without the map",
                 len(frames), frames.shape[2], frames.shape[1])
        return Verdict((), None)
    estimates, plain = measure(frames, candidates, guard, source)
    if guard.ceiling and ceiling_frames is not None:
        plain, where_plain = plain_scores(ceiling_frames, guard), " on native samples"
    else:
        where_plain = ""
    pick = best(estimates)
    easy = 0 < guard.ceiling <= plain["vmaf"]
    verdict = Verdict(tuple(estimates), pick if saves(estimates[pick].values(), guard.margin) and not easy else None,
                      plain)
    said = "; ".join(f"{e['vmaf']:+.2f} % VMAF / {e['neg']:+.2f} % VMAF-NEG" for e in estimates)
    outcome = "switched off" if not verdict.keep else "kept" if len(estimates) == 1 else f"kept map {pick + 1}"
    if easy:
        outcome += (f" (without it the segment scores {plain['vmaf']:.2f} VMAF at CRF {guard.crfs[-1]:g}{where_plain},"
                    f" at or above the ceiling {guard.ceiling:g})")
    else:
        outcome += f" (without it: {plain['vmaf']:.2f} VMAF at CRF {guard.crfs[-1]:g}{where_plain})"
    whose = "the map's BD-rate" if len(estimates) == 1 else f"the {len(estimates)} maps' BD-rates"
    log.info("segment of %d frames: %s %s %s (%dx%d) with %s%s, scored by %s (margin %.2f): %s", len(frames), whose,
             said, where, frames.shape[2], frames.shape[1], guard.encoder, f" ({guard.params})" if guard.params else "",
             guard.scorer, guard.margin, outcome)
    return verdict


def verdict_text(choice: int, bd: Sequence[float], allocate: dict) -> str:
    """One frame's guard verdict in words (a contact sheet's label): choice and bd as FrameAnalysis.guard /
    guard_bd, allocate the config's allocate section as plain data (the candidates' gains, the margin and the
    ceiling); "" when not judged.  A map off whose estimate was below -margin can only be the ceiling's doing,
    and says so."""
    if choice < 0:
        return ""
    gains = candidate_gains(allocate)
    said = "map off" if choice == 0 else "map kept" if len(gains) <= 1 else f"gain {gains[choice - 1]:g} kept"
    ceiling = allocate.get("verify_ceiling", 0.0)
    if choice == 0 and ceiling and not np.isnan(bd).any() and saves(bd, allocate.get("verify_margin", 0.0)):
        said += f" (easy: at or above its VMAF ceiling {ceiling:g} without it)"
    if np.isnan(bd).any():
        return f"guard: {said}"
    return f"guard: {said}, est. BD-rate VMAF {bd[0]:+.1f} % NEG {bd[1]:+.1f} %"


def frames_with(runs: Sequence[dict], choice: int | None = None) -> int:
    """Frames of guard_runs that kept a map (choice None) or the given candidate."""
    return sum(r["frames"] for r in runs if (r["choice"] > 0 if choice is None else r["choice"] == choice))


def guard_summary(runs: Sequence[dict] | None, gains: Sequence[float]) -> str:
    """What the guard decided over a run (guard_runs), in frames (segments differ in length): "" when it did not
    run."""
    if not runs:
        return ""
    kept = frames_with(runs)
    text = f"segment guard: map kept on {kept} of {sum(r['frames'] for r in runs)} frames"
    if len(gains) > 1 and kept:
        text += " (" + ", ".join(f"gain {g:g}: {frames_with(runs, k + 1)}" for k, g in enumerate(gains)) + ")"
    return text


def guard_runs(choices: Sequence[int], bds: Sequence[Sequence[float]]) -> list[dict] | None:
    """What the guard decided over a clip, as runs of consecutive frames sharing one verdict (a segment, or
    neighbouring segments judged alike): first frame, frames, choice (as FrameAnalysis.guard) and the estimate
    (VMAF, VMAF-NEG BD-rate %; None where nothing was measured).  None when the guard did not run."""
    if not len(choices) or max(choices) < 0:
        return None
    runs: list[dict] = []
    for index, (choice, bd) in enumerate(zip(choices, bds)):
        estimate = [None if np.isnan(v) else round(float(v), 3) for v in bd]
        if runs and runs[-1]["choice"] == choice and runs[-1]["estimate"] == estimate:
            runs[-1]["frames"] += 1
        else:
            runs.append({"start": index, "frames": 1, "choice": int(choice), "estimate": estimate})
    return runs


def run_verdict(runs: Sequence[dict] | None, index: int) -> tuple[int, list[float]]:
    """Frame `index`'s verdict from guard_runs, as FrameAnalysis.guard / guard_bd (-1 and NaN: not judged)."""
    for r in runs or ():
        if r["start"] <= index < r["start"] + r["frames"]:
            return r["choice"], [np.nan if v is None else v for v in r["estimate"]]
    return -1, [np.nan, np.nan]


def candidate_gains(allocate: dict) -> tuple[float, ...]:
    """The student gains of the guard's candidates, in the order FrameAnalysis.guard counts them, from a config's
    allocate section as plain data (Config.to_dict, or a maps file's config)."""
    return (allocate.get("sensitivity_gain", 0.0), *allocate.get("verify_gains", []))

"""The analysis pipeline: frames -> analysers -> salience -> QP map, one frame at a time.

Analyser state is reset at scene cuts and at forced cuts every `max_scene_frames` frames after a cut.
Because cut detection only looks at the current segment, analysing from any cut onward gives exactly the
frames a full run gives: that is what lets a farm split a title into chunks at cuts.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Self

import numpy as np

from . import video
from .allocate import (
    block_complexity,
    block_means,
    frame_offsets,
    qp_offsets,
    raw_offsets,
    segment_offsets,
    sensitivity_offsets,
    still_blocks,
)
from .analysers import ANALYSERS, Analyser, AnalysisContext, map_owner
from .config import TEACHER_METRICS, AllocateConfig, Config
from .errors import PreanalysisError
from .qpmap import QpMap, grid_shape
from .salience import combine
from .verify import GuardSettings, NativeSample, middle, verify, verify_native
from .video import UNIT_RATE, SourceCoding


@dataclass
class FrameAnalysis:
    index: int
    pts: int
    time: float
    luma: np.ndarray
    maps: dict[str, np.ndarray]
    salience: np.ndarray  # uint8, analysis resolution
    qp: QpMap
    scene_start: bool
    object_ids: np.ndarray | None = None  # int32 ids per pixel, tracked across frames (learned objects analyser)
    decoded: video.DecodedFrame | None = None  # the source frame, when asked for (analyse and encode in one pass)
    guard_luma: np.ndarray | None = None  # the guard's native sample (verify_resolution native, verify_ceiling_native)
    chroma: np.ndarray | None = None  # AnalysisContext.chroma, kept until the segment stage has coded the segment
    # The segment guard's verdict on this frame's segment: -1 not judged, 0 coded without a map, k the k-th
    # candidate kept (1: allocate.sensitivity_gain, then allocate.verify_gains); and its estimate (VMAF, VMAF-NEG
    # BD-rate %, NaN where nothing was measured), kept in the maps file so a user sees what the guard decided.
    guard: int = -1
    guard_bd: tuple[float, float] = (np.nan, np.nan)


class SceneCutDetector:
    """Cut where the luma histogram changes a lot, or the frame difference jumps far above the segment's."""

    def __init__(self, max_scene_frames: int = 300):
        self.max_scene_frames = max_scene_frames
        self.reset()

    def reset(self) -> None:
        self.previous: np.ndarray | None = None
        self.previous_hist: np.ndarray | None = None
        self.diffs: list[float] = []
        self.since_cut = 0

    def is_cut(self, luma: np.ndarray) -> bool:
        hist = np.bincount(np.minimum(luma * 32, 31).astype(np.intp).ravel(), minlength=32) / luma.size
        cut = self.previous is None
        if not cut:
            diff = float(np.mean(np.abs(luma - self.previous)))
            hist_change = 0.5 * float(np.abs(hist - self.previous_hist).sum())
            recent = np.mean(self.diffs[-8:]) if self.diffs else 0.0
            jump = diff > 0.08 and diff > 4 * recent and len(self.diffs) >= 1
            cut = hist_change > 0.45 or jump or self.since_cut >= self.max_scene_frames
            self.diffs.append(diff)
        if cut:
            self.diffs, self.since_cut = [], 0
        self.since_cut += 1
        self.previous, self.previous_hist = luma, hist
        return cut


def analyser_names(config: Config) -> list[str]:
    """The analysers a config needs: those producing a weighted map, plus any listed explicitly."""
    names = [map_owner(m) for m, w in config.salience.weights.items() if w != 0]
    names += [map_owner(n) for n in config.analysis.analysers]
    names += [_owner(rule.when, "salience.stand_aside") for rule in config.salience.stand_aside]
    if config.allocate.temporal_gain and config.allocate.segment != "frame":
        names.append(TEMPORAL)
    if config.allocate.sensitivity:
        names.append(_owner(config.allocate.sensitivity, "allocate.sensitivity"))
    return list(dict.fromkeys(names))


def _owner(map_name: str, setting: str) -> str:
    """map_owner, its error naming the config setting that asked for the map."""
    try:
        return map_owner(map_name)
    except PreanalysisError as exc:
        raise PreanalysisError(f"{setting}: {exc}") from None


def build_analysers(config: Config) -> list[Analyser]:
    """Instances of the analysers a config needs; `analysis.weights` points learned ones at other weights."""
    names = analyser_names(config)
    unknown = sorted(set(config.analysis.weights) - set(names) - {"stabilise"})
    if unknown:
        raise PreanalysisError(f"analysis.weights names {unknown[0]!r}, which this config does not run: "
                               f"use one of {', '.join(names + ['stabilise'])}")
    analysers = []
    for name in names:
        cls = ANALYSERS[name]
        kwargs = {"device": config.analysis.device} if cls.learned else {}
        if cls.segment_level:
            kwargs["causal"] = config.allocate.segment == "frame"
        if cls.vmaf_gradient:
            kwargs["metrics"] = TEACHER_METRICS[config.analysis.teacher_metric]
            kwargs["every"] = config.analysis.teacher_every
            kwargs["window"] = config.analysis.teacher_window
            kwargs["as_source"] = config.analysis.code_source == "all"
        if name in config.analysis.weights:
            if not cls.learned:
                raise PreanalysisError(f"analyser {name!r} takes no weights file: remove it from analysis.weights")
            kwargs["weights"] = config.analysis.weights[name]
        analysers.append(cls(**kwargs))
    return analysers


def analyze(
    path: str | Path, config: Config, start: int = 0, stop: int | None = None, progress: bool = False
) -> Iterator[FrameAnalysis]:
    """Analyse frames [start, stop) of a video; start should be 0 or a scene cut (see module docstring)."""
    info = video.probe(path)
    total = (min(stop, info.frame_count) if stop else info.frame_count) - start if info.frame_count else None
    return analyze_frames(video.decode(path, start, stop), info, config,
                          progress=f"analyse {Path(path).name}" if progress else None, total=total)


def analyze_frames(
    frames: Iterable[video.DecodedFrame], info: video.VideoInfo, config: Config, keep_frames: bool = False,
    progress: str | None = None, total: int | None = None,
) -> Iterator[FrameAnalysis]:
    """Analyse decoded frames of the video `info` describes, in order; keep_frames hands each source frame
    on in FrameAnalysis.decoded (for a consumer that encodes what it analyses: one decode for both).
    With a segment budget (allocate.segment scene|gop) a segment's frames come out when it closes."""
    s = config.salience
    if config.objective == "salience" and not any(s.weights.values()) and not s.rois and not s.roi_files:
        raise PreanalysisError("the salience objective has nothing to protect: weight a map (--weight), or "
                               "give regions (--roi-file FILE, --roi X,Y,W,H,WEIGHT); the regions preset needs "
                               "--roi-file (from Python: regions=FILE)")
    analysers = build_analysers(config)
    segment_level = [a for a in analysers if a.segment_level]
    return allocate_segments(_analyse(frames, info, config, analysers, keep_frames, progress, total), config,
                             segment_level, info.frame_rate)


def _analyse(
    frames: Iterable[video.DecodedFrame], info: video.VideoInfo, config: Config, analysers: list[Analyser],
    keep_frames: bool, progress: str | None, total: int | None,
) -> Iterator[FrameAnalysis]:
    size = video.analysis_size(info.width, info.height, config.analysis.max_width)
    scale = info.width / size[0]
    lanes = AnalyserLanes(analysers)
    detector = SceneCutDetector(config.analysis.max_scene_frames)
    decoded = ((d, video.y_plane(d.frame)) for d in frames)
    if progress:
        from tqdm import tqdm

        decoded = tqdm(decoded, total=total, unit="frame", desc=progress, leave=False)
    stabiliser = mask_stabiliser(config)
    roi_files = RoiFiles(config, info.width, info.height) if config.salience.roi_files else None
    a = config.allocate
    sample = NativeSample.of(info.width, info.height, a) if a.native_samples(info.width, info.height, size) else None
    decode_chroma = config.analysis.code_source == "all" or (  # the frames' chroma, where an encode codes it
        config.analysis.code_source == "guard" and a.verify and not a.guard_native(info.width, info.height))
    in_flight: deque = deque()

    def finish() -> FrameAnalysis:
        d, ctx, cut, results, guard_luma = in_flight.popleft()
        maps, ids = lanes.collect(results)
        if roi_files:
            maps[ROI_FILES] = roi_files.score(d.index, ctx.luma.shape)
        salience = frame_salience(maps, config, d.index, scale)
        if stabiliser:
            if cut:
                stabiliser.reset()
            salience = stabiliser.step(salience, ctx)
        if config.allocate.segment == "frame":
            qp = frame_qp(salience, ctx.luma, info.width, info.height, config, maps, scene_start=cut,
                          previous=ctx.previous)
        else:  # the segment stage allocates when the segment closes
            qp = QpMap(np.zeros(grid_shape(info.width, info.height), np.int8), info.width, info.height)
        return FrameAnalysis(d.index, d.pts, d.time, ctx.luma, maps, salience, qp, cut, ids,
                             d if keep_frames else None, guard_luma,
                             None if config.allocate.segment == "frame" else ctx.chroma)

    previous = None
    with lanes:
        for d, source in decoded:
            luma = video.shrink_luma(source, size)
            cut = detector.is_cut(luma)
            if cut:
                previous = None
            ctx = AnalysisContext(index=d.index, luma=luma, previous=previous, scale=scale, source=source,
                                  chroma=video.shrink_chroma(d.frame, size) if decode_chroma else None,
                                  rate=info.frame_rate)
            in_flight.append((d, ctx, cut, lanes.submit(ctx, cut), sample.luma(source) if sample else None))
            previous = luma
            if len(in_flight) > LANE_DEPTH:
                yield finish()
        while in_flight:
            yield finish()


LANE_DEPTH = 8  # frames an analyser may run ahead of salience/stabiliser/allocation (bounds memory)


class AnalyserLanes:
    """Each analyser on a thread of its own, taking frames in order: the analysers of a frame run side by
    side and may run ahead on later frames.  Why: at analysis resolution the networks are small, so one op
    split over 2 threads gains little (all learned maps at 1080p, one after another: 42.5 ms/frame on 2
    threads, 48.9 on 1); running different analysers at once keeps the cores busy.  Every analyser still
    sees its frames (and resets at cuts) in order, so the maps are those of running them one after another.

    While the lanes run, torch computes on one thread in every lane and in the caller's thread (salience,
    stabiliser); the caller's setting comes back at the end.  One thread, whatever the machine: the maps are
    then the same bytes on any core count (oneDNN's sums depend on how many threads split them), and a
    machine with more cores runs more streams (farm workers).  Measured at 1080p on 2 cores with every
    learned map: 32-33 fps so, 28-29 fps when each lane kept 2 threads (idle OpenMP workers spin on the
    cores the other lanes need)."""

    def __init__(self, analysers: list[Analyser]):
        self.analysers = analysers
        self.torch_threads = _torch_threads()
        self.threads = [ThreadPoolExecutor(1, thread_name_prefix=f"analyse-{a.name}", initializer=self._one_thread)
                        for a in analysers]

    def _one_thread(self) -> None:
        if self.torch_threads:
            sys.modules["torch"].set_num_threads(1)

    def __enter__(self) -> Self:
        self._one_thread()
        return self

    def __exit__(self, *exc) -> None:
        for t in self.threads:
            t.shutdown(wait=True, cancel_futures=True)
        if self.torch_threads:  # set_num_threads is process-wide: give the caller its setting back
            sys.modules["torch"].set_num_threads(self.torch_threads)

    def submit(self, ctx: AnalysisContext, cut: bool) -> list[Future]:
        if cut:
            for a, t in zip(self.analysers, self.threads):
                t.submit(a.reset)
        return [t.submit(_process, a, ctx) for a, t in zip(self.analysers, self.threads)]

    @staticmethod
    def collect(results: list[Future]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """The frame's maps from every analyser, and the object ids if an analyser tracks objects."""
        maps: dict[str, np.ndarray] = {}
        ids = None
        for r in results:
            m, own_ids = r.result()
            maps.update(m)
            ids = own_ids if ids is None else ids
        return maps, ids


def _torch_threads() -> int | None:
    """torch's thread count if torch is loaded (learned analysers), else None (nothing to share)."""
    return sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None


def _process(analyser: Analyser, ctx: AnalysisContext) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The maps, with the ids taken now: the analyser's thread may move on to the next frame before the
    consumer reads them."""
    return analyser.process(ctx), analyser.object_ids()


ROI_FILES = "roi_files"  # the map of the user's region files (salience.roi_files): their weights, summed


def mask_reads(config: Config, names: Sequence[str]) -> bool:
    """Whether the salience mask is made from any of these maps (a weight or a stand-aside rule names one): only
    then does a segment-level analyser's map change it (and undo the mask stabiliser's work)."""
    s = config.salience
    return any(s.weights.get(n, 0) for n in names) or any(rule.when in names for rule in s.stand_aside)


def frame_salience(maps: dict[str, np.ndarray], config: Config, index: int, scale: float) -> np.ndarray:
    s = config.salience
    weighted = {k: v for k, v in maps.items() if k != ROI_FILES}
    dropped = {name for rule in s.stand_aside if weighted[rule.when].max() > 0.5 for name in rule.drop}
    weights = {k: w for k, w in s.weights.items() if k not in dropped}
    return combine(weighted, weights, s.rois, index, scale, s.normalise, s.grow, s.prior, maps.get(ROI_FILES))


class RoiFiles:
    """The user's region files (salience.roi_files) as one map per frame: each file's weight inside its regions.
    Mask videos are read as the frames come, so a long one is never held in memory."""

    def __init__(self, config: Config, width: int, height: int):
        from .region_files import load_region_file

        self.files = [(load_region_file(f.path, width, height, stream=True), np.float32(f.weight))
                      for f in config.salience.roi_files]

    def score(self, index: int, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, np.float32)
        for regions, weight in self.files:
            out += weight * regions.mask(index, shape[1], shape[0])
        return out


TEMPORAL = "temporal_masking"


def closes_segment(length: int, config: Config) -> bool:
    """Whether a scene cut after `length` frames of the open segment starts a new segment."""
    return config.allocate.segment == "scene" or length >= config.allocate.segment_frames


def allocate_segments(analyses: Iterable[FrameAnalysis], config: Config, segment_level: Sequence[Analyser] = (),
                      rate: Fraction | None = None) -> Iterator[FrameAnalysis]:
    """The segment budget (preanalysis.allocate.segment_offsets): frames are held until their segment closes
    at a scene cut, then get offsets whose predicted bits stay within the segment's no-map bits.  Segments
    start only at cuts and are counted from one, so analysing from a segment start (a farm chunk) gives the
    segments, and maps, of a full run.  allocate.segment = frame: the per-frame maps pass through.
    segment_level: analysers that measure a closed segment (Analyser.segment_level); their maps replace the
    per-frame ones, and the salience is recombined where it reads them (the learned mask stabiliser, if on, saw the
    per-frame one); a map only allocate.sensitivity reads leaves the mask as it was."""
    if config.allocate.segment == "frame":
        yield from analyses
        return
    held: list[FrameAnalysis] = []
    for fa in analyses:
        if fa.scene_start and held and closes_segment(len(held), config):
            yield from reallocate(held, config, segment_level, rate)
            held = []
        held.append(fa)
    yield from reallocate(held, config, segment_level, rate)


def reallocate(segment: list[FrameAnalysis], config: Config, segment_level: Sequence[Analyser] = (),
               rate: Fraction | None = None) -> list[FrameAnalysis]:
    """New QP maps for the frames of one segment: the mask's block offsets plus the frame-level temporal
    masking offsets, under the segment's budget (after the segment-level analysers' maps, if any).  rate: the
    source's frame rate, for encodes that code the frames as the source has them (analysis.code_source)."""
    if not segment:
        return segment
    a = config.allocate
    width, height = segment[0].qp.width, segment[0].qp.height
    scale = width / segment[0].luma.shape[1]
    source = None
    if config.analysis.code_source != "none" and all(fa.chroma is not None for fa in segment):
        source = SourceCoding(np.stack([fa.chroma for fa in segment]), rate or UNIT_RATE)
    for analyser in segment_level:
        recombine = mask_reads(config, analyser.maps)
        for fa, m in zip(segment, analyser.segment_maps([fa.luma for fa in segment], scale, source)):
            fa.maps[analyser.name] = m
            if recombine:
                fa.salience = frame_salience(fa.maps, config, fa.index, scale)
    raw = np.stack([raw_offsets(block_means(fa.salience.astype(np.float32) / 255, width, height), a)
                    for fa in segment])
    per_gain = np.stack([sensitivity_part(fa.maps, width, height, a, 1.0) for fa in segment]) if a.sensitivity else 0
    complexity = np.stack([block_complexity(fa.luma, width, height) for fa in segment])
    frame = np.zeros(len(segment))
    starts = np.array([fa.scene_start for fa in segment])
    if a.temporal_gain:
        from .analysers.temporal_masking import backward_motion, motion2

        log_motion = np.log2(1 + motion2(np.array([backward_motion(fa.maps[TEMPORAL]) for fa in segment]), starts))
        if log_motion.std() >= a.temporal_min_spread:
            frame = frame_offsets(log_motion, starts, a.temporal_gain, a.temporal_unit)
    row_gain = np.where(starts, a.scene_start_gain, 1.0)[:, None, None]
    plain = starts if a.scene_start_gain == 0 else None
    still = None
    if a.still_block_levels:
        none = np.zeros(raw.shape[1:], bool)
        still = np.stack([none if fa.scene_start or i == 0 else still_blocks(
            fa.luma, segment[i - 1].luma, width, height, a.still_block_levels) for i, fa in enumerate(segment)])
    candidates = [segment_offsets(row_gain * (raw + gain * per_gain), complexity, frame, a.frame_qp_range,
                                  a.min_offset, a.max_offset, plain, still)
                  for gain in (a.sensitivity_gain, *a.verify_gains)]
    offsets = candidates[0]
    if a.verify:
        part = middle(len(segment), a.verify_frames)
        guard = GuardSettings.of(config)
        if a.guard_native(width, height) and all(fa.guard_luma is not None for fa in segment[part]):
            at_rate = None if config.analysis.code_source == "none" else SourceCoding(None, rate or UNIT_RATE)
            verdict = verify_native([fa.guard_luma for fa in segment[part]], [c[part] for c in candidates],
                                    NativeSample.of(width, height, a), guard, at_rate)
        else:
            natives = [fa.guard_luma for fa in segment[part]]
            ceiling_samples = natives if all(n is not None for n in natives) else None  # a.native_samples
            verdict = verify([fa.luma for fa in segment[part]], [c[part] for c in candidates], guard, ceiling_samples,
                             source and source[part])
        offsets = candidates[verdict.choice] if verdict.keep else np.zeros_like(offsets)
        bd = (verdict.bd_rates.get("vmaf", np.nan), verdict.bd_rates.get("neg", np.nan))
        for fa in segment:
            fa.guard_luma = None  # judged: the native samples need not outlive the segment
            fa.guard, fa.guard_bd = (verdict.choice + 1 if verdict.keep else 0), bd
    if segment_level:  # the teacher's encodes were remembered for this segment's guard: held no longer (where the
        from .learning.teacher_vmaf import forget_coded  # guard codes otherwise, or is off, it never took them)

        forget_coded()
    for fa, o in zip(segment, offsets):
        fa.qp, fa.chroma = QpMap(o, width, height), None  # the chroma served the segment's encodes
    return segment


def frame_qp(salience: np.ndarray, luma: np.ndarray, width: int, height: int, config: Config,
             maps: dict[str, np.ndarray] | None = None, scene_start: bool = False,
             previous: np.ndarray | None = None) -> QpMap:
    """The allocation step: the mask's block means and the frame's block complexity -> QP offsets (plus the
    sensitivity map's, allocate.sensitivity, read from `maps`); on a scene's first frame times
    allocate.scene_start_gain; blocks that did not change from `previous` (the frame before, analysis luma) keep
    none (allocate.still_block_levels)."""
    a = config.allocate
    offsets = qp_offsets(block_means(salience.astype(np.float32) / 255, width, height),
                         block_complexity(luma, width, height), a, sensitivity_part(maps or {}, width, height, a),
                         a.scene_start_gain if scene_start else 1.0,
                         None if scene_start else still_blocks(luma, previous, width, height, a.still_block_levels))
    return QpMap(offsets, width, height)


def sensitivity_part(maps: dict[str, np.ndarray], width: int, height: int, a: AllocateConfig,
                     gain: float | None = None) -> np.ndarray | None:
    """allocate.sensitivity's float offsets on the block grid at `gain` (default allocate.sensitivity_gain), None
    when it is off."""
    if not a.sensitivity:
        return None
    if a.sensitivity not in maps:
        raise PreanalysisError(f"allocate.sensitivity names map {a.sensitivity!r}, which no analyser made for this "
                               "frame: name a map of a VMAF sensitivity analyser (sensitivity, vmaf_teacher)")
    from .analysers.sensitivity import log_weight

    return sensitivity_offsets(log_weight(block_means(maps[a.sensitivity], width, height)),
                               a.sensitivity_gain if gain is None else gain)


class MaskStabiliser:
    """The learned stabiliser on the final mask: blind to which analysers made it (issue 3, item 6)."""

    def __init__(self, device: str, weights: str | None):
        from .learning.models.stabilise import StabiliseModel

        self.model = StabiliseModel(weights, device=device)
        self.device = device

    def reset(self) -> None:
        self.model.reset()

    def step(self, salience: np.ndarray, ctx: AnalysisContext) -> np.ndarray:
        from .analysers.flow_motion import backbone_outputs

        flow = backbone_outputs(ctx, self.device)[0]
        mask = self.model.infer(salience.astype(np.float32) / 255, ctx.luma, ctx.previous, flow)
        return np.round(np.clip(mask, 0, 1) * 255).astype(np.uint8)


def mask_stabiliser(config: Config) -> MaskStabiliser | None:
    if not config.analysis.stabilise:
        return None
    return MaskStabiliser(config.analysis.device, config.analysis.weights.get("stabilise"))


def scene_cuts(path: str | Path, config: Config) -> list[int]:
    """Frame indices where analysis segments start (always including 0): the frame-accurate chunk points.
    With a segment budget, only the cuts that start a budget segment (a chunk must hold whole segments)."""
    info = video.probe(path)
    size = video.analysis_size(info.width, info.height, config.analysis.max_width)
    detector = SceneCutDetector(config.analysis.max_scene_frames)
    cuts = [d.index for d in video.decode(path) if detector.is_cut(video.to_luma(d.frame, size))]
    return segment_starts(cuts, config)


def segment_starts(cuts: list[int], config: Config) -> list[int]:
    """The scene cuts where budget segments start (allocate_segments' rule); every cut when the budget is per
    frame (the analysis itself restarts at any cut)."""
    if config.allocate.segment == "frame":
        return cuts
    starts = cuts[:1]
    for c in cuts[1:]:
        if closes_segment(c - starts[-1], config):
            starts.append(c)
    return starts

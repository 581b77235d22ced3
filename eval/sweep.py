"""RD sweep: every variant (baselines without a map, mapped configurations) at every CRF, encoded, measured.

A point is cached on disk under a key of (input content hash, encoder settings, analysis config, frame
count, metric version), so a re-run only encodes and measures what changed.  Analysis of a clip (QP maps and
the salience used for region metrics) is cached the same way.  Points run in parallel up to `jobs`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from preanalysis.qpmap import QpMap
from preanalysis.config import Config
from preanalysis.errors import PreanalysisError
from preanalysis.io import atomic_output, atomic_write_text
from preanalysis.prefilters import filtered, prefilter_version
from preanalysis.verify import guard_runs
from preanalysis.video import VideoInfo, decode, probe

from .judge import Regions, coverage, judged_psnr, mean_judged
from .metrics import measure
from .regions import region_psnr

log = logging.getLogger("preanalysis")

ANALYSIS_CODE = Path(__file__).resolve().parent.parent / "preanalysis"  # the code that makes the maps (keys analyses)
CACHE_VERSION = 2  # bump when what a cached point means changes (metric set, pooling, region definition, pairing)
# 2: frames paired by index (eval.pairing); version 1 paired by timestamp


def parse_params(text: str) -> dict[str, str]:
    """'aq-mode=1:aq-strength=0.0' -> {'aq-mode': '1', 'aq-strength': '0.0'} (encoder option spelling).

    'default' (or nothing) means the encoder's own defaults for the preset."""
    if text.strip() in ("", "default"):
        return {}
    params = {}
    for item in filter(None, text.split(":")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise PreanalysisError(f"encoder parameter {item!r} is not key=value: write e.g. aq-mode=1:aq-strength=0.0")
        params[key] = value
    return params


@dataclass(frozen=True)
class Variant:
    """One RD curve: encoder params, plus an analysis config when the encode carries QP maps."""

    name: str
    params: dict[str, str]
    config: Config | None = None  # None = no map (a baseline, or a pre-filter-only variant)
    prefilter: str = "off"  # pre-filter spec (preanalysis.prefilters): off, auto, mctf[:S], temporal[:S]

    @property
    def mapped(self) -> bool:
        return self.config is not None

    @classmethod
    def full(cls, name: str, map_params: dict[str, str], config: Config, encoder: str) -> Variant:
        """The whole pre-analysis of a config: its map, its encoder settings with `map_params` (eval's
        --map-params) over them, its pre-filter."""
        return cls(name, {**config.encode.params(encoder), **map_params}, config, config.encode.prefilter)

    def without_map(self, name: str = "without map") -> Variant:
        """The same variant with the map switched off (same encoder settings, same pre-filter): the anchor of
        the map's own contribution."""
        return Variant(name, dict(self.params), None, self.prefilter)


@dataclass
class RDPoint:
    clip: str
    variant: str
    crf: float
    frames: int
    size_bytes: int
    bitrate_kbps: float
    vmaf: float
    vmaf_neg: float
    psnr_y: float
    salient_psnr_y: float
    background_psnr_y: float
    encode_seconds: float
    judged_psnr_y: float = float("nan")  # PSNR-Y inside the user's regions (eval --regions), mean over judged frames


@dataclass
class SweepSettings:
    encoder: str = "x264"
    preset: str = "medium"
    crfs: tuple[float, ...] = (22, 27, 32, 37)
    frames: int | None = None  # first N frames of every clip (None = all)
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    ffmpeg: str | None = None
    metric: str = "libvmaf"  # libvmaf (every reported number) | vmaf-torch (tuning probes on a GPU)


class FrameStack(Sequence[np.ndarray]):
    """Equal-shaped per-frame arrays in one raw file, read a frame at a time: a long clip's maps never sit
    in memory whole (eval's memory stays flat with the clip's length)."""

    def __init__(self, path: Path, dtype: str, shape: tuple[int, ...], count: int):
        self.path, self.dtype, self.shape, self.count = path, np.dtype(dtype), tuple(shape), count
        self.frame_bytes = self.dtype.itemsize * int(np.prod(shape))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.count))]
        if not -self.count <= i < self.count:
            raise IndexError(i)
        with open(self.path, "rb") as f:
            f.seek((i % self.count) * self.frame_bytes)
            return np.frombuffer(f.read(self.frame_bytes), self.dtype).reshape(self.shape)


class QpMaps(Sequence[QpMap]):
    """QpMap per frame over a FrameStack of offsets."""

    def __init__(self, offsets: FrameStack, width: int, height: int):
        self.offsets, self.width, self.height = offsets, width, height

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return QpMap(self.offsets[i], self.width, self.height)


@dataclass
class ClipAnalysis:
    """What a mapped encode and the region metrics need from the analysis of one clip."""

    qp: Sequence[QpMap]
    salience: Sequence[np.ndarray]
    salience_key: str  # identifies the salience (region metrics) for point cache keys
    guard: list[dict] | None = None  # the segment guard's verdicts (verify.guard_runs), None where it did not run
    ids: Sequence[np.ndarray] | None = None  # object ids per frame at the salience's size (visualize.frame_ids)


def file_hash(path: str | Path) -> str:
    """The content hash of an input (cache keys); read once per file version in a process: sweep, the judged
    coverage and the guard's per-clip record all key the same analysis by it."""
    st = os.stat(path)
    return _content_hash(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


class Cache:
    """Small files under one folder, one per key; writes are atomic so a crash never leaves junk."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def path(self, key: str, suffix: str) -> Path:
        return self.root / f"{key}{suffix}"

    def get_json(self, key: str) -> dict | None:
        p = self.path(key, ".json")
        if p.is_file():
            self.hits += 1
            return json.loads(p.read_text())
        self.misses += 1
        return None

    def put_json(self, key: str, value: dict) -> None:
        atomic_write_text(self.path(key, ".json"), json.dumps(value))


def analysis_dict(config: Config) -> dict:
    """What shapes the maps: the config but `encode` (its params and pre-filter key a point apart), the content
    of the learned analysers' weights (shipped and named) and of the region files (salience.roi_files), so
    retraining or redrawing never reuses old maps, and the analysis
    code itself (every module of the preanalysis package), so a changed analyser never does either."""
    from preanalysis.learning.weights import content_digest, weights_digest

    shaping = {k: v for k, v in config.to_dict().items() if k != "encode"}
    return {**shaping, "weights_digest": weights_digest(list(config.analysis.weights.values())),
            "roi_files_digest": content_digest([Path(f.path) for f in config.salience.roi_files]),
            "code_digest": content_digest(sorted(ANALYSIS_CODE.rglob("*.py")))}


def analyse_clip(path: Path, config: Config, frames: int | None, cache: Cache, input_hash: str) -> ClipAnalysis:
    """QP maps, salience and object ids of the first `frames` frames (cached by input content and config),
    written and read a frame at a time."""
    from preanalysis.pipeline import analyze
    from preanalysis.visualize import frame_ids

    key = _key("analysis", input_hash, analysis_dict(config), frames, CACHE_VERSION)
    meta, qp_file, sal_file, ids_file = (cache.path(key, s) for s in (".analysis.json", ".qp", ".salience", ".ids"))
    data = json.loads(meta.read_text()) if meta.is_file() else {}
    if "ids" not in data:  # not cached, or cached before the ids: analyse (again)
        info = probe(path)
        shapes, count, digest, choices, bds = {}, 0, hashlib.sha256(), [], []
        with ExitStack() as files:
            qp_out, sal_out = (files.enter_context(open(files.enter_context(atomic_output(f)), "wb"))
                               for f in (qp_file, sal_file))
            ids_out = None  # opened at the first frame with ids (no analyser gives any: no file)
            for fa in analyze(path, config, 0, frames):
                arrays = [("qp", fa.qp.offsets, qp_out), ("salience", fa.salience, sal_out)]
                ids = frame_ids(fa)
                if ids is not None:
                    if ids_out is None:  # the frames before had no objects
                        ids_tmp = files.enter_context(atomic_output(ids_file))
                        ids_out = files.enter_context(open(ids_tmp, "wb"))
                        ids_out.write(bytes(count * fa.salience.size * 2))
                    arrays.append(("ids", cv2.resize(ids.astype(np.int16), fa.salience.shape[::-1],
                                                     interpolation=cv2.INTER_NEAREST), ids_out))
                elif ids_out is not None:
                    arrays.append(("ids", np.zeros(fa.salience.shape, np.int16), ids_out))
                for name, array, out in arrays:
                    if shapes.setdefault(name, (array.shape, array.dtype.str)) != (array.shape, array.dtype.str):
                        raise PreanalysisError(f"the analysis of {path} changed its map size at frame {fa.index}:"
                                               " give a clip of one frame size")
                    out.write(np.ascontiguousarray(array).tobytes())
                digest.update(np.ascontiguousarray(fa.salience).tobytes())
                choices.append(fa.guard)
                bds.append(fa.guard_bd)
                count += 1
        atomic_write_text(meta, json.dumps({"count": count, "size": [info.width, info.height], "shapes": shapes,
                                            "salience_key": digest.hexdigest()[:24],  # by content
                                            "guard": guard_runs(choices, bds), "ids": ids_out is not None}))
        data = json.loads(meta.read_text())
    stack = lambda file, name: FrameStack(file, data["shapes"][name][1], data["shapes"][name][0], data["count"])
    return ClipAnalysis(QpMaps(stack(qp_file, "qp"), *data["size"]), stack(sal_file, "salience"),
                        data["salience_key"], data["guard"], stack(ids_file, "ids") if data["ids"] else None)


@dataclass(frozen=True)
class PointSpec:
    """One RD point to make: a clip, a variant, a CRF, and the clip's analysis (maps, region)."""

    path: Path
    clip: str
    input_hash: str
    info: VideoInfo
    variant: Variant
    crf: float
    analysis: ClipAnalysis
    regions: Regions | None = None  # the user's regions: PSNR-Y is measured inside them too


class Prober:
    """Makes RD points under one SweepSettings, through one cache: encode, measure, remember."""

    def __init__(self, settings: SweepSettings, cache: Cache):
        self.settings, self.cache = settings, cache

    def points(self, specs: list[PointSpec]) -> list[RDPoint]:
        """All points, up to settings.jobs at a time, in the order given."""
        with ThreadPoolExecutor(max_workers=max(1, self.settings.jobs)) as pool:
            return list(pool.map(self.point, specs))

    def key(self, spec: PointSpec) -> str:
        s, v = self.settings, spec.variant
        return _key("point", spec.input_hash, s.encoder, s.preset, spec.crf, v.params,
                    analysis_dict(v.config) if v.mapped else None, s.frames, spec.analysis.salience_key,
                    CACHE_VERSION, *([v.prefilter, prefilter_version(v.prefilter)] if v.prefilter != "off" else []),
                    *([s.metric] if s.metric != "libvmaf" else []),
                    *(["judged", spec.regions.key()] if spec.regions is not None else []))

    def point(self, spec: PointSpec) -> RDPoint:
        """Encode, measure (full frame + salient region) and cache one point."""
        key = self.key(spec)
        cached = self.cache.get_json(key)
        if cached is not None:
            return RDPoint(**{**cached, "clip": spec.clip, "variant": spec.variant.name})
        with tempfile.TemporaryDirectory(prefix="preanalysis-eval-") as tmp:
            out = Path(tmp) / f"{spec.clip}.mp4"
            t0 = time.perf_counter()
            result = self.encode(spec, out)
            seconds = time.perf_counter() - t0
            frames = len(spec.analysis.salience)
            if self.settings.metric == "vmaf-torch":
                from .torch_metrics import measure_torch

                scores = measure_torch(spec.path, out, frames).means()
            else:
                scores = measure(spec.path, out, frames, self.settings.ffmpeg, threads=1).means()
            inside, outside = region_psnr(spec.path, out, spec.analysis.salience)
            judged = float("nan")
            if spec.regions is not None:
                judged = mean_judged(judged_psnr(spec.path, out, spec.regions, frames))
        point = RDPoint(spec.clip, spec.variant.name, spec.crf, frames, result.size_bytes, result.bitrate_kbps,
                        scores["vmaf"], scores["vmaf_neg"], scores["psnr_y"], float(np.nanmean(inside)),
                        float(np.nanmean(outside)), seconds, judged)
        self.cache.put_json(key, asdict(point))
        log.debug("%s %s crf %g: %.1f kbps, VMAF %.2f", spec.clip, spec.variant.name, spec.crf, point.bitrate_kbps,
                  point.vmaf)
        return point

    def encode(self, spec: PointSpec, out: Path):
        """The encode of the first settings.frames frames, through the variant's pre-filter, maps attached
        when the variant has them."""
        from encoder_adapters import EncodeSettings, encode_frames

        s, v = self.settings, spec.variant
        enc = EncodeSettings(encoder=s.encoder, crf=spec.crf, preset=s.preset, params=dict(v.params))
        qp = spec.analysis.qp if v.mapped else None
        qp_for_frame: Callable[[int], QpMap | None] | None = None
        if qp is not None:
            qp_for_frame = lambda i: qp[i] if i < len(qp) else None
        source = filtered(lambda: decode(spec.path, 0, s.frames), v.prefilter)
        return encode_frames(source, spec.info, out, enc, qp_for_frame)


def clip_names(paths: list[Path]) -> list[str]:
    """Report names: file stems, made unique with a suffix where two inputs share one."""
    names: list[str] = []
    for p in paths:
        name, n = p.stem, 2
        while name in names:
            name, n = f"{p.stem}-{n}", n + 1
        names.append(name)
    return names


def sweep(
    inputs: list[str | Path], variants: list[Variant], settings: SweepSettings, cache: Cache,
    region_config: Config, judges: dict[str, Regions] | None = None,
) -> list[RDPoint]:
    """All points of all clips; the salient region of every clip comes from `region_config`'s analysis, and
    PSNR-Y is also measured inside judges[clip] (the user's regions) where a clip has them."""
    if not variants:
        raise PreanalysisError("nothing to sweep: give at least one --baseline or a mapped configuration")
    paths = [Path(p) for p in inputs]
    infos = [probe(p) for p in paths]  # fail on a bad input before any encoding
    hashes = [file_hash(p) for p in paths]
    specs = []
    for path, clip, info, h in zip(paths, clip_names(paths), infos, hashes):
        region = analyse_clip(path, region_config, settings.frames, cache, h)
        for v in variants:
            analysis = region
            if v.mapped and analysis_dict(v.config) != analysis_dict(region_config):
                analysis = ClipAnalysis(analyse_clip(path, v.config, settings.frames, cache, h).qp, region.salience,
                                        region.salience_key)
            specs += [PointSpec(path, clip, h, info, v, crf, analysis, (judges or {}).get(clip))
                      for crf in settings.crfs]
    return Prober(settings, cache).points(specs)


def clip_guard(path: str | Path, config: Config, frames: int | None, cache: Cache) -> list[dict] | None:
    """The segment guard's verdicts on `config`'s analysis of a clip (cached with it; no encodes)."""
    return analyse_clip(Path(path), config, frames, cache, file_hash(path)).guard


def judged_coverage(path: str | Path, config: Config, frames: int | None, cache: Cache, regions: Regions) -> dict:
    """Where `config`'s map puts its bits against the user's regions (judge.coverage; no encodes)."""
    return coverage(analyse_clip(Path(path), config, frames, cache, file_hash(path)).qp, regions)

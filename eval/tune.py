"""Per-title tuning of the salience weights, allocation strength and offset range by measured VMAF BD-rate.

The analysers' raw maps do not depend on the weights, so they are computed once per title and each trial
only re-combines them (salience -> allocation), then encodes the probe segment at every CRF and measures.
Optuna's TPE (seeded) picks the trials; the starting config is always trial 0, so the result is never worse
than what you started from (on the probes).  Every probe point goes through the sweep cache.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preanalysis.allocate import AllocatorSettings, QpMap, block_complexity, block_means, qp_offsets
from preanalysis.config import Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.salience import combine
from preanalysis.video import probe

from .bdrate import bd_quality, bd_rate
from .sweep import Cache, ClipAnalysis, RDPoint, SweepSettings, Variant, file_hash, run_point

log = logging.getLogger("preanalysis")

WEIGHT_RANGE = 2.0  # searched weights lie in [-2, 2]: the sign decides more or fewer bits where a map is high
SALIENCE_VMAF_LIMIT = 3.0  # objective "salience": VMAF BD-rate may cost at most this many percent


@dataclass
class Title:
    """One probe segment: the raw maps and luma of each frame, and the fixed region for region metrics."""

    path: Path
    name: str
    input_hash: str
    width: int
    height: int
    scale: float
    maps: list[dict[str, np.ndarray]]
    luma: list[np.ndarray]
    region: list[np.ndarray] = field(default_factory=list)  # salience of the starting config
    region_key: str = ""


def load_title(path: str | Path, name: str, start: Config, searched: list[str], frames: int) -> Title:
    """Run every searched analyser once over the probe segment."""
    import hashlib

    from preanalysis.pipeline import analyze

    data = start.to_dict()
    data["analysis"]["analysers"] = sorted(set(data["analysis"]["analysers"]) | set(searched))
    config = from_dict(Config, data)
    info = probe(path)
    maps, luma, region = [], [], []
    for fa in analyze(path, config, 0, frames):
        maps.append(dict(fa.maps))
        luma.append(fa.luma)
        region.append(fa.salience)
    if not maps:
        raise PreanalysisError(f"no frames analysed in {path}: check the input")
    key = hashlib.sha256(np.stack(region).tobytes()).hexdigest()[:24]
    return Title(Path(path), name, file_hash(path), info.width, info.height, info.width / luma[0].shape[1],
                 maps, luma, region, key)


def qp_maps(title: Title, config: Config) -> list[QpMap]:
    """The QP maps `config` gives for the title's frames (the pipeline's salience and allocation steps)."""
    settings = AllocatorSettings(**vars(config.allocate))
    out = []
    for i, (maps, luma) in enumerate(zip(title.maps, title.luma)):
        sal = combine(maps, config.salience.weights, config.salience.rois, i, title.scale)
        offsets = qp_offsets(block_means(sal.astype(np.float32) / 255, title.width, title.height),
                             block_complexity(luma, title.width, title.height), settings)
        out.append(QpMap(offsets, title.width, title.height))
    return out


def curve(title: Title, variant: Variant, settings: SweepSettings, cache: Cache, qp: list[QpMap] | None) -> list[RDPoint]:
    analysis = ClipAnalysis(qp or [], title.region, title.region_key)
    info = probe(title.path)
    args = [(title.path, title.name, title.input_hash, info, settings, variant, crf, analysis, cache)
            for crf in settings.crfs]
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        return list(pool.map(lambda a: run_point(*a), args))


def score(anchor: list[RDPoint], test: list[RDPoint]) -> dict[str, float]:
    def rq(points, metric):
        return [p.bitrate_kbps for p in points], [getattr(p, metric) for p in points]

    return {
        "vmaf": bd_rate(*rq(anchor, "vmaf"), *rq(test, "vmaf")),
        "vmaf_neg": bd_rate(*rq(anchor, "vmaf_neg"), *rq(test, "vmaf_neg")),
        "salient_psnr_gain_db": bd_quality(*rq(anchor, "salient_psnr_y"), *rq(test, "salient_psnr_y")),
    }


def objective_value(scores: list[dict[str, float]], objective: str) -> float:
    """What TPE minimises: mean VMAF BD-rate, or (salience) minus the salient PSNR gain, penalised past +3%."""
    vmaf = float(np.mean([s["vmaf"] for s in scores]))
    if not np.isfinite(vmaf):
        return 1e3  # a curve that is not monotone: treat as a failed probe
    if objective == "efficiency":
        return vmaf
    gain = float(np.mean([s["salient_psnr_gain_db"] for s in scores]))
    return -gain + max(0.0, vmaf - SALIENCE_VMAF_LIMIT)


def trial_config(start: Config, params: dict[str, float | int], searched: list[str]) -> Config:
    data = start.to_dict()
    data["salience"]["weights"] = {**data["salience"]["weights"], **{m: params[f"w_{m}"] for m in searched}}
    data["allocate"]["strength"] = params["strength"]
    data["allocate"]["min_offset"], data["allocate"]["max_offset"] = -params["offset_range"], params["offset_range"]
    return from_dict(Config, data)


def start_params(start: Config, searched: list[str]) -> dict[str, float | int]:
    a = start.allocate
    return {**{f"w_{m}": float(np.clip(start.salience.weights.get(m, 0.0), -WEIGHT_RANGE, WEIGHT_RANGE))
               for m in searched},
            "strength": float(np.clip(a.strength, 0.0, 3.0)),
            "offset_range": int(np.clip(max(-a.min_offset, a.max_offset), 1, 10))}


@dataclass
class TuneResult:
    config: Config
    value: float  # objective of the best trial
    start_value: float
    scores: list[dict[str, float]]  # per title, best trial
    start_scores: list[dict[str, float]]
    trials: list[dict]


def tune(
    titles: list[Title], start: Config, searched: list[str], settings: SweepSettings, cache: Cache,
    baseline: Variant, map_params: dict[str, str], trials: int = 16, seed: int = 0,
) -> TuneResult:
    """Search weights/strength/offset range with seeded TPE, `trials` probe configurations in all."""
    import optuna

    if trials < 1:
        raise PreanalysisError("--trials must be >= 1")
    anchors = [curve(t, baseline, settings, cache, None) for t in titles]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(1, trials // 3)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial(start_params(start, searched))
    history: list[dict] = []

    def run(trial) -> float:
        params = {f"w_{m}": trial.suggest_float(f"w_{m}", -WEIGHT_RANGE, WEIGHT_RANGE) for m in searched}
        params["strength"] = trial.suggest_float("strength", 0.0, 3.0)
        params["offset_range"] = trial.suggest_int("offset_range", 1, 10)
        config = trial_config(start, params, searched)
        variant = Variant(f"trial{trial.number}", map_params, config)
        scores = [score(a, curve(t, variant, settings, cache, qp_maps(t, config))) for t, a in zip(titles, anchors)]
        value = objective_value(scores, start.objective)
        trial.set_user_attr("scores", scores)
        history.append({"trial": trial.number, "params": params, "value": value, "scores": scores})
        log.info("trial %d: %s -> objective %.3f (VMAF BD-rate per title %s)", trial.number,
                 ", ".join(f"{k}={v:.2f}" for k, v in params.items()), value,
                 ", ".join(f"{s['vmaf']:+.2f}%" for s in scores))
        return value

    study.optimize(run, n_trials=trials)
    best = study.best_trial
    first = study.trials[0]
    return TuneResult(trial_config(start, best.params, searched), best.value, first.value,
                      best.user_attrs["scores"], first.user_attrs["scores"], history)

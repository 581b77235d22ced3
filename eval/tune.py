"""Per-title tuning of the salience weights, allocation strength, offset range and the frame-level temporal
masking (gain, per frame or per scene, the segment's frame QP range) by measured VMAF BD-rate.

The analysers' raw maps do not depend on the weights, so they are computed once per title and each trial
only re-combines them (salience -> allocation), then encodes the probe segment at every CRF and measures.
Optuna's TPE (seeded) picks the trials; the starting config is always trial 0, so the result is never worse
than what you started from (on the probes).  Every probe point goes through the sweep cache.
Objective "salience" scores the PSNR-Y gain inside the user's regions when every title has them (`--regions`:
hand boxes, the median-foreground judge), else inside the starting config's own salient region.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preanalysis.qpmap import QpMap
from preanalysis.config import SALIENCE_VMAF_LIMIT, Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.pipeline import TEMPORAL, FrameAnalysis, allocate_segments, analyze, frame_qp, frame_salience
from preanalysis.video import probe

from .bdrate import bd_quality, bd_rate
from .judge import Regions
from .sweep import ClipAnalysis, PointSpec, Prober, RDPoint, Variant, file_hash

log = logging.getLogger("preanalysis")

WEIGHT_RANGE = 2.0  # searched weights lie in [-2, 2]: the sign decides more or fewer bits where a map is high
# Strength and offset range: on bikes + bigbuckbunny every probe with strength > 1.5 or range > 8 lost >= 1%
# VMAF BD-rate against AQ off, so the 16 probes are spent where a gain is possible.
MAX_STRENGTH, MAX_RANGE = 1.5, 8
# Objective "salience": the config's weights define what viewers look at, so only how hard the map pushes
# (strength, offset range) is searched, and harder pushes are allowed; maps named with --maps get a weight in
# [0, 1] searched too (how much a prior counts next to content evidence at weight 1).
MAX_STRENGTH_SALIENCE = 4.0
# Encoder-level setting searched with the map: psy-rd, from 0 up to the encoder's default.  On bikes, bigbuckbunny
# and carphone (60 frames, x264 medium, AQ off) psy-rd 0-0.25 measured about -4% VMAF BD-rate against psy-rd 1,
# while x264's own AQ at strength 0.3 (modes 1-3) lost 0.8-1.9%: so psy-rd is searched and AQ strength is not.
PSY_RD_DEFAULT = {"x264": 1.0, "x265": 2.0}
# Frame-level temporal masking (issue 11): r11 measured gains at gain 1-2 (bikes, openboard) and losses growing
# fast past 2 (bigbuckbunny +7% at 4); frame QP range 1-6 around each segment's mean.
MAX_TEMPORAL_GAIN, FRAME_QP_RANGE = 3.0, (1.0, 6.0)
# The VMAF sensitivity map's gain (allocate.sensitivity, searched when the start config has one): the default's 1.5
# was chosen from 1.0-2.0 on fit clips, where 2.0 already cost one clip +8 % VMAF BD (docs/splits.md, 21:45).
MAX_SENSITIVITY_GAIN = 3.0


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
    judge: Regions | None = None  # the user's regions (objective salience scores the gain inside them)
    scene_start: list[bool] = field(default_factory=list)


def load_title(path: str | Path, name: str, start: Config, searched: list[str], frames: int,
               judge: Regions | None = None) -> Title:
    """Run every searched analyser once over the probe segment."""
    import hashlib

    data = start.to_dict()
    data["analysis"]["analysers"] = sorted(set(data["analysis"]["analysers"]) | set(searched) | {TEMPORAL})
    config = from_dict(Config, data)
    info = probe(path)
    maps, luma, region, starts = [], [], [], []
    for fa in analyze(path, config, 0, frames):
        maps.append(dict(fa.maps))
        luma.append(fa.luma)
        region.append(fa.salience)
        starts.append(fa.scene_start)
    if not maps:
        raise PreanalysisError(f"no frames analysed in {path}: check the input")
    key = hashlib.sha256(np.stack(region).tobytes()).hexdigest()[:24]
    return Title(Path(path), name, file_hash(path), info.width, info.height, info.width / luma[0].shape[1],
                 maps, luma, region, key, judge, starts)


def qp_maps(title: Title, config: Config) -> list[QpMap]:
    """The QP maps `config` gives for the title's frames (the pipeline's salience and allocation steps)."""
    frames = []
    for i, (maps, luma, start) in enumerate(zip(title.maps, title.luma, title.scene_start)):
        sal = frame_salience(maps, config, i, title.scale)
        qp = frame_qp(sal, luma, title.width, title.height, config, maps, scene_start=start)
        frames.append(FrameAnalysis(i, i, 0.0, luma, maps, sal, qp, start))
    return [fa.qp for fa in allocate_segments(frames, config)]


def curve(prober: Prober, title: Title, variant: Variant, qp: list[QpMap] | None) -> list[RDPoint]:
    """The title's probe curve of `variant` (every CRF of the prober's settings)."""
    analysis = ClipAnalysis(qp or [], title.region, title.region_key)
    info = probe(title.path)
    return prober.points([PointSpec(title.path, title.name, title.input_hash, info, variant, crf, analysis, title.judge)
                          for crf in prober.settings.crfs])


def score(anchor: list[RDPoint], test: list[RDPoint]) -> dict[str, float]:
    def rq(points, metric):
        return [p.bitrate_kbps for p in points], [getattr(p, metric) for p in points]

    judged = all(np.isfinite(p.judged_psnr_y) for p in anchor + test)
    return {
        "vmaf": bd_rate(*rq(anchor, "vmaf"), *rq(test, "vmaf")),
        "vmaf_neg": bd_rate(*rq(anchor, "vmaf_neg"), *rq(test, "vmaf_neg")),
        "salient_psnr_gain_db": bd_quality(*rq(anchor, "salient_psnr_y"), *rq(test, "salient_psnr_y")),
        **({"judged_psnr_gain_db": bd_quality(*rq(anchor, "judged_psnr_y"), *rq(test, "judged_psnr_y"))}
           if judged else {}),
    }


def objective_value(scores: list[dict[str, float]], objective: str, vmaf_limit: float = SALIENCE_VMAF_LIMIT) -> float:
    """What TPE minimises: mean VMAF BD-rate, or (salience) minus the PSNR gain inside the judged regions (the
    own salient region where titles have none), penalised by the VMAF BD-rate past `vmaf_limit` percent."""
    vmaf = float(np.mean([s["vmaf"] for s in scores]))
    if not np.isfinite(vmaf):
        return 1e3  # a curve that is not monotone: treat as a failed probe
    if objective == "efficiency":
        return vmaf
    key = "judged_psnr_gain_db" if all("judged_psnr_gain_db" in s for s in scores) else "salient_psnr_gain_db"
    gain = float(np.mean([s[key] for s in scores]))
    if not np.isfinite(gain):
        return 1e3
    return -gain + max(0.0, vmaf - vmaf_limit)


def trial_config(start: Config, params: dict[str, float | int], searched: list[str], encoder: str = "x264") -> Config:
    data = start.to_dict()
    if "psy_rd" in params:
        data["encode"][f"{encoder}_params"] = {**data["encode"][f"{encoder}_params"],
                                               "psy-rd": f"{params['psy_rd']:.2f}" + (",0" if encoder == "x264" else "")}
    data["salience"]["weights"] = {**data["salience"]["weights"],
                                   **{m: params[f"w_{m}"] for m in searched if f"w_{m}" in params}}
    data["allocate"]["strength"] = params["strength"]
    data["allocate"]["min_offset"], data["allocate"]["max_offset"] = -params["offset_range"], params["offset_range"]
    if "temporal_gain" in params:  # measured per title: the fitted gate (temporal_min_spread) is not needed
        a = data["allocate"]
        a.update(temporal_gain=params["temporal_gain"], temporal_unit=params["temporal_unit"],
                 frame_qp_range=params["frame_qp_range"], temporal_min_spread=0.0)
        if a["segment"] == "frame":  # bits move between frames under a segment budget only
            a["segment"] = "gop"
    if "sensitivity_gain" in params:
        data["allocate"]["sensitivity_gain"] = params["sensitivity_gain"]
    return from_dict(Config, data)


def start_params(start: Config, searched: list[str], encoder: str = "x264") -> dict[str, float | int]:
    a = start.allocate
    psy = start.encode.params(encoder).get("psy-rd", str(PSY_RD_DEFAULT.get(encoder, 1.0)))
    return {**{f"w_{m}": float(start.salience.weights.get(m, 0.0)) for m in searched},
            "strength": float(a.strength), "offset_range": int(max(-a.min_offset, a.max_offset)),
            "psy_rd": float(psy.split(",")[0].split(":")[0]), "temporal_gain": float(a.temporal_gain),
            "temporal_unit": a.temporal_unit, "frame_qp_range": float(a.frame_qp_range),
            "sensitivity_gain": float(a.sensitivity_gain)}


def search_space(searched: list[str], objective: str, encoder: str = "x264", salience_weights: bool = False,
                 sensitivity: bool = False) -> dict:
    """Optuna distributions; objective salience searches weights (in [0, 1]) only when salience_weights; the
    sensitivity map's gain only when the config has one (sensitivity)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    both = {"psy_rd": FloatDistribution(0.0, PSY_RD_DEFAULT[encoder])} if encoder in PSY_RD_DEFAULT else {}
    both |= {"sensitivity_gain": FloatDistribution(0.0, MAX_SENSITIVITY_GAIN)} if sensitivity else {}
    if objective == "salience":
        weights = {f"w_{m}": FloatDistribution(0.0, 1.0) for m in searched} if salience_weights else {}
        return {**weights, "strength": FloatDistribution(0.0, MAX_STRENGTH_SALIENCE),
                "offset_range": IntDistribution(1, MAX_RANGE), **both}
    temporal = {"temporal_gain": FloatDistribution(0.0, MAX_TEMPORAL_GAIN),
                "temporal_unit": CategoricalDistribution(("frame", "scene")),
                "frame_qp_range": FloatDistribution(*FRAME_QP_RANGE)}
    return {**{f"w_{m}": FloatDistribution(-WEIGHT_RANGE, WEIGHT_RANGE) for m in searched},
            "strength": FloatDistribution(0.0, MAX_STRENGTH), "offset_range": IntDistribution(1, MAX_RANGE), **both,
            **temporal}


def suggest(trial, name: str, dist):
    """The trial's value for one searched parameter, by the kind of its distribution."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high)
    return trial.suggest_float(name, dist.low, dist.high)


@dataclass
class TuneResult:
    config: Config
    value: float  # objective of the best probe configuration
    start_value: float
    scores: list[dict[str, float]]  # per title, best configuration
    start_scores: list[dict[str, float]]
    trials: list[dict]
    check: dict | None = None  # probes measured by vmaf-torch: the best config re-measured by libvmaf


def libvmaf_check(titles: list[Title], config: Config, prober: Prober, baseline: Variant,
                  map_params: dict[str, str]) -> dict:
    """Re-measure the anchor and `config` with libvmaf: its BD-rates, and how far the probe metric was off."""
    from dataclasses import replace

    exact = Prober(replace(prober.settings, metric="libvmaf"), prober.cache)
    variant = Variant.full("checked", map_params, config, prober.settings.encoder)
    scores, diffs = [], []
    for t in titles:
        qp = qp_maps(t, config)
        curves = {}
        for name, p in (("probe", prober), ("libvmaf", exact)):
            curves[name] = (curve(p, t, baseline, None), curve(p, t, variant, qp))
        scores.append(score(*curves["libvmaf"]))
        diffs += [abs(a.vmaf - b.vmaf) for probe, exact_ in zip(curves["probe"], curves["libvmaf"])
                  for a, b in zip(probe, exact_)]
    return {"scores": scores, "mean_abs_vmaf_difference": float(np.mean(diffs)), "points": len(diffs)}


def tune(
    titles: list[Title], start: Config, searched: list[str], prober: Prober, baseline: Variant,
    map_params: dict[str, str], trials: int = 16, seed: int = 0, vmaf_limit: float = SALIENCE_VMAF_LIMIT,
    salience_weights: bool = False,
) -> TuneResult:
    """Search weights/strength/offset range with seeded TPE: `trials` probe configurations in all, the
    starting config (measured as it is, even outside the search space) being the first."""
    import optuna

    if trials < 1:
        raise PreanalysisError("--trials must be >= 1")
    settings = prober.settings
    anchors = [curve(prober, t, baseline, None) for t in titles]
    history: list[dict] = []

    def evaluate(number: int, params: dict, config: Config) -> tuple[float, list[dict[str, float]]]:
        variant = Variant.full(f"trial{number}", map_params, config, settings.encoder)
        scores = [score(a, curve(prober, t, variant, qp_maps(t, config))) for t, a in zip(titles, anchors)]
        value = objective_value(scores, start.objective, vmaf_limit)
        history.append({"trial": number, "params": params, "value": value, "scores": scores})
        log.info("trial %d: %s -> objective %.3f (VMAF BD-rate per title %s)", number,
                 ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()), value,
                 ", ".join(f"{s['vmaf']:+.2f}%" for s in scores))
        return value, scores

    if len({t.judge is None for t in titles}) > 1:
        raise PreanalysisError("give --regions for every title or for none: the objective must judge them alike")
    space = search_space(searched, start.objective, settings.encoder, salience_weights, bool(start.allocate.sensitivity))
    p0 = {k: v for k, v in start_params(start, searched, settings.encoder).items() if k in space}
    start_value, start_scores = evaluate(0, p0, start)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(1, trials // 3)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    if all(v in space[k].choices if hasattr(space[k], "choices") else space[k].low <= v <= space[k].high
           for k, v in p0.items()):  # TPE learns from the start for free
        study.add_trial(optuna.trial.create_trial(params=p0, distributions=space, value=start_value))

    def run(trial) -> float:
        params = {k: suggest(trial, k, d) for k, d in space.items()}
        value, scores = evaluate(len(history), params, trial_config(start, params, searched, settings.encoder))
        trial.set_user_attr("scores", scores)
        return value

    study.optimize(run, n_trials=trials - 1)
    tried = [t for t in study.trials if "scores" in t.user_attrs]
    best = min(tried, key=lambda t: t.value, default=None)
    if best is None or best.value >= start_value:
        result = TuneResult(start, start_value, start_value, start_scores, start_scores, history)
    else:
        result = TuneResult(trial_config(start, best.params, searched, settings.encoder), best.value, start_value,
                            best.user_attrs["scores"], start_scores, history)
    if settings.metric != "libvmaf":
        result.check = libvmaf_check(titles, result.config, prober, baseline, map_params)
        log.info("libvmaf check of the tuned config: VMAF BD-rate per title %s; probe metric off by %.3f VMAF "
                 "per point (mean of %d)", ", ".join(f"{s['vmaf']:+.2f}%" for s in result.check["scores"]),
                 result.check["mean_abs_vmaf_difference"], result.check["points"])
    return result

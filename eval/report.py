"""Turn RD points into the sweep report: BD-rates per clip and as a mean, a CSV of points, PNG RD curves.

report.json layout, for the primary mapped variant against every baseline (and the same under
`variants` for every mapped variant, e.g. an ablation):
  clips.<clip>.baselines.<baseline> = {bd_rate: {vmaf, vmaf_neg, psnr_y}, psnr_gain_db, salient_psnr_gain_db,
                                       judged_psnr_gain_db}
  clips.<clip>.judge               = where the map put its bits against the user's regions (eval --regions)
  mean.baselines.<baseline>        = the mean of the clips' values (NaNs skipped)
bd_rate is percent (negative = the mapped encode saves bits); the *_gain_db values are mean PSNR-Y gains at
equal bitrate, interpolated on the RD curves (pchip BD-PSNR): over the whole frame, inside the map's own
salient region (the top fifth of its mask: a number that rewards any mask), and inside the regions the user
judged by (`--regions`; null for clips without).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from preanalysis.io import atomic_output, atomic_write_text

from .bdrate import bd_quality, bd_rate
from .metrics import METRICS
from .sweep import RDPoint


def _curve(points: list[RDPoint], clip: str, variant: str, metric: str) -> tuple[list[float], list[float]]:
    sel = sorted((p for p in points if p.clip == clip and p.variant == variant), key=lambda p: p.bitrate_kbps)
    return [p.bitrate_kbps for p in sel], [getattr(p, metric) for p in sel]


GAINS = {"psnr_gain_db": "psnr_y", "salient_psnr_gain_db": "salient_psnr_y", "judged_psnr_gain_db": "judged_psnr_y"}


def compare(points: list[RDPoint], clip: str, test: str, anchor: str) -> dict:
    """BD-rates of `test` against `anchor` on one clip, and PSNR-Y gains at equal rate (GAINS)."""
    bd = {m: bd_rate(*_curve(points, clip, anchor, m), *_curve(points, clip, test, m)) for m in METRICS}
    return {"bd_rate": bd, **{name: _gain(points, clip, test, anchor, metric) for name, metric in GAINS.items()}}


def _gain(points: list[RDPoint], clip: str, test: str, anchor: str, metric: str) -> float:
    a, t = _curve(points, clip, anchor, metric), _curve(points, clip, test, metric)
    if not all(math.isfinite(q) for q in a[1] + t[1]):
        return float("nan")  # not measured (no regions for this clip)
    return bd_quality(*a, *t)


def _mean(entries: list[dict]) -> dict:
    def avg(values):
        finite = [v for v in values if v is not None and math.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return {"bd_rate": {m: avg([e["bd_rate"][m] for e in entries]) for m in METRICS},
            **{name: avg([e[name] for e in entries]) for name in GAINS}}


def summarise(points: list[RDPoint], baselines: list[str], mapped: list[str], settings: dict) -> dict:
    """The report dict: every mapped variant against every baseline, per clip and as a mean over clips."""
    clips = list(dict.fromkeys(p.clip for p in points))
    per_clip = {
        c: {"variants": {v: {b: compare(points, c, v, b) for b in baselines} for v in mapped}} for c in clips
    }
    mean = {"variants": {v: {b: _mean([per_clip[c]["variants"][v][b] for c in clips]) for b in baselines}
                         for v in mapped}}
    primary = mapped[0]
    for entry in (*per_clip.values(), mean):
        entry["baselines"] = entry["variants"][primary]
    return {"settings": settings, "primary": primary, "clips": per_clip, "mean": mean}


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; null = "no value" (e.g. saturated curve)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def points_csv(points: list[RDPoint]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[f.name for f in fields(RDPoint)], lineterminator="\n")
    writer.writeheader()
    for p in points:
        writer.writerow(asdict(p))
    return buf.getvalue()


def plot_clip(points: list[RDPoint], clip: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for variant in dict.fromkeys(p.variant for p in points if p.clip == clip):
        rates, vmaf = _curve(points, clip, variant, "vmaf")
        ax.plot(rates, vmaf, marker="o", label=variant)
    ax.set_xscale("log")
    ax.set(xlabel="bitrate (kbit/s)", ylabel="VMAF v0.6.1", title=f"{clip}: rate vs VMAF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _fmt(v, unit: str) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:+.2f}{unit}"


def markdown_table(report: dict) -> str:
    """Rows = mapped variants (e.g. an ablation) x baselines; mean BD-rates over clips, as a README table; with
    the judged regions' gain (mean over the clips that have regions) when any clip has them."""
    judged = any("judge" in c for c in report["clips"].values())
    lines = ["| configuration | vs baseline | VMAF | VMAF-NEG | PSNR-Y | salient PSNR-Y gain |"
             + (" judged PSNR-Y gain |" if judged else ""), "|---|---|---|---|---|---|" + ("---|" if judged else "")]
    for baseline in report["mean"]["baselines"]:
        for variant, by_base in report["mean"]["variants"].items():
            e = by_base[baseline]
            lines.append(f"| {variant} | {baseline} | " + " | ".join(_fmt(e["bd_rate"][m], "%") for m in METRICS)
                         + f" | {_fmt(e['salient_psnr_gain_db'], ' dB')} |"
                         + (f" {_fmt(e['judged_psnr_gain_db'], ' dB')} |" if judged else ""))
    return "\n".join(lines) + "\n"


def judged_table(report: dict) -> str:
    """Per clip with regions, the primary variant: PSNR-Y gain inside the user's regions next to the
    full-frame numbers, and where the map put its bits (clips.<clip>.judge)."""
    head = ("| clip | regions | vs baseline | judged PSNR-Y gain | full-frame PSNR-Y gain | VMAF | VMAF-NEG | "
            "judged share of frame | protected share | protected covers judged | centre prior's share of protected |")
    lines = [head, "|---" * 11 + "|"]
    share = lambda v: "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f}%"
    for clip, entry in report["clips"].items():
        if "judge" not in entry:
            continue
        j = entry["judge"]
        for baseline, e in entry["baselines"].items():
            lines.append(f"| {clip} | {j['source']} | {baseline} | {_fmt(e['judged_psnr_gain_db'], ' dB')} | "
                         f"{_fmt(e['psnr_gain_db'], ' dB')} | {_fmt(e['bd_rate']['vmaf'], '%')} | "
                         f"{_fmt(e['bd_rate']['vmaf_neg'], '%')} | {share(j['judged_share'])} | "
                         f"{share(j['protected_share'])} | {share(j['protected_covers_judged'])} | "
                         f"{share(j['centre_prior_share'])} |")
    return "\n".join(lines) + "\n"


def guard_table(report: dict) -> str:
    """Per clip, what the segment guard decided on the primary variant's analysis (clips.<clip>.guard): how many
    frames kept a map, and each run of frames with its estimate and verdict."""
    from preanalysis.verify import frames_with, verdict_text

    allocate = report["settings"].get("config", {}).get("allocate", {})
    lines = ["| clip | frames with a map | frames: the guard's verdict |", "|---|---|---|"]
    for clip, entry in report["clips"].items():
        runs = entry.get("guard")
        if not runs:
            continue
        said = "; ".join(f"{r['start']}–{r['start'] + r['frames'] - 1}: "
                         + verdict_text(r["choice"], [math.nan if v is None else v for v in r["estimate"]],
                                        allocate).removeprefix("guard: ") for r in runs)
        lines.append(f"| {clip} | {frames_with(runs)} of {sum(r['frames'] for r in runs)} | {said} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict, points: list[RDPoint], out_dir: Path) -> list[Path]:
    """report.json, rd_points.csv, rd_<clip>.png and summary.md (mean BD-rates, one row per variant)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json", out_dir / "rd_points.csv"]
    atomic_write_text(written[0], json.dumps(_json_safe(report), indent=2) + "\n")
    atomic_write_text(written[1], points_csv(points))
    for clip in report["clips"]:
        written.append(out_dir / f"rd_{clip}.png")
        plot_clip(points, clip, written[-1])
    written.append(out_dir / "summary.md")
    links = "".join(f"- {clip}: [RD curve]({p['rd_curve']}), [salience / QP contact sheet]({p['contact_sheet']})\n"
                    for clip, p in report.get("plots", {}).items())
    judged = any("judge" in c for c in report["clips"].values())
    guarded = any(c.get("guard") for c in report["clips"].values())
    atomic_write_text(written[-1], markdown_table(report) + (f"\nJudged regions (eval --regions), {report['primary']}:"
                                                             f"\n\n{judged_table(report)}" if judged else "")
                      + (f"\nThe segment guard on {report['primary']}'s analysis (its map is coded only where its"
                         f" own encodes estimate a saving):\n\n{guard_table(report)}" if guarded else "")
                      + (f"\nPlots:\n{links}" if links else ""))
    return written

"""Motion prediction engine: a ConvGRU on the backbone's grid that predicts the motion field n frames ahead.

Each step it is fed the current frame's backbone features, the current backward motion field, that field
advected by itself (where the motion will have carried it), its change since the last frame, and how well
the field explains the frame pair (the current features minus the previous frame's features warped by the
field: large where the backbone's flow is unreliable, so the correction can damp it there); the past
motion fields live in its recurrent state.  It outputs the field between frames t+n-1 and t+n as a
residual on the current one (so an untrained head starts from "motion stays as it is").  Per grid cell,
`Fallback` then keeps the prediction, or falls back to constant velocity or zero motion, whichever has
lately predicted the frames best, and the `predicted_motion` analyser turns its magnitude into a [0, 1] map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import PreanalysisError
from . import flow_motion as backbone
from ..blocks import ConvGRUCell
from ..data import GRID, Clip, report_clip, training_clips
from ..teacher import warp_torch
from ..training import fit, seed_everything, ship
from ..contract import LearnedModel
from ..weights import for_inference, load_weights

ARCH = "motion_predictor_convgru_v2"  # v2: + feature-consistency inputs
NAME = "predicted_motion"
WINDOW = 4  # warm-up steps (past motion fields) before a prediction counts in the report
UNROLL = 2 * WINDOW  # steps training unrolls
FLOW_SCALE = 0.25  # grid pixels -> network input units
MEMORY = 0.5  # weight of the newest frame in the fallback's running warping error per candidate


class MotionPredictor(nn.Module):
    def __init__(self, feature_channels: int = 24, hidden: int = 16, horizon: int = 1):
        super().__init__()
        self.horizon, self.hidden = horizon, hidden
        self.squeeze = nn.Conv2d(feature_channels, 8, 1)
        self.consistency = nn.Conv2d(feature_channels, 4, 1)  # of (features - warped previous features)
        self.cell = ConvGRUCell(8 + 4 + 1 + 6, hidden)
        self.head = nn.Conv2d(hidden, 2, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def initial_state(self, flow: torch.Tensor) -> torch.Tensor:
        return flow.new_zeros(flow.shape[0], self.hidden, *flow.shape[-2:])

    def step(self, feat: torch.Tensor, flow: torch.Tensor, prev_flow: torch.Tensor, h: torch.Tensor,
             prev_feat: torch.Tensor | None = None):
        """One frame: (features, backward flow now, backward flow one frame earlier, state, previous frame's
        features; None on the first frame) -> (prediction, state)."""
        advected = warp_torch(flow, flow)
        diff = feat - warp_torch(feat if prev_feat is None else prev_feat, flow)
        x = torch.cat((F.leaky_relu(self.squeeze(feat), 0.1), self.consistency(diff), diff.abs().mean(1, keepdim=True),
                       FLOW_SCALE * flow, FLOW_SCALE * advected, FLOW_SCALE * (flow - prev_flow)), 1)
        h = self.cell(x, h)
        return flow + self.head(h) / FLOW_SCALE, h


class Fallback:
    """Per grid cell, the prediction to trust: the network's, constant velocity (the current field again)
    or zero motion, whichever has lately predicted the frames best.

    Each frame, the three candidates made `horizon` frames earlier (for the frame pair that has now arrived)
    are scored by how well each carries the previous frame onto the current one (mean absolute warping
    error per cell); a cell's score is a running average (the newest frame weighs MEMORY) and the cell takes
    the candidate with the lowest score, ties going to the simpler (zero, then constant).  Only frames seen
    so far are used, so the analyser and the report run the same rule.  Until a prediction could be scored,
    the network's candidate scores as the constant one does (the current field on the current pair).
    """

    CANDIDATES = ("zero", "constant", "network")  # in the order ties are broken

    def __init__(self, horizon: int = 1):
        self.horizon = horizon
        self.reset()

    def reset(self) -> None:
        self.pending: list[torch.Tensor] = []  # the candidates of the last `horizon` frames, oldest first
        self.score: torch.Tensor | None = None  # (3, B, 1, h, w) running warping error per candidate

    def step(self, prediction: torch.Tensor, flow: torch.Tensor, cur: torch.Tensor, prev: torch.Tensor,
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """prediction: the network's field `horizon` pairs ahead; flow: the current field (cur -> prev, the
        backbone's, on the grid); cur, prev (B, 1, H, W) analysis luma -> (the field to report, the index in
        CANDIDATES each cell took, (B, 1, h, w))."""
        candidates = torch.stack((torch.zeros_like(flow), flow, prediction))
        if self.pending and self.pending[0].shape != candidates.shape:
            self.reset()
        if len(self.pending) == self.horizon:
            errors = torch.stack([backbone.warp_error(c, cur, prev) for c in self.pending.pop(0)])
            self.score = (1 - MEMORY) * self.score + MEMORY * errors
        elif self.score is None:
            current = torch.stack((backbone.warp_error(candidates[0], cur, prev), backbone.warp_error(flow, cur, prev)))
            self.score = torch.cat((current, current[1:]))
        self.pending.append(candidates)
        choice = self.score.argmin(0)  # the first of equal scores: the simpler candidate
        return torch.gather(candidates, 0, choice[None].expand(1, *flow.shape))[0], choice


class PredictedMotionModel(LearnedModel):
    """The predictor on its device; infer(features, flow, previous flow, state, previous features) is one
    recurrent step (see MotionPredictor.step); `horizon` must match what the weights were trained for."""

    name, arch = NAME, ARCH

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", horizon: int = 1):
        self.horizon = horizon
        super().__init__(weights, device)

    def build(self) -> MotionPredictor:
        return MotionPredictor(horizon=self.horizon)

    def load(self, weights: str | Path) -> MotionPredictor:
        net = self.build()
        meta = load_weights(net, weights, ARCH)
        if meta.get("horizon", 1) != self.horizon:
            raise PreanalysisError(
                f"predictor weights {weights} predict {meta.get('horizon')} frame(s) ahead, not {self.horizon}:"
                f" train them with that horizon or use horizon {meta.get('horizon')}"
            )
        return for_inference(net, self.device)

    def infer(self, feat, flow, prev_flow, h, prev_feat=None):
        return self.net.step(feat, flow, prev_flow, h, prev_feat)


# ---------------------------------------------------------------- training and report


class _Sampler:
    """Random grid crops of UNROLL consecutive steps: backbone inputs and the teacher field n ahead."""

    def __init__(self, data: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], horizon: int, crop: int, batch: int):
        self.steps, self.horizon, self.crop, self.batch = UNROLL, horizon, crop, batch
        self.data = [d for d in data if len(d[0]) > self.steps + horizon]
        if not self.data:
            raise PreanalysisError(f"training clips are shorter than the predictor's window of {self.steps + horizon + 1} frames: give longer clips")

    def __call__(self, rng: np.random.Generator):
        out = []
        for _ in range(self.batch):
            flows, feats, teacher = self.data[rng.integers(len(self.data))]
            s = int(rng.integers(1, len(flows) - self.steps - self.horizon + 1))
            gh, gw = flows.shape[-2:]
            ch, cw = min(self.crop, gh), min(self.crop, gw)
            y, x = int(rng.integers(0, gh - ch + 1)), int(rng.integers(0, gw - cw + 1))
            c = np.s_[..., y:y + ch, x:x + cw]
            seq = (flows[s - 1:s + self.steps][c], feats[s - 1:s + self.steps][c],
                   teacher[s + self.horizon:s + self.steps + self.horizon][c])
            if rng.random() < 0.5:
                seq = tuple(t.flip(-1) for t in seq)
                seq = (seq[0] * torch.tensor([-1.0, 1.0])[:, None, None], seq[1], seq[2] * torch.tensor([-1.0, 1.0])[:, None, None])
            out.append(seq)
        hmin = min(o[0].shape[-2] for o in out)
        wmin = min(o[0].shape[-1] for o in out)
        return tuple(torch.stack([o[i][..., :hmin, :wmin] for o in out], 1) for i in range(3))


def loss_of(net: MotionPredictor, flows: torch.Tensor, feats: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """flows/feats (S+1, B, ...) starting one frame early; targets (S, B, ...). Mean EPE after WINDOW//2 steps."""
    h = net.initial_state(flows[0])
    losses = []
    for k in range(len(targets)):
        pred, h = net.step(feats[k + 1], flows[k + 1], flows[k], h, feats[k])
        if k >= WINDOW // 2:
            losses.append(torch.sqrt(((pred - targets[k]) ** 2).sum(1) + 1e-6).mean())
    return torch.stack(losses).mean()


def _clip_data(clips: list[Clip], engine: backbone.FlowMotionModel):
    data = []
    for clip in clips:
        flows, feats = backbone.backbone_sequence(clip, engine)
        # prepend B_0 = B_1 so index k of flows is B_k; teacher[k] is the teacher's B_{k+1}
        data.append((torch.cat((flows[:1], flows)), torch.cat((feats[:1], feats)), torch.from_numpy(np.concatenate((clip.back[:1], clip.back)))))
    return data


def train(videos: list[Path] | None = None, quick: bool = False, out: Path | None = None, horizon: int = 1) -> dict:
    """Train on the shipped backbone's flows over the heads of the training clips, teacher fields as targets."""
    seed_everything(0)
    engine = backbone.FlowMotionModel(device="cpu")
    data = _clip_data(training_clips(videos, quick, min_frames=UNROLL + horizon + 2), engine)
    net = MotionPredictor(horizon=horizon)
    sample = _Sampler(data, horizon, crop=16 if quick else 40, batch=4 if quick else 16)
    stats = fit(net, lambda rng: loss_of(net, *sample(rng)), 100 if quick else 2500, lr=2e-3,
                max_seconds=20 if quick else 1500, name="predictor")
    return ship(net, stats, out, quick, NAME, ARCH, {"horizon": horizon, "window": WINDOW, "unroll": UNROLL})


@torch.inference_mode()
def report_one(clip: Clip, net: MotionPredictor, engine: backbone.FlowMotionModel) -> dict:
    """Run recurrently over the clip with the fallback, as the analyser does; after WINDOW warm-up steps
    compare the field for t+n with the teacher's, next to the network alone, zero motion and constant
    velocity, and count the cells that took each candidate."""
    n = net.horizon
    flows, feats = backbone.backbone_sequence(clip, engine)
    teacher = torch.from_numpy(clip.back)  # teacher[k] = teacher B_{k+1}
    luma = torch.from_numpy(clip.luma)[:, None]
    epe = lambda a, b: float(torch.linalg.vector_norm(a - b, dim=0).mean())  # noqa: E731
    h, prev, fallback = net.initial_state(flows[:1]), flows[:1], Fallback(n)
    rows, shares = [], []
    for k in range(len(flows) - n):  # input B_{k+1}, target teacher B_{k+1+n} = teacher[k+n]
        pred, h = net.step(feats[k:k + 1], flows[k:k + 1], prev, h, feats[k - 1:k] if k else None)
        field, choice = fallback.step(pred, flows[k:k + 1], luma[k + 1:k + 2], luma[k:k + 1])  # B_{k+1}: k+1 -> k
        prev = flows[k:k + 1]
        if k >= WINDOW:
            tgt = teacher[k + n]
            rows.append((epe(field[0], tgt), epe(pred[0], tgt), epe(0 * tgt, tgt), epe(teacher[k], tgt),
                         epe(flows[k], tgt)))
            shares.append([float((choice == i).float().mean()) for i in range(len(Fallback.CANDIDATES))])
    if not rows:
        raise PreanalysisError(f"{clip.path} is too short for the predictor's window of {WINDOW + n + 2} frames: give a longer clip")
    e = np.mean(rows, axis=0) * GRID * clip.scale
    share = np.mean(shares, axis=0)
    return {"frames": len(clip.luma), "horizon": n, "epe": e[0], "epe_network": e[1], "epe_zero": e[2],
            "epe_constant": e[3], "epe_constant_backbone": e[4], "ratio_to_constant": e[0] / e[3],
            **{f"cells_{name}": float(v) for name, v in zip(Fallback.CANDIDATES, share)}}


def report(clips: list[Path], horizon: int = 1, weights: str | Path = NAME) -> dict:
    """Per clip (held-out tail, or PATH@START) and mean: prediction EPE vs teacher (with the fallback, and the
    network alone) next to the zero and constant-velocity baselines, and the share of cells that fell back."""
    net = PredictedMotionModel(weights, horizon=horizon).net
    engine = backbone.FlowMotionModel(device="cpu")
    per = {str(p): report_one(report_clip(p, min_frames=WINDOW + horizon + 2), net, engine) for p in clips}
    keys = ("epe", "epe_network", "epe_zero", "epe_constant", "epe_constant_backbone",
            *(f"cells_{name}" for name in Fallback.CANDIDATES))
    mean = {k: float(np.mean([v[k] for v in per.values()])) for k in keys}
    mean["ratio_to_constant"] = mean["epe"] / mean["epe_constant"]
    every = all(v["epe"] <= v["epe_constant"] for v in per.values())
    return {"unit": "epe in source pixels per frame: epe is what the analyser reports (the fallback's choice per"
                    " cell), epe_network the network alone; epe_constant repeats the teacher's last field,"
                    " epe_constant_backbone the backbone's (the predictor's own input); cells_*: share of grid"
                    " cells that took each candidate",
            "target": "epe <= epe_constant on every clip and <= 0.9 * epe_constant on the mean",
            "target_met": bool(every and mean["ratio_to_constant"] <= 0.9), "clips": per, "mean": mean}

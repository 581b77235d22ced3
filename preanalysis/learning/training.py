"""The one training loop every model here uses: fixed seed, Adam, a batch sampler, a wall-clock cap."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import numpy as np
import torch

log = logging.getLogger("preanalysis")


def seed_everything(seed: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(model: torch.nn.Module, loss_of_batch: Callable[[np.random.Generator], torch.Tensor], steps: int,
        lr: float = 2e-3, seed: int = 0, max_seconds: float | None = None, name: str = "model") -> dict:
    """Train for `steps` (or until max_seconds); returns the mean loss of the first and last tenth of steps."""
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.05)
    losses, t0 = [], time.perf_counter()
    model.train()
    for step in range(steps):
        loss = loss_of_batch(rng)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            log.info("train %s: step %d/%d loss %.4f", name, step, steps, losses[-1])
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    model.eval()
    k = max(1, len(losses) // 10)
    return {"steps": len(losses), "loss_first": float(np.mean(losses[:k])), "loss_last": float(np.mean(losses[-k:])),
            "seconds": round(time.perf_counter() - t0, 1)}


def param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def ship(net: torch.nn.Module, stats: dict, out, quick: bool, shipped_name: str, arch: str, meta: dict) -> dict:
    """Record the parameter count and write the weights: to `out`, or to the shipped file after a full run.

    A --quick run without --out writes nothing, so tests never overwrite the weights the package ships.
    """
    from .weights import save_weights

    stats["params"] = param_count(net)
    target = out if out is not None else (None if quick else shipped_name)
    if target is not None:
        stats["weights"] = str(save_weights(net, target, arch, {**meta, "train": stats}))
    return stats

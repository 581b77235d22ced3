"""VMAF, VMAF-NEG and PSNR-Y through vmaf-torch: the fast path for tuning probes on a CUDA GPU.

libvmaf stays the reference for every reported number; vmaf-torch only steers a search (measured before this project:
it within 0.4 VMAF of libvmaf per frame at CRF 27 but 1.8 at CRF 37).  `tune` re-measures its anchor and its
best probe with libvmaf and reports the agreement, so a user sees how far the probes could be trusted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from preanalysis.errors import PreanalysisError

from .metrics import FrameScores
from .pairing import pairs

CHUNK = 32  # frames scored per batch
LEAD = 2  # frames repeated before each batch (with one after it) so VMAF's motion feature stays exact


def available() -> bool:
    try:
        import vmaf_torch  # noqa: F401
    except ImportError:
        return False
    return True


def probe_metric(choice: str) -> str:
    """auto -> vmaf-torch on a CUDA device when it is installed, else libvmaf."""
    if choice not in ("auto", "libvmaf", "vmaf-torch"):
        raise PreanalysisError(f"probe metric {choice!r} is not valid: use auto, libvmaf or vmaf-torch")
    if choice == "vmaf-torch" and not available():
        raise PreanalysisError("vmaf-torch is not installed: pip install vmaf-torch, or use --probe-metric libvmaf")
    if choice == "auto":
        return "vmaf-torch" if torch.cuda.is_available() and available() else "libvmaf"
    return choice


def _chunks(frames, peak: float):
    """(lead, n, reference, encode): luma batches (N, 1, H, W) in 0..255 whose frames lead..lead+n are to be
    scored, streamed so a long clip never sits in memory whole.  VMAF's motion feature of a frame looks at the
    frame before and after it, so each batch also carries `lead` frames before and one frame after its own.
    The Y plane as coded, like libvmaf reads it (a "gray" conversion would stretch limited range to full);
    10-bit luma on the 8-bit scale."""
    scale = np.float32(255 / peak)
    to_y = lambda plane: torch.from_numpy(plane.astype(np.float32) * scale)[None]
    stack = lambda held: (torch.stack([r for r, _ in held]), torch.stack([e for _, e in held]))
    held: list[tuple[torch.Tensor, torch.Tensor]] = []
    lead = 0
    for pair in frames:
        held.append((to_y(pair.reference[0]), to_y(pair.encoded[0])))
        if len(held) == lead + CHUNK + 1:
            yield lead, CHUNK, *stack(held)
            keep = min(LEAD, lead + CHUNK)  # scored frames the next batch repeats
            held, lead = held[lead + CHUNK - keep:], keep
    if len(held) > lead:
        yield lead, len(held) - lead, *stack(held)


def measure_torch(reference: str | Path, encoded: str | Path, frames: int | None = None,
                  device: str | None = None) -> FrameScores:
    """Per-frame scores like eval.metrics.measure (the same pairs, the same alignment guard), computed by
    vmaf-torch on `device` (default: CUDA if present)."""
    from vmaf_torch import VMAF

    target, paired = pairs(reference, encoded, 0, frames)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    models = {name: VMAF(NEG=neg).to(dev).eval() for name, neg in (("vmaf", False), ("vmaf_neg", True))}
    out: dict[str, list[np.ndarray]] = {"vmaf": [], "vmaf_neg": [], "psnr_y": []}
    with torch.inference_mode():
        for lead, n, ref, enc in _chunks(paired, target.peak):
            r, d = ref.to(dev), enc.to(dev)
            for name, model in models.items():
                out[name].append(model(r, d).flatten()[lead:lead + n].double().cpu().numpy())
            mse = ((ref[lead:lead + n] - enc[lead:lead + n]) ** 2).flatten(1).mean(1).double().numpy()
            out["psnr_y"].append(np.minimum(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10)), 60.0))
    return FrameScores(*(np.concatenate(out[m]) for m in ("vmaf", "vmaf_neg", "psnr_y")))

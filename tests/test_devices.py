"""analysis.device reaches every learned analyser (issue: build_analysers never passed it on)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from preanalysis.analysers.base import ANALYSERS
from preanalysis.config import Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.models import flow, zoo
from preanalysis.pipeline import analyze, build_analysers

zoo.load_all()
LEARNED = sorted(n for n, cls in ANALYSERS.items() if cls.__module__.startswith("preanalysis.models."))

# the networks each learned analyser runs; a new learned analyser must be added here
NETWORKS = {
    "flow_motion": lambda a: [flow.engine(device=a.device).net],
    "objects": lambda a: [a.segmenter.net],
    "predictability": lambda a: [a.net],
    "predicted_motion": lambda a: [a.net, flow.engine(device=a.device).net],
    "static": lambda a: [a.masker.net],
}


def learned_config(device: str, names=LEARNED) -> Config:
    maps = {m: 0.5 for n in names for m in ANALYSERS[n].maps}
    return from_dict(Config, {"analysis": {"device": device, "max_width": 160}, "salience": {"weights": maps}})


def devices(analyser) -> set[str]:
    return {p.device.type for net in NETWORKS[analyser.name](analyser) for p in net.parameters()}


def test_every_learned_analyser_is_covered():
    assert LEARNED and sorted(NETWORKS) == LEARNED


def test_cpu_device_puts_every_learned_network_on_cpu_and_analyses(carphone):
    config = learned_config("cpu")
    built = {a.name: a for a in build_analysers(config)}
    assert set(LEARNED) <= set(built)
    for name in LEARNED:
        assert devices(built[name]) == {"cpu"}, name
    frames = list(analyze(carphone, config, stop=5))
    assert [f.index for f in frames] == list(range(5))
    for f in frames:
        for name in LEARNED:
            for m in ANALYSERS[name].maps:
                assert np.isfinite(f.maps[m]).all(), (f.index, m)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is missing")
@pytest.mark.parametrize("name", LEARNED)
def test_cuda_device_without_cuda_is_a_one_line_error(name, carphone):
    config = learned_config("cuda", [name])
    with pytest.raises(PreanalysisError, match="no CUDA device"):
        build_analysers(config)
    with pytest.raises(PreanalysisError, match="no CUDA device"):
        next(analyze(carphone, config))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_puts_every_learned_network_on_cuda(carphone):
    config = learned_config("cuda")
    built = {a.name: a for a in build_analysers(config)}
    for name in LEARNED:
        assert devices(built[name]) == {"cuda"}, name
    frames = list(analyze(carphone, config, stop=3))
    assert all(np.isfinite(f.maps[m]).all() for f in frames for n in LEARNED for m in ANALYSERS[n].maps)

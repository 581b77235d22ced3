"""analysis.device reaches every network the product runs: each learned analyser, the mask stabiliser and the
learned temporal pre-filter (CPU here; the CUDA checks run where a CUDA device exists and skip elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from preanalysis.analysers import ANALYSERS, LEARNED, load_learned
from preanalysis.analysers.flow_motion import engine
from preanalysis.config import Config, from_dict
from preanalysis.errors import PreanalysisError
from preanalysis.pipeline import analyze, build_analysers, mask_stabiliser
from preanalysis.prefilters import temporal as temporal_filter
from preanalysis.video import decode

for _name in LEARNED:
    load_learned(_name)

# the networks each learned analyser runs; a new learned analyser must be added here
NETWORKS = {
    "flow_motion": lambda a: [engine(a.weights, a.device).net],
    "objects": lambda a: [a.model.net],
    "predictability": lambda a: [a.model.net],
    "predicted_motion": lambda a: [a.net, engine(device=a.device).net],
    "static": lambda a: [a.model.net],
    "sensitivity": lambda a: [a.model.net],
    "vmaf_teacher": lambda a: [g.model for g in a.gradients],
}
HAS_CUDA = torch.cuda.is_available()


def learned_config(device: str, names=LEARNED, stabilise: bool = False) -> Config:
    maps = {m: 0.5 for n in names for m in ANALYSERS[n].maps}
    return from_dict(Config, {"analysis": {"device": device, "max_width": 160, "stabilise": stabilise},
                              "salience": {"weights": maps}, "allocate": {"verify": False}})  # the networks only


def devices(nets) -> set[str]:
    return {p.device.type for net in nets for p in net.parameters()}


def test_every_learned_analyser_is_covered():
    assert sorted(NETWORKS) == sorted(LEARNED) and all(ANALYSERS[n].learned for n in LEARNED)
    assert not any(cls.learned for name, cls in ANALYSERS.items() if name not in LEARNED)


def spy_on_the_temporal_filter(monkeypatch) -> list:
    """The PredictabilityModel instances the pre-filter creates (real ones), to see where they run."""
    made = []
    real = temporal_filter.PredictabilityModel

    def make(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(temporal_filter, "PredictabilityModel", make)
    return made


def run_everything_on(device: str, clip, monkeypatch) -> None:
    config = learned_config(device, stabilise=True)
    built = {a.name: a for a in build_analysers(config)}
    for name in LEARNED:
        assert devices(NETWORKS[name](built[name])) == {device}, name
    stabiliser = mask_stabiliser(config)
    assert devices([stabiliser.model.net]) == {device}
    frames = list(analyze(clip, config, stop=5))
    assert [f.index for f in frames] == list(range(5))
    for f in frames:
        for name in LEARNED:
            assert np.isfinite(f.maps[name]).all(), (f.index, name)
        assert f.salience.dtype == np.uint8
    made = spy_on_the_temporal_filter(monkeypatch)
    filtered = list(temporal_filter.prefilter_frames(decode(clip, 0, 4), 1.0, device=device))
    assert len(filtered) == 4 and len(made) == 1 and devices([made[0].net]) == {device}


def test_cpu_puts_every_network_on_the_cpu_and_runs(carphone, monkeypatch):
    run_everything_on("cpu", carphone, monkeypatch)


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised when CUDA is missing")
@pytest.mark.parametrize("name", LEARNED)
def test_cuda_device_without_cuda_is_a_one_line_error(name, carphone):
    config = learned_config("cuda", [name])
    with pytest.raises(PreanalysisError, match="no CUDA device"):
        build_analysers(config)
    with pytest.raises(PreanalysisError, match="no CUDA device"):
        next(analyze(carphone, config))


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised when CUDA is missing")
def test_cuda_stabiliser_and_temporal_filter_without_cuda_are_one_line_errors(carphone):
    with pytest.raises(PreanalysisError, match="no CUDA device"):
        mask_stabiliser(learned_config("cuda", ["flow_motion"], stabilise=True))
    with pytest.raises(PreanalysisError, match="no CUDA device"):
        list(temporal_filter.prefilter_frames(decode(carphone, 0, 6), 1.0, device="cuda"))


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_puts_every_network_on_cuda_and_runs(carphone, monkeypatch):
    run_everything_on("cuda", carphone, monkeypatch)

"""x265 per-block QP read-back through libde265 (Debian's libde265-0; the tests skip without it)."""

from __future__ import annotations

import numpy as np
import pytest

from encoder_adapters import EncodeSettings, encode_frames
from encoder_adapters.readback_hevc import BLOCK, available, read_hevc_qps
from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.video import decode, probe

pytestmark = pytest.mark.skipif(not available(), reason="libde265 is not installed (apt-get install libde265-0)")


def test_constant_qp_reads_back_exactly(bikes, tmp_path):
    """x265 --qp 30 with ipratio 1 and AQ off codes every block of every (intra) picture at QP 30."""
    out = tmp_path / "cqp.hevc"
    encode_frames(lambda: decode(bikes, 0, 2), probe(bikes), out, EncodeSettings(
        "x265", crf=28, preset="faster", params={"qp": "30", "ipratio": "1", "aq-mode": "0", "keyint": "1"}))
    pictures = read_hevc_qps(out)
    assert len(pictures) == 2
    for intra, qp in pictures:
        assert intra and qp.shape == grid_shape(640, 272, BLOCK) and np.all(qp == 30)


def random_block_maps(width: int, height: int, count: int, block: int, seed: int = 1) -> list[QpMap]:
    """A random +-8 QP offset per block x block square (16-px QpMap grid), one map per frame."""
    rng = np.random.default_rng(seed)
    rows, cols = grid_shape(width, height, block)
    r16, c16 = grid_shape(width, height)
    k = block // 16
    return [QpMap(np.kron(rng.integers(-8, 9, (rows, cols)), np.ones((k, k), int))[:r16, :c16].astype(np.int8),
                  width, height) for _ in range(count)]


def block_medians(qp: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    k = block // BLOCK
    return np.array([[np.median(qp[r * k:(r + 1) * k, c * k:(c + 1) * k]) for c in range(shape[1])]
                     for r in range(shape[0])])


def test_random_map_reads_back_on_intra_pictures(bikes, tmp_path):
    """The issue's target: a random +-8 map per 64x64 block correlates >= 0.8 with the read-back on I-frames
    (measured 0.93 and 0.87 on bikes, 0.99 on carphone at CRF 27; CRF chosen so the QPs stay inside libde265's 20..40)."""
    info, count, block = probe(bikes), 8, 64
    maps = random_block_maps(info.width, info.height, count, block)
    out = tmp_path / "random.mp4"  # a container: the read-back converts it to Annex B itself
    encode_frames(lambda: decode(bikes, 0, count), info, out, EncodeSettings(
        "x265", crf=27, preset="faster", params={"keyint": "4"}), lambda i: maps[i])
    pictures = read_hevc_qps(out)
    intra = [(i, qp) for i, (is_intra, qp) in enumerate(pictures) if is_intra]
    assert [i for i, _ in intra] == [0, 4]
    full = (info.height // block, info.width // block)  # whole blocks only (the last row is cut at 272)
    for i, qp in intra:
        want = maps[i].offsets[:: block // 16, :: block // 16][: full[0], : full[1]]
        got = block_medians(qp, block, full)
        assert np.corrcoef(want.ravel(), got.ravel())[0, 1] >= 0.8


def test_not_hevc_is_refused(carphone):
    with pytest.raises(PreanalysisError, match="not HEVC"):
        read_hevc_qps(carphone)

"""The segment guard (allocate.verify): a segment's offsets are checked by real x264 encodes and VMAF / VMAF-NEG
at analysis resolution, and switched off where they do not save rate by more than the margin."""

from __future__ import annotations

import argparse
from fractions import Fraction

import cv2
import av
import numpy as np
import pytest
import torch

from preanalysis.errors import PreanalysisError
from preanalysis.qpmap import QpMap
from preanalysis.verify import GuardSettings, analysis_maps, measure, two_point_bd_rate, verify

vmaf_torch = pytest.importorskip("vmaf_torch")


def test_two_point_bd_rate_compares_rates_at_equal_score():
    assert two_point_bd_rate((1000, 500), (90, 80), (900, 450), (90, 80)) == pytest.approx(-10.0)
    # the same rates one point better: each score is reached at the rate of one point less, 2^(-1/10) of it
    assert two_point_bd_rate((1000, 500), (90, 80), (1000, 500), (91, 81)) == pytest.approx(100 * (2 ** -0.1 - 1))
    # no common scores: both lines read in the middle of the gap (75), curve 1 two octaves dearer there
    assert two_point_bd_rate((1000, 500), (90, 80), (1000, 500), (70, 60)) == pytest.approx(300.0)
    assert two_point_bd_rate((1000, 500), (90, 90), (800, 400), (90, 90)) == pytest.approx(-20.0)


def test_analysis_maps_take_the_mean_offset_of_the_covered_blocks():
    offsets = np.zeros((2, 45, 80), np.int8)  # a 1280x720 encode
    offsets[0, :, :40] = -4
    offsets[1, ::2, ::2] = 4  # one block in four
    maps = analysis_maps(offsets, (360, 640))
    assert [m.offsets.shape for m in maps] == [(23, 40), (23, 40)]
    assert np.all(maps[0].offsets[:, :20] == -4) and np.all(maps[0].offsets[:, 20:] == 0)
    assert np.all(maps[1].offsets[:22] == 1)


def test_the_guards_encodes_are_repeatable_in_one_process():
    """The guard codes with x264 as the x264 adapter does, without its AVX-512 code (test_encoders): with it, on a
    CPU that has it, the same 16 frames coded to 2-4 different streams in 8 encodes here, and the guard's verdicts,
    so the maps, changed from run to run (the farm's batch then differed from `analyze`).  An earlier encode of
    another size, then eight of the same frames: one stream.  (A regression check, not proof.)"""
    from preanalysis.learning.scenes import moving_objects
    from preanalysis.learning.teacher_vmaf import encode_decode, yuv_frames

    scene = moving_objects(width=160, height=96, frames=16, objects=2, pan=(1.0, 0.5), seed=10)
    lumas = np.array([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in scene.rgb])
    encode_decode(yuv_frames(np.random.default_rng(0).integers(0, 255, (4, 128, 256), np.uint8)), 30)
    assert len({encode_decode(yuv_frames(lumas), 32)[1] for _ in range(12)}) == 1


def test_the_teachers_encodes_choose_their_own_frame_types(carphone):
    """A decoded frame carries its type (every frame of a y4m source is an I frame, an mp4's keep its GOP's), which
    FFmpeg's libx264 forces, and its decoder's time base, in which the teacher's pts 0, 1, 2 ... were microseconds
    apart; the teacher's and guard's encodes must code as the encodes they stand for, in x264's own frame types at
    regular frame times.  Before the fix a y4m cut's 60 frames coded to 12x the bits of the same pixels as fresh
    frames, and carphone's 12 decoded frames to 0.66x."""
    from preanalysis.learning import teacher_vmaf as T

    decoded = T.source_frames(carphone, 0, 12, (176, 144))
    fresh = [av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p") for f in decoded]
    intra = [av.VideoFrame.from_ndarray(f.to_ndarray(), format="yuv420p") for f in decoded]
    for f in intra:
        f.pict_type = av.video.frame.PictureType.I
    expected, bits = T.encode_decode(fresh, 30)
    for frames in (decoded, intra):
        got, got_bits = T.encode_decode(frames, 30)
        assert got_bits == bits and np.array_equal(got, expected)


def _carphone_lumas(carphone, frames=16):
    from preanalysis.learning import teacher_vmaf as T

    return np.stack([T.luma_of(f) for f in T.source_frames(carphone, 0, frames, (176, 144))])


def test_the_map_reaches_x264_in_the_guards_encodes(carphone):
    from preanalysis.learning import teacher_vmaf as T

    lumas = _carphone_lumas(carphone, 4)
    plain, bits = T.encode_decode(T.yuv_frames(lumas), 32)
    finer, finer_bits = T.encode_decode(T.yuv_frames(lumas), 32, [QpMap(np.full((9, 11), -6, np.int8), 176, 144)] * 4)
    assert finer_bits > 1.5 * bits
    assert np.mean((finer.astype(float) - lumas) ** 2) < 0.8 * np.mean((plain.astype(float) - lumas) ** 2)


@pytest.mark.parametrize("encoder, waste, scorer", [("x264", 10, "libvmaf"), ("x265", 3, "libvmaf"),
                                                   ("x264", 10, "vmaf-torch")])
def test_the_guard_switches_off_a_map_that_costs_bits(carphone, encoder, waste, scorer):
    """A random +-6 map wastes bits (the encoder's rate is convex in QP) and the encodes say so, with either
    encoder the map may be for (at this tiny size x265 measures +7 %, x264 +43 %) and either scorer."""
    torch.set_num_threads(1)
    lumas = _carphone_lumas(carphone)
    rng = np.random.default_rng(0)
    offsets = rng.choice([-6, 6], size=(len(lumas), 9, 11)).astype(np.int8)
    guard = GuardSettings("cpu", encoder=encoder, scorer=scorer)
    (bds,), _ = measure(lumas, [analysis_maps(offsets, (144, 176))], guard)
    assert all(bd > waste for bd in bds.values())
    verdict = verify(list(lumas / 255.0), [offsets], guard)
    assert verdict.bd_rates == bds and not verdict.keep


def test_libvmaf_and_vmaf_torch_score_the_guards_encodes_alike(carphone):
    """The two scorers of allocate.verify_scorer on the same encodes: libvmaf (every 4th frame scored, motion from
    all of them) and vmaf-torch agree within 0.1 (0.02 measured), and both rank a finer encode above a coarser
    one."""
    from preanalysis.learning import teacher_vmaf as T
    from preanalysis.verify import mean_scores

    torch.set_num_threads(1)
    lumas = _carphone_lumas(carphone)
    scores = {}
    for crf in (24, 36):
        decoded, _ = T.encode_decode(T.yuv_frames(lumas), crf)
        scores[crf] = {s: mean_scores(lumas, decoded, s, "cpu") for s in ("libvmaf", "vmaf-torch")}
        for m in ("vmaf", "neg"):
            assert abs(scores[crf]["libvmaf"][m] - scores[crf]["vmaf-torch"][m]) < 0.1, (crf, m, scores[crf])
    assert all(scores[24][s][m] > scores[36][s][m] + 5 for s in ("libvmaf", "vmaf-torch") for m in ("vmaf", "neg"))


def test_frames_too_small_for_libvmaf_are_coded_without_the_map(monkeypatch):
    from preanalysis.learning import teacher_vmaf as T

    monkeypatch.setattr(T, "encode_decode", lambda *a, **k: pytest.fail("nothing to measure"))
    offsets = np.ones((4, 1, 1), np.int8)
    assert not verify([np.zeros((16, 32))] * 4, [offsets]).keep
    with pytest.raises(PreanalysisError, match="allocate.verify_scorer must be libvmaf or vmaf-torch"):
        from preanalysis.config import load_config, with_overrides

        with_overrides(load_config("default"), {"allocate.verify_scorer": "torch"})


def test_x265_codes_the_guards_map_and_the_same_stream_twice(carphone):
    """The map reaches x265 (finer QP: more bits, less error), and a segment codes to the same stream again (the
    remembered no-map encodes rely on it); an encoder the guard cannot code with is one clear line."""
    from preanalysis.learning import teacher_vmaf as T

    lumas = _carphone_lumas(carphone, 4)
    plain, bits = T.encode_decode(T.yuv_frames(lumas), 32, encoder="x265")
    again, again_bits = T.encode_decode(T.yuv_frames(lumas), 32, encoder="x265")
    assert bits == again_bits and np.array_equal(plain, again)
    finer, finer_bits = T.encode_decode(T.yuv_frames(lumas), 32, [QpMap(np.full((9, 11), -6, np.int8), 176, 144)] * 4,
                                        encoder="x265")
    assert finer_bits > 1.2 * bits  # 1.33x at this size (x264: 1.65x; the error falls alike, to 0.42x)
    assert np.mean((finer.astype(float) - lumas) ** 2) < 0.6 * np.mean((plain.astype(float) - lumas) ** 2)
    with pytest.raises(PreanalysisError, match="cannot code with 'svtav1': use one of x264, x265"):
        T.encode_decode(T.yuv_frames(lumas), 32, encoder="svtav1")


def test_the_margin_drops_a_map_whose_measured_gain_is_smaller(carphone):
    """The teacher's own map on carphone saves a little rate in the guard's encodes: kept at margin 0, switched
    off at a margin larger than its saving; the estimate is the worse of the two metrics."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config

    torch.set_num_threads(1)
    config = load_config("vmaf-teacher")
    config.analysis.device = "cpu"
    frames = list(P.analyze(carphone, config, 0, 8))
    lumas, offsets = [f.luma for f in frames], np.stack([f.qp.offsets for f in frames])
    kept = verify(lumas, [offsets], GuardSettings("cpu"))
    assert set(kept.bd_rates) == {"vmaf", "neg"} and kept.bd_rate == max(kept.bd_rates.values())
    assert kept.keep and kept.bd_rate < 0
    dropped = verify(lumas, [offsets], GuardSettings("cpu", margin=-kept.bd_rate + 0.01))
    assert dropped.bd_rates == kept.bd_rates and not dropped.keep


def test_the_ceiling_drops_a_map_where_the_segment_is_already_easy_without_it(carphone):
    """allocate.verify_ceiling: the same kept map is switched off where the segment coded without it at the upper
    CRF scores at least the ceiling (VMAF), whatever its estimate, and kept below that; the score is that of the
    guard's own encode (the same as scoring a fresh one); vmaf-teacher's ceiling is 92 on its analysis luma, the
    default's 91 on native samples; values outside [50, 100] are one clear line."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.learning import teacher_vmaf as T
    from preanalysis.verify import mean_scores

    torch.set_num_threads(1)
    config = with_overrides(load_config("vmaf-teacher"), {"analysis.device": "cpu"})
    frames = list(P.analyze(carphone, config, 0, 8))
    lumas, offsets = [f.luma for f in frames], np.stack([f.qp.offsets for f in frames])
    kept = verify(lumas, [offsets], GuardSettings("cpu"))
    assert kept.keep and set(kept.plain) == {"vmaf", "neg"}
    coded = np.stack([T.even_uint8(y) for y in lumas])
    decoded, _ = T.encode_decode(T.yuv_frames(coded), 32)
    assert kept.plain == pytest.approx(mean_scores(coded, decoded, "libvmaf", "cpu"), abs=1e-6)
    score = kept.plain["vmaf"]
    below = verify(lumas, [offsets], GuardSettings("cpu", ceiling=score - 0.01))
    above = verify(lumas, [offsets], GuardSettings("cpu", ceiling=score + 0.01))
    assert not below.keep and below.estimates == kept.estimates
    assert above.keep and above.estimates == kept.estimates
    assert GuardSettings.of(with_overrides(config, {"allocate.verify_ceiling": 90})).ceiling == 90
    assert GuardSettings.of(config).ceiling == 92 and GuardSettings.of(load_config("default")).ceiling == 91
    assert load_config("default").allocate.verify_ceiling_native and not config.allocate.verify_ceiling_native
    for bad in (-1, 20, 101):
        with pytest.raises(PreanalysisError, match=r"allocate.verify_ceiling must be 0 \(no ceiling\) or a VMAF"):
            with_overrides(config, {"allocate.verify_ceiling": bad})


def _coloured(frames) -> bool:
    """Whether yuv420p frames carry chroma other than neutral grey."""
    return any(np.any(f.to_ndarray()[f.height:] != 128) for f in frames)


@pytest.mark.parametrize("code_source", ["none", "guard", "all"])
def test_the_guard_reuses_the_teachers_encodes_without_the_map(carphone, monkeypatch, code_source):
    """The teacher has just coded the segment at the guard's CRFs with the same settings, so the guard codes only
    the two encodes with the map; its estimate is the one fresh encodes give; it takes the teacher's encodes, so
    none stays in memory after it (a long-lived worker holds no decoded segments).  analysis.code_source: the
    guard's encodes code the frames' own chroma at the source's rate (carphone: 29.97 fps; guard: two more
    encodes, the teacher's stay grey at 25 fps; all: the teacher's too, and the guard re-uses them)."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config
    from preanalysis.learning import teacher_vmaf as T

    torch.set_num_threads(1)
    config = load_config("vmaf-teacher")
    config.analysis.device, config.analysis.code_source = "cpu", code_source
    calls, code = [], T.encode_decode
    monkeypatch.setattr(T, "encode_decode", lambda frames, crf, qp=None, **k: calls.append(
        (crf, qp is not None, _coloured(frames), k["rate"])) or code(frames, crf, qp, **k))
    verdicts = []
    monkeypatch.setattr(P, "verify", lambda *a: verdicts.append((a, verify(*a))) or verdicts[-1][1])
    T.forget_coded()
    frames = list(P.analyze(carphone, config, 0, 8))
    guard, teacher = code_source != "none", code_source == "all"
    as_source = {True: Fraction(30000, 1001), False: 25}
    expected = [(crf, mapped, guard, as_source[guard]) for crf in (27, 32) for mapped in (False, True)]
    if guard != teacher:
        expected += [(27, False, teacher, as_source[teacher]), (32, False, teacher, as_source[teacher])]
    assert sorted(calls) == sorted(expected)
    assert all(f.chroma is None for f in frames)  # the chroma served the segment's encodes
    assert not T._CODED  # nor the teacher's encodes, where the guard did not take them (guard)
    (args, verdict), = verdicts
    assert verify(*args).bd_rates == verdict.bd_rates  # the guard took the teacher's encodes: nothing left
    assert len(calls) == len(expected) + 4
    assert verify(*args).bd_rates == verdict.bd_rates  # and remembered none of its own
    assert len(calls) == len(expected) + 8


def test_the_encodes_code_the_sources_chroma_at_its_rate_as_told(carphone):
    """video.shrink_chroma: each chroma plane area-resized to half the (even) analysis size; yuv_frames puts it in
    the frames the encoder codes unchanged; carphone's colour costs bits that neutral grey does not, and the same
    CRF codes to other bits at the source's 29.97 fps than at 25 (x264 weighs complexity by frame duration), so a
    guard coding grey at 25 fps misjudges what a map costs."""
    from preanalysis import video
    from preanalysis.learning import teacher_vmaf as T

    decoded = [d.frame for d in video.decode(carphone, 0, 8)]
    chroma = np.stack([video.shrink_chroma(f, (88, 72)) for f in decoded])
    assert chroma.shape == (8, 2, 36, 44) and chroma.dtype == np.uint8
    u = decoded[3].to_ndarray()[144:144 + 36].reshape(72, 88)  # yuv420p: U (72, 88) packed two rows per row
    assert np.array_equal(chroma[3, 0], cv2.resize(u, (44, 36), interpolation=cv2.INTER_AREA))
    assert np.abs(chroma.astype(int) - 128).mean() > 3  # carphone has colour to code
    lumas = np.stack([cv2.resize(video.y_plane(f), (88, 72), interpolation=cv2.INTER_AREA) for f in decoded])
    frames = T.yuv_frames(lumas, chroma)
    assert np.array_equal(frames[5].to_ndarray()[72:].reshape(2, 36, 44), chroma[5])
    assert np.array_equal(frames[5].to_ndarray()[:72], lumas[5])
    grey_bits = T.code_lumas(lumas, 27, keep=False)[1]
    grey_at_25 = video.SourceCoding(np.full_like(chroma, 128), video.UNIT_RATE)
    assert T.code_lumas(lumas, 27, keep=False, source=grey_at_25)[1] == grey_bits
    assert T.code_lumas(lumas, 27, keep=False, source=video.SourceCoding(chroma, Fraction(25)))[1] > 1.05 * grey_bits
    grey_at_source = video.SourceCoding(np.full_like(chroma, 128), Fraction(30000, 1001))
    assert T.code_lumas(lumas, 27, keep=False, source=grey_at_source)[1] != grey_bits
    from preanalysis.config import load_config, with_overrides

    with pytest.raises(PreanalysisError, match="analysis.code_source must be none, guard or all"):
        with_overrides(load_config("default"), {"analysis.code_source": "yes"})


def test_the_teacher_per_frame_codes_the_frames_as_the_source_when_told(carphone, monkeypatch):
    """analysis.code_source all with allocate.segment frame: the causal teacher codes its window of past frames
    with their own chroma at the source's rate (grey at 25 fps with none)."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.learning import teacher_vmaf as T

    torch.set_num_threads(1)
    code = T.encode_decode
    for code_source in ("none", "all"):
        config = with_overrides(load_config("vmaf-teacher"), {"analysis.device": "cpu", "allocate.segment": "frame",
                                                               "allocate.verify": False,
                                                               "analysis.code_source": code_source})
        coded = []
        monkeypatch.setattr(T, "encode_decode", lambda frames, *a, seen=coded, **k: seen.append(
            (_coloured(frames), k["rate"])) or code(frames, *a, **k))
        frames = list(P.analyze(carphone, config, 0, 5))
        expected = (True, Fraction(30000, 1001)) if code_source == "all" else (False, 25)
        assert coded and set(coded) == {expected}
        assert all(f.chroma is None for f in frames)


def test_the_guard_codes_at_the_crfs_it_is_told(carphone, monkeypatch):
    """allocate.verify_crfs: the guard's four encodes (with and without the map) at those two CRFs; a pair that is
    not two ascending CRFs is one clear line."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.learning import teacher_vmaf as T

    torch.set_num_threads(1)
    config = with_overrides(load_config("default"), {"allocate.verify_crfs": [25, 34], "analysis.device": "cpu",
                                                      "allocate.sensitivity": "sensitivity"})  # no teacher encodes
    assert GuardSettings.of(config).crfs == (25, 34) and GuardSettings.of(load_config("default")).crfs == (27, 32)
    calls, code = [], T.encode_decode
    monkeypatch.setattr(T, "encode_decode", lambda frames, crf, qp=None, **k: calls.append((crf, qp is not None))
                        or code(frames, crf, qp, **k))
    T.forget_coded()
    list(P.analyze(carphone, config, 0, 8))
    assert sorted(calls) == [(25, False), (25, True), (34, False), (34, True)]
    for bad in ([32, 27], [27], [27, 60]):
        with pytest.raises(PreanalysisError, match=r"allocate.verify_crfs must be two CRFs, the lower first"):
            with_overrides(config, {"allocate.verify_crfs": bad})


def test_the_ceiling_scores_the_native_samples_it_is_given(carphone):
    """allocate.verify_ceiling_native: the ceiling compares the score of the native samples (coded once more without
    the map at the upper CRF), not that of the analysis luma: the teacher's kept map on carphone (whose frames score
    85 VMAF at CRF 32) is switched off under a ceiling of 87 when the samples are easier (its first frame held still:
    89), kept when they are its own frames; the estimate is the analysis luma's either way."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.learning import teacher_vmaf as T
    from preanalysis.verify import plain_scores

    torch.set_num_threads(1)
    config = with_overrides(load_config("vmaf-teacher"), {"analysis.device": "cpu", "allocate.verify_ceiling": 0})
    frames = list(P.analyze(carphone, config, 0, 8))
    lumas, offsets = [f.luma for f in frames], np.stack([f.qp.offsets for f in frames])
    own = [T.even_uint8(y) for y in lumas]
    still = [own[0]] * len(own)
    guard = GuardSettings("cpu", ceiling=87.0)
    assert plain_scores(np.stack(own), guard)["vmaf"] < 87 < plain_scores(np.stack(still), guard)["vmaf"]
    kept = verify(lumas, [offsets], guard, own)
    easy = verify(lumas, [offsets], guard, still)
    assert kept.keep and not easy.keep and easy.estimates == kept.estimates
    assert easy.plain == plain_scores(np.stack(still), guard)


def test_the_pipeline_hands_the_ceiling_the_sources_own_luma(carphone, monkeypatch):
    """With verify_ceiling_native the guard still judges the analysis luma (88x72 here) and the ceiling gets the
    source's own (176x144, the whole frame), dropped once judged; without it, without a ceiling, or where the
    analysis luma is the source's own (176x144 analysed whole), no native sample is kept."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.verify import Verdict

    dropped = Verdict(({"vmaf": 1.0, "neg": 1.0},), None)
    base = with_overrides(load_config("default"), {"analysis.device": "cpu", "analysis.max_width": 88,
                                                   "allocate.verify_ceiling": 92})
    for native, level, width in ((True, 92, 88), (False, 92, 88), (True, 0, 88), (True, 92, 480)):
        calls = []
        monkeypatch.setattr(P, "verify", lambda lumas, offsets, guard, ceiling=None, source=None, calls=calls:
                            calls.append((lumas, ceiling)) or dropped)
        config = with_overrides(base, {"allocate.verify_ceiling_native": native, "allocate.verify_ceiling": level,
                                       "analysis.max_width": width})
        frames = list(P.analyze(carphone, config, 0, 8))
        ((lumas, ceiling),) = calls
        assert np.stack(lumas).shape == ((8, 72, 88) if width == 88 else (8, 144, 176))
        assert all(f.guard_luma is None for f in frames)
        if native and level and width == 88:
            assert np.stack(ceiling).shape == (8, 144, 176)
            assert np.abs(np.stack(ceiling)[:, ::2, ::2] / 255.0 - np.stack(lumas)).mean() < 0.05
        else:
            assert ceiling is None


def test_a_map_without_offsets_is_kept_without_encoding(monkeypatch):
    from preanalysis.learning import teacher_vmaf as T

    monkeypatch.setattr(T, "encode_decode", lambda *a, **k: pytest.fail("nothing to measure"))
    assert verify([np.zeros((32, 32))] * 4, [np.zeros((4, 2, 2), np.int8)]).keep


def test_the_pipeline_codes_a_segment_without_the_map_the_guard_rejects(carphone, monkeypatch):
    """vmaf-teacher with and without the guard on one segment: the offsets are the unguarded ones where the
    guard kept the map, all zero where it switched it off; its verdict is the one its measurement gives."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config

    torch.set_num_threads(1)
    config = load_config("vmaf-teacher")
    config.analysis.device, config.allocate.verify = "cpu", True
    verdicts = []
    monkeypatch.setattr(P, "verify", lambda *a: verdicts.append(verify(*a)) or verdicts[-1])
    guarded = [f.qp.offsets for f in P.analyze(carphone, config, 0, 12)]
    config.allocate.verify = False
    plain = [f.qp.offsets for f in P.analyze(carphone, config, 0, 12)]
    assert len(verdicts) == 1 and verdicts[0].keep == (verdicts[0].bd_rate < 0)
    assert np.any(plain)
    expected = plain if verdicts[0].keep else [np.zeros_like(o) for o in plain]
    assert all(np.array_equal(g, e) for g, e in zip(guarded, expected))


def test_the_guard_codes_the_middle_of_a_segment_when_told_how_many_frames(carphone, monkeypatch):
    """allocate.verify_frames: the guard sees the middle N frames of the segment (lumas and their offsets), and
    its verdict still decides for the whole segment."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.verify import middle

    assert middle(10, 0) == slice(0, 10) and middle(10, 12) == slice(0, 10)
    assert middle(10, 4) == slice(3, 7) and middle(11, 4) == slice(3, 7)
    config = with_overrides(load_config("vmaf-teacher"), {"allocate.verify_frames": 4, "analysis.device": "cpu",
                                                         "allocate.verify_margin": 100.0})
    seen = []
    monkeypatch.setattr(P, "verify", lambda lumas, offsets, *a: seen.append((lumas, offsets)) or verify(
        lumas, offsets, *a))
    frames = list(P.analyze(carphone, config, 0, 10))
    (lumas, (offsets,)), = seen
    assert len(lumas) == len(offsets) == 4
    assert all(np.array_equal(y, f.luma) for y, f in zip(lumas, frames[3:7]))
    assert not any(np.any(f.qp.offsets) for f in frames)  # no map saves 100 %: switched off for all ten
    with pytest.raises(PreanalysisError, match="allocate.verify_frames must be 0"):
        with_overrides(config, {"allocate.verify_frames": 1})


@pytest.mark.parametrize("width, height, tile", [(1920, 1080, (20, 11)), (1280, 720, (20, 11)), (720, 576, (20, 11)),
                                                (648, 354, (20, 11)), (176, 144, (20, 11)), (1920, 1080, (16, 9)),
                                                (640, 360, (16, 9))])
def test_a_native_sample_carries_each_blocks_own_offset(width, height, tile):
    """verify_resolution native: every 16-px block of the sample is a block of the source at the encode grid's
    position, with that block's own offset; small frames are sampled whole, large ones as four tiles of
    allocate.verify_tile blocks (fewer where a quadrant is smaller)."""
    from preanalysis.qpmap import grid_shape
    from preanalysis.verify import SAMPLE_PIXELS, NativeSample

    rows, cols = grid_shape(width, height)
    ids = np.arange(rows * cols).reshape(rows, cols)
    y = np.kron(ids, np.ones((16, 16), np.int64))[:height, :width]  # each pixel: its block's id (any dtype slices)
    offsets = (ids % 23 - 11).astype(np.int8)
    sample = NativeSample.for_frame(width, height, tile)
    assert not sample.tiles or sample.tile == (min(tile[0], width // 32), min(tile[1], height // 32))
    luma, qp = sample.luma(y), sample.qp_map(offsets)
    assert luma.shape == (qp.height, qp.width) and luma.shape[0] % 2 == 0 and luma.shape[1] % 2 == 0
    assert bool(sample.tiles) == (width * height > SAMPLE_PIXELS)
    assert not sample.tiles or luma.size <= SAMPLE_PIXELS
    block_ids = luma[::16, ::16]  # the source block each sample block comes from
    assert block_ids.shape == qp.offsets.shape
    assert np.array_equal(qp.offsets, (block_ids % 23 - 11).astype(np.int8))
    assert np.all(luma == np.kron(block_ids, np.ones((16, 16), np.int64))[: luma.shape[0], : luma.shape[1]])
    if sample.tiles:  # four tiles, one per quadrant, inside the frame's whole blocks
        (tw, th), quads = sample.tile, set()
        for bx, by in sample.tiles:
            assert 0 <= bx and bx + tw <= width // 16 and 0 <= by and by + th <= height // 16
            quads.add((2 * bx >= width // 16 - tw, 2 * by >= height // 16 - th))
        assert len(quads) == 4


@pytest.mark.parametrize("whole_pixels, native", [(176 * 144, True), (176 * 144 - 1, False)])
def test_the_whole_guard_is_native_on_frames_it_can_code_whole_else_on_the_analysis_luma(carphone, monkeypatch,
                                                                                          whole_pixels, native):
    """verify_resolution whole: the source's own luma where the whole frame has at most verify_whole_pixels
    (carphone, 176x144), else the analysis luma as the default guard does (never a mosaic of tiles)."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.verify import Verdict

    dropped = Verdict(({"vmaf": 1.0, "neg": 1.0},), None)
    config = with_overrides(load_config("default"), {"allocate.verify_resolution": "whole", "analysis.device": "cpu",
                                                     "allocate.verify_whole_pixels": whole_pixels})
    calls = []
    monkeypatch.setattr(P, "verify_native", lambda samples, offsets, sample, *a: calls.append(("native", sample))
                        or dropped)
    monkeypatch.setattr(P, "verify", lambda lumas, offsets, *a: calls.append(("analysis", lumas)) or dropped)
    frames = list(P.analyze(carphone, config, 0, 8))
    ((kind, seen),) = calls
    assert kind == ("native" if native else "analysis") and all(f.guard_luma is None for f in frames)
    if native:
        assert not seen.tiles and (seen.width, seen.height) == (176, 144)
    else:
        assert np.array_equal(np.stack(seen), np.stack([f.luma for f in frames]))


def test_the_native_guard_codes_the_source_luma(carphone, monkeypatch):
    """In the pipeline the native guard judges the source's own luma (carphone: the whole 176x144 frame) with
    the segment's offsets, and the samples are dropped once judged."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.learning import teacher_vmaf as T
    from preanalysis.verify import NativeSample, verify_native

    config = with_overrides(load_config("default"), {"allocate.verify_resolution": "native",
                                                     "analysis.device": "cpu"})
    seen = []
    monkeypatch.setattr(P, "verify_native", lambda samples, offsets, sample, *a: seen.append(
        (samples, offsets, sample, a[1])) or verify_native(samples, offsets, sample, *a))
    frames = list(P.analyze(carphone, config, 0, 8))
    (samples, (offsets,), sample, at_rate), = seen
    source = np.stack([T.luma_of(f) for f in T.source_frames(carphone, 0, 8, (176, 144))])
    assert not sample.tiles and np.array_equal(np.stack(samples), source)
    assert offsets.shape == (8, 9, 11) and all(f.guard_luma is None for f in frames)
    # analysis.code_source guard (the default): the samples are coded at the source's rate, grey (they are luma)
    assert at_rate.rate == Fraction(30000, 1001) and at_rate.chroma is None and all(f.chroma is None for f in frames)
    assert not NativeSample.for_frame(640, 400, whole_pixels=640 * 400).tiles  # allocate.verify_whole_pixels
    assert NativeSample.for_frame(640, 400).tiles
    with pytest.raises(PreanalysisError, match=r"allocate.verify_whole_pixels must be within"):
        with_overrides(config, {"allocate.verify_whole_pixels": 100})
    with pytest.raises(PreanalysisError, match="allocate.verify_resolution must be analysis, native or whole"):
        with_overrides(config, {"allocate.verify_resolution": "full"})
    with pytest.raises(PreanalysisError, match=r"allocate.verify_tile must be \[columns, rows\]"):
        with_overrides(config, {"allocate.verify_tile": [16]})


def test_the_guard_needs_a_segment_budget():
    from preanalysis.config import load_config, with_overrides

    with pytest.raises(PreanalysisError, match="allocate.verify checks whole segments"):
        with_overrides(load_config("vmaf-teacher"), {"allocate.segment": "frame", "allocate.verify": True})
    assert with_overrides(load_config("vmaf-teacher"), {"allocate.segment": "gop", "allocate.verify": True}
                          ).allocate.verify


def test_the_margin_is_a_non_negative_percentage_and_the_encoder_one_the_guard_codes_with():
    from preanalysis.cli.options import add_config_options, config_from_args
    from preanalysis.config import load_config, with_overrides

    with pytest.raises(PreanalysisError, match=r"allocate.verify_margin must be >= 0 \(percent of rate"):
        with_overrides(load_config("vmaf-teacher"), {"allocate.verify_margin": -0.5})
    with pytest.raises(PreanalysisError, match="allocate.verify_margin must be float"):
        with_overrides(load_config("vmaf-teacher"), {"allocate.verify_margin": "1"})
    parser = argparse.ArgumentParser()
    add_config_options(parser)
    args = parser.parse_args(["--config", "vmaf-teacher", "--allocate-verify", "--allocate-verify-margin", "1.25"])
    config = config_from_args(args)
    assert config.allocate.verify and config.allocate.verify_margin == 1.25
    with pytest.raises(PreanalysisError, match="allocate.verify_encoder must be auto, x264 or x265"):
        with_overrides(load_config("vmaf-teacher"), {"allocate.verify_encoder": "svtav1"})
    args = parser.parse_args(["--config", "vmaf-teacher", "--allocate-verify-encoder", "x265"])
    assert config_from_args(args).allocate.verify_encoder == "x265"


def test_an_auto_guard_codes_with_the_encoder_the_maps_are_made_for(tmp_path):
    """allocate.verify_encoder auto: x265 for maps made for x265 (encode, eval, tune, qpfile --format x265*, a farm
    job that encodes with x265), x264 otherwise, where the config stays as it is (maps files keep their text)."""
    from preanalysis.cli.options import add_config_options, config_from_args
    from preanalysis.config import for_encoder, from_dict, load_config, with_overrides
    from preanalysis.farm.job import Job

    config = load_config("vmaf-teacher")
    assert config.allocate.verify_encoder == "auto" and config.allocate.guard_encoder == "x264"
    assert for_encoder(config, "x265").allocate.guard_encoder == "x265"
    assert for_encoder(config, "x264") is config and for_encoder(config, "svtav1") is config
    explicit = with_overrides(config, {"allocate.verify_encoder": "x264"})
    assert for_encoder(explicit, "x265").allocate.guard_encoder == "x264"  # what the user said stands
    parser = argparse.ArgumentParser()
    add_config_options(parser)
    args = parser.parse_args(["--config", "vmaf-teacher"])
    assert config_from_args(args, "x265").allocate.guard_encoder == "x265"
    assert config_from_args(args).allocate.verify_encoder == "auto"
    job = {"inputs": ["a.mp4"], "output_dir": str(tmp_path), "config": "vmaf-teacher", "produce": ["encode"],
           "encode": {"encoder": "x265", "crf": 30}}
    assert from_dict(Job, job).analysis_config().allocate.guard_encoder == "x265"
    assert from_dict(Job, job | {"produce": ["maps"]}).analysis_config().allocate.verify_encoder == "auto"


def test_a_guard_coding_with_another_encoder_than_the_encode_is_named(caplog):
    from preanalysis.cli.options import warn_guard_encoder
    from preanalysis.config import for_encoder, load_config, with_overrides

    config = with_overrides(load_config("vmaf-teacher"), {"allocate.verify_encoder": "x264"})  # said by the user
    with caplog.at_level("WARNING", logger="preanalysis"):
        warn_guard_encoder(for_encoder(load_config("vmaf-teacher"), "x265"), "x265")
        warn_guard_encoder(load_config("vmaf-teacher"), "x264")
        warn_guard_encoder(config, "x264")
        warn_guard_encoder(with_overrides(config, {"allocate.verify": False}), "x265")
        assert not caplog.records
        warn_guard_encoder(config, "x265")
    assert caplog.records[-1].getMessage() == (
        "the segment guard judges the map with x264 but this encodes with x265: use --allocate-verify-encoder x265 "
        "(or auto, the default: the encoding one)")


def test_the_guard_keeps_the_candidate_that_saves_most(carphone, monkeypatch):
    """allocate.verify_gains: several candidate maps are judged against the same encodes without a map (two
    encodes, plus two per candidate), and the one with the lowest estimate is kept: the teacher's own map, which
    saves, over a random +-6 map, which wastes, whichever comes first."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config
    from preanalysis.learning import teacher_vmaf as T

    torch.set_num_threads(1)
    config = load_config("vmaf-teacher")
    config.analysis.device = "cpu"
    frames = list(P.analyze(carphone, config, 0, 8))
    lumas, saving = [f.luma for f in frames], np.stack([f.qp.offsets for f in frames])
    wasting = np.random.default_rng(0).choice([-6, 6], size=saving.shape).astype(np.int8)
    calls, code = [], T.encode_decode
    monkeypatch.setattr(T, "encode_decode", lambda frames, crf, qp=None, **k: calls.append(qp is not None)
                        or code(frames, crf, qp, **k))
    first = verify(lumas, [wasting, saving], GuardSettings("cpu"))
    assert sorted(calls) == [False, False, True, True, True, True]
    assert first.choice == 1 and first.bd_rates == first.estimates[1] and first.bd_rate < 0
    assert max(first.estimates[0].values()) > 10
    second = verify(lumas, [saving, wasting], GuardSettings("cpu"))
    assert second.choice == 0 and second.estimates == first.estimates[::-1]
    assert verify(lumas, [wasting, wasting], GuardSettings("cpu")).choice is None


def test_the_pipeline_codes_the_gain_the_guard_chose(carphone, monkeypatch):
    """The default with verify_gains [2.5] on native samples: the guard gets the segment's maps at the preset's gain and at 2.5 (the
    maps those gains give unguarded) and the frames carry the one it chose, or none."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.verify import verify_native

    torch.set_num_threads(1)
    config = with_overrides(load_config("default"), {"analysis.device": "cpu", "allocate.verify_gains": [2.5],
                                                     "allocate.verify_resolution": "native"})
    verdicts = []
    monkeypatch.setattr(P, "verify_native", lambda samples, candidates, *a: verdicts.append(
        (candidates, verify_native(samples, candidates, *a))) or verdicts[-1][1])
    frames = list(P.analyze(carphone, config, 0, 8))
    guarded = np.stack([f.qp.offsets for f in frames])
    (candidates, verdict), = verdicts
    assert {(f.guard, f.guard_bd) for f in frames} == {(verdict.choice + 1 if verdict.keep else 0,
                                                        (verdict.bd_rates["vmaf"], verdict.bd_rates["neg"]))}
    for candidate, gain in zip(candidates, (1.5, 2.5)):
        plain = with_overrides(config, {"allocate.verify": False, "allocate.verify_gains": [],
                                        "allocate.sensitivity_gain": gain})
        assert np.array_equal(candidate, np.stack([f.qp.offsets for f in P.analyze(carphone, plain, 0, 8)]))
    assert not np.array_equal(*candidates)
    assert np.array_equal(guarded, candidates[verdict.choice] if verdict.keep else np.zeros_like(guarded))
    with pytest.raises(PreanalysisError, match="allocate.verify_gains are student gains the segment guard tries"):
        with_overrides(config, {"allocate.verify": False})
    with pytest.raises(PreanalysisError, match="allocate.verify_gains must be within"):
        with_overrides(config, {"allocate.verify_gains": [9.0]})


def test_the_guards_verdicts_are_kept_in_the_maps_file_and_drawn(carphone, tmp_path):
    """`analyze` keeps each frame's verdict (guard: 0 off, k the k-th candidate kept; guard_bd: its estimate) in
    the maps file and says what the guard decided; `visualize --maps` writes it on the frames; a maps file from
    before the verdicts were kept loads as not judged."""
    import zipfile

    from preanalysis.cli import main
    from preanalysis.maps import load_maps
    from preanalysis.verify import guard_runs, guard_summary, run_verdict, verdict_text

    out = tmp_path / "maps.npz"
    assert main(["analyze", str(carphone), "-o", str(out), "--frames", "8", "--analysis-device", "cpu"]) == 0
    maps = load_maps(out)
    assert maps.guard.dtype == np.int8 and maps.guard_bd.shape == (8, 2)
    assert len(set(maps.guard.tolist())) == 1 and maps.guard[0] in (0, 1)
    assert np.all(np.isfinite(maps.guard_bd)) and (maps.guard[0] == 1) == (maps.guard_bd[0].max() < 0)
    assert np.any(maps.qp_offsets) == (maps.guard[0] == 1)
    assert main(["visualize", str(carphone), "--maps", str(out), "-o", str(tmp_path / "sheet")]) == 0
    one, two = {"sensitivity_gain": 1.5}, {"sensitivity_gain": 1.5, "verify_gains": [2.5]}
    assert verdict_text(0, (0.5, 1.25), one) == "guard: map off, est. BD-rate VMAF +0.5 % NEG +1.2 %"
    assert verdict_text(2, (-3.0, -2.0), two).startswith("guard: gain 2.5 kept, est. BD-rate VMAF -3.0 %")
    assert verdict_text(1, (np.nan, np.nan), one) == "guard: map kept" and verdict_text(-1, (0, 0), {}) == ""
    # a map off although its estimate saves bits: the ceiling's doing, said so (not where the margin explains it)
    ceiling = {**one, "verify_ceiling": 91.0, "verify_margin": 0.0}
    assert verdict_text(0, (-4.5, -2.7), ceiling) == ("guard: map off (easy: at or above its VMAF ceiling 91 without "
                                                      "it), est. BD-rate VMAF -4.5 % NEG -2.7 %")
    assert verdict_text(0, (-0.5, -2.7), {**ceiling, "verify_margin": 1.0}).startswith("guard: map off, est.")
    assert verdict_text(0, (0.5, -2.7), ceiling).startswith("guard: map off, est.")
    nan = float("nan")
    runs = guard_runs([1, 1, 2, 0], [(-2.0, -1.0)] * 2 + [(-3.0, -2.5), (0.5, 0.25)])
    assert guard_summary(runs, (1.5, 2.5)) == "segment guard: map kept on 3 of 4 frames (gain 1.5: 2, gain 2.5: 1)"
    assert guard_summary(guard_runs([-1, -1], [(nan, nan)] * 2), (1.5,)) == ""
    # eval's contact sheets read each frame's verdict back from the runs its cache keeps
    assert [run_verdict(runs, i) for i in range(4)] == [(1, [-2.0, -1.0])] * 2 + [(2, [-3.0, -2.5]), (0, [0.5, 0.25])]
    choice, bd = run_verdict(runs, 4)
    assert choice == -1 and np.isnan(bd).all() and run_verdict(None, 0)[0] == -1
    old = tmp_path / "old.npz"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            if not item.filename.startswith("guard"):
                dst.writestr(item, src.read(item))
    before = load_maps(old)
    assert np.all(before.guard == -1) and np.all(np.isnan(before.guard_bd))
    assert np.array_equal(before.qp_offsets, maps.qp_offsets)


def test_eval_reports_what_the_guard_decided_on_each_clip(carphone, tmp_path):
    """eval keeps the guard's verdicts with a clip's cached analysis (runs of frames sharing one verdict) and
    writes them in report.json (clips.<clip>.guard) and summary.md."""
    from eval.report import guard_table
    from eval.sweep import Cache, clip_guard
    from preanalysis.config import load_config, with_overrides
    from preanalysis.verify import guard_runs

    nan = float("nan")
    assert guard_runs([-1, -1], [(nan, nan)] * 2) is None and guard_runs([], []) is None
    assert guard_runs([1, 1, 0, 2], [(-2.0, -1.0), (-2.0, -1.0), (0.5, 0.25), (-3.0, -2.5)]) == [
        {"start": 0, "frames": 2, "choice": 1, "estimate": [-2.0, -1.0]},
        {"start": 2, "frames": 1, "choice": 0, "estimate": [0.5, 0.25]},
        {"start": 3, "frames": 1, "choice": 2, "estimate": [-3.0, -2.5]}]
    config = with_overrides(load_config("default"), {"analysis.device": "cpu"})
    runs = clip_guard(carphone, config, 8, Cache(tmp_path))
    assert sum(r["frames"] for r in runs) == 8 and runs[0]["start"] == 0 and runs[0]["choice"] in (0, 1)
    assert clip_guard(carphone, config, 8, Cache(tmp_path)) == runs  # from the cache, the same
    assert clip_guard(carphone, with_overrides(config, {"allocate.verify": False}), 8, Cache(tmp_path)) is None
    report = {"settings": {"config": config.to_dict()}, "clips": {"carphone": {"guard": runs}, "other": {}}}
    table = guard_table(report)
    kept = 8 if runs[0]["choice"] else 0
    assert f"| carphone | {kept} of 8 | 0–7: map {'kept' if kept else 'off'}, est. BD-rate VMAF " in table
    assert "other" not in table


def test_the_guard_can_code_with_the_presets_encoder_settings(carphone, monkeypatch):
    """allocate.verify_params encode: the guard's encodes get the anchor's settings followed by the preset's own
    (the default's psy-rd 0.20,0), so it judges the map under the settings it is used with; anchor codes as the
    VMAF teacher does."""
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.learning import teacher_vmaf as T

    config = with_overrides(load_config("default"), {"analysis.device": "cpu", "allocate.verify_params": "encode"})
    assert GuardSettings.of(config).params == T.ANCHOR_PARAMS + ":psy-rd=0.20,0"
    assert GuardSettings.of(with_overrides(config, {"allocate.verify_params": "anchor"})).params is None
    for_x265 = with_overrides(config, {"allocate.verify_encoder": "x265"})
    assert GuardSettings.of(for_x265).params is None  # the default's x265_params are the anchor's own AQ off
    assert for_x265.allocate.guard_encoder == "x265"
    seen, code = [], T.encode_decode
    monkeypatch.setattr(T, "encode_decode", lambda frames, crf, qp=None, **k: seen.append(k["params"])
                        or code(frames, crf, qp, **k))
    T.forget_coded()
    list(P.analyze(carphone, config, 0, 8))
    # the guard's four encodes with the preset's settings; the teacher's two keep the anchor's
    assert sorted(seen) == sorted([T.ANCHOR_PARAMS] * 2 + [T.ANCHOR_PARAMS + ":psy-rd=0.20,0"] * 4)
    lumas = _carphone_lumas(carphone, 4)  # and x264 takes them: psy-rd 0.2 codes the segment differently
    psy = T.ANCHOR_PARAMS + ":psy-rd=0.20,0"
    assert code(T.yuv_frames(lumas), 27)[1] != code(T.yuv_frames(lumas), 27, params=psy)[1]
    with pytest.raises(PreanalysisError, match="allocate.verify_params must be anchor or encode"):
        with_overrides(config, {"allocate.verify_params": "psy"})


def test_the_guard_scores_every_nth_frame_as_told(carphone, monkeypatch):
    """allocate.verify_every: libvmaf scores every Nth frame of the guard's encodes (its n_subsample); more frames
    scored give a (slightly) different, less noisy mean."""
    import eval.metrics as M
    import preanalysis.pipeline as P
    from preanalysis.config import load_config, with_overrides
    from preanalysis.verify import mean_scores

    lumas = _carphone_lumas(carphone, 8)
    from preanalysis.learning import teacher_vmaf as T

    decoded, _ = T.encode_decode(T.yuv_frames(lumas), 36)
    assert mean_scores(lumas, decoded, every=1) != mean_scores(lumas, decoded, every=4)
    seen, score = [], M.luma_vmaf
    monkeypatch.setattr(M, "luma_vmaf", lambda ref, dist, every, *a: seen.append(every) or score(ref, dist, every, *a))
    config = with_overrides(load_config("default"), {"analysis.device": "cpu", "allocate.verify_every": 1})
    list(P.analyze(carphone, config, 0, 8))
    assert seen == [1] * 4
    with pytest.raises(PreanalysisError, match=r"allocate.verify_every must be within \[1, 64\]"):
        with_overrides(config, {"allocate.verify_every": 0})

"""Encoder-native files: their layouts, and real encoders (x264, x265, ffmpeg) obeying them."""

from __future__ import annotations

import itertools
import re
import shutil
import struct
import subprocess

import av
import imageio_ffmpeg
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encoder_adapters import files, read_qps
from encoder_adapters.files import addroi, svtav1
from encoder_adapters.files import zones as x265_zones
from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.cli import main
from preanalysis.errors import PreanalysisError

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
W, H = 256, 144  # 16x9 macroblocks, 4x3 superblocks (the bottom row half outside the frame)


def flat_maps(values, width=W, height=H) -> list[QpMap]:
    rows, cols = grid_shape(width, height)
    return [QpMap(np.full((rows, cols), v, np.int8), width, height) for v in values]


def left_right_maps(frames: int, delta: int = 8) -> list[QpMap]:
    m = np.zeros(grid_shape(W, H), np.int8)
    m[:, :8], m[:, 8:] = -delta, delta
    return [QpMap(m, W, H)] * frames


def make_test_pattern(path, size: str, frames: int):
    """ffmpeg's moving test pattern with film-like noise (so every block codes a residual and shows its QP),
    as a y4m file: what the x264/x265 CLIs read."""
    pattern = f"testsrc2=size={size}:rate=25,noise=alls=12:allf=t+u"
    source = ["-f", "lavfi", "-i", pattern, "-frames:v", str(frames)]
    subprocess.run([FFMPEG, "-v", "error", *source, "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_test_pattern(tmp_path_factory.mktemp("clip") / "clip.y4m", f"{W}x{H}", 60)


def ffmpeg_encode(clip, out, *args) -> str:
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-y", "-i", str(clip), *args, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-1000:]
    return run.stderr


def luma(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray").astype(np.float64) for f in container.decode(video=0)])


def psnr(a, b) -> float:
    return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} CLI is not installed (apt-get install -y {binary})")
    return path


# --- qpfile ---------------------------------------------------------------------------------------------

QPFILE_OFFSETS = [0, 4, -3, 8, -6, 2, 1, -1, 5, -4, 3, 0]


def test_qpfile_lines(tmp_path):
    maps = flat_maps([0, 30, -40, 2]) + [None] + flat_maps([-1, 0])
    qps = files.write_qpfile(tmp_path / "q.txt", maps, base_qp=26, keyframes={5})
    assert qps == [26, 51, 0, 28, None, 25, 26]  # clipped to 0..51, no QP where there is no map
    assert (tmp_path / "q.txt").read_text().splitlines() == [
        "0 I 26",
        "1 P 51",
        "2 P 0",
        "3 P 28",
        "5 I 25",
        "6 P 26",
    ]


def test_qpfile_frame_qp_is_rounded_mean():
    m = np.zeros(grid_shape(W, H), np.int8)
    m[:, :4] = -6  # a quarter of the blocks: mean -1.5
    assert files.frame_qps([QpMap(m, W, H)], base_qp=30.2) == [29]


def test_qpfile_rejects_bad_base_qp_and_empty_or_mixed_maps(tmp_path):
    with pytest.raises(PreanalysisError, match="base QP"):
        files.write_qpfile(tmp_path / "q.txt", flat_maps([0]), base_qp=60)
    with pytest.raises(PreanalysisError, match="no QP maps"):
        files.write_nvenc_maps(tmp_path / "n.bin", [None, None])
    with pytest.raises(PreanalysisError, match="mixed"):
        files.write_svtav1_roi_map(tmp_path / "s.txt", flat_maps([0]) + flat_maps([0], 176, 144))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_x264_honours_qpfile(tmp_path, clip):
    x264 = need("x264")
    qps = files.write_qpfile(tmp_path / "q.txt", flat_maps(QPFILE_OFFSETS), base_qp=26, keyframes={6})
    out = tmp_path / "out.264"
    options = f"--quiet --frames {len(qps)} --qpfile {tmp_path / 'q.txt'} --aq-mode 0 --no-mbtree"
    subprocess.run([x264, *options.split(), "-o", str(out), str(clip)], check=True, capture_output=True)
    read = [qp for _, qp in read_qps(out)]
    assert len(read) == len(qps)
    for want, got in zip(qps, read):
        assert np.all(got == want), (want, np.unique(got))


def test_x265_honours_qpfile(tmp_path, clip):
    x265 = need("x265")
    qps = files.write_qpfile(tmp_path / "q.txt", flat_maps(QPFILE_OFFSETS), base_qp=26, keyframes={6})
    csv = tmp_path / "log.csv"
    options = f"--log-level error --frames {len(qps)} --qpfile {tmp_path / 'q.txt'} --aq-mode 0 --no-cutree"
    log = f"--csv {csv} --csv-log-level 1 -o {tmp_path / 'out.hevc'}"
    subprocess.run([x265, *options.split(), *log.split(), str(clip)], check=True, capture_output=True)
    frame_log = csv.read_text().split("\n\n")[0]  # per-frame table; a run summary follows a blank line
    header, *rows = [[c.strip() for c in line.split(",")] for line in frame_log.splitlines()]
    poc, qp, kind = header.index("POC"), header.index("QP"), header.index("Type")
    by_poc = {int(r[poc]): (float(r[qp]), r[kind]) for r in rows}
    assert [by_poc[n][0] for n in range(len(qps))] == qps
    assert by_poc[0][1] == by_poc[6][1] == "I-SLICE" and by_poc[1][1] == "P-SLICE"


# --- NVENC ----------------------------------------------------------------------------------------------


def test_nvenc_h264_round_trip_and_header(tmp_path):
    rng = np.random.default_rng(1)
    maps = [QpMap(rng.integers(-12, 13, grid_shape(W, H)).astype(np.int8), W, H) for _ in range(3)] + [None]
    path = tmp_path / "maps.nvqp"
    files.write_nvenc_maps(path, maps, codec="h264")
    raw = path.read_bytes()
    assert struct.unpack_from("<4sHBBHHI", raw) == (b"PQPM", 1, 0, 16, 16, 9, 4)
    assert len(raw) == 16 + 4 * 9 * 16
    back = files.read_nvenc_maps(path)
    assert back.codec == "h264" and back.block_size == 16 and back.offsets.dtype == np.int8
    for i in range(3):
        np.testing.assert_array_equal(back.offsets[i], maps[i].offsets)
        assert back.frame(i) == maps[i].offsets.tobytes()  # raster order, one signed byte per macroblock
    assert not back.offsets[3].any()


@pytest.mark.parametrize("ctb", [16, 32, 64])
def test_nvenc_hevc_uses_ctb_grid(tmp_path, ctb):
    rng = np.random.default_rng(2)
    maps = [QpMap(rng.integers(-6, 7, grid_shape(W, H)).astype(np.int8), W, H) for _ in range(2)]
    files.write_nvenc_maps(tmp_path / "m", maps, codec="hevc", ctb_size=ctb)
    back = files.read_nvenc_maps(tmp_path / "m")
    assert (back.codec, back.block_size, back.offsets.shape) == ("hevc", ctb, (2, *grid_shape(W, H, ctb)))
    np.testing.assert_array_equal(back.offsets[1], maps[1].aggregate(ctb).offsets)


def test_nvenc_bad_inputs(tmp_path):
    with pytest.raises(PreanalysisError, match="use h264 or hevc"):
        files.write_nvenc_maps(tmp_path / "m", flat_maps([0]), codec="av1")
    with pytest.raises(PreanalysisError, match="CTB size 128"):
        files.write_nvenc_maps(tmp_path / "m", flat_maps([0]), codec="hevc", ctb_size=128)
    (tmp_path / "junk").write_bytes(b"not a map file at all")
    with pytest.raises(PreanalysisError, match="not an NVENC"):
        files.read_nvenc_maps(tmp_path / "junk")
    files.write_nvenc_maps(tmp_path / "m", flat_maps([1, 2]))
    (tmp_path / "cut").write_bytes((tmp_path / "m").read_bytes()[:-5])
    with pytest.raises(PreanalysisError, match="damaged"):
        files.read_nvenc_maps(tmp_path / "cut")


# --- SVT-AV1 --------------------------------------------------------------------------------------------


def brute_force_error(values: np.ndarray, k: int) -> float:
    """Least squared error of any split of the sorted distinct values into k contiguous groups."""
    x = np.unique(values)
    best = np.inf
    for cuts in itertools.combinations(range(1, len(x)), min(k, len(x)) - 1):
        bounds = [0, *cuts, len(x)]
        err = 0.0
        for a, b in itertools.pairwise(bounds):
            seg = values[(values >= x[a]) & (values <= x[b - 1])].astype(float)
            err += ((seg - seg.mean()) ** 2).sum()
        best = min(best, err)
    return best


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-12, 12), min_size=1, max_size=40), st.integers(1, 4))
def test_quantise_levels_is_optimal(values, k):
    v = np.array(values)
    q = svtav1.quantise_levels(v, k)
    assert len(np.unique(q)) <= k
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(q[order]) >= 0)  # order preserving
    # Levels are the groups' means rounded to integers: at most 0.25 extra squared error per value.
    assert ((q - v) ** 2).sum() <= brute_force_error(v, k) + 0.25 * v.size + 1e-9


def test_svtav1_roi_map_format(tmp_path):
    rng = np.random.default_rng(3)
    width, height = 1280, 720
    grid = grid_shape(width, height)
    maps = [QpMap(rng.integers(-12, 13, grid).astype(np.int8), width, height) for _ in range(3)]
    maps.insert(2, maps[1])  # picture 2 repeats picture 1: no new ROI event
    q = files.write_svtav1_roi_map(tmp_path / "roi.txt", maps)
    lines = (tmp_path / "roi.txt").read_text().splitlines()
    assert len(q) == 4 and [int(line.split()[0]) for line in lines] == [0, 1, 3]
    for line in lines:
        assert re.fullmatch(r"-?\d+( -?\d+)+", line)
        number, *offsets = map(int, line.split())
        assert len(offsets) == 20 * 12  # 64x64 superblocks in raster order
        assert 2 <= len(set(offsets)) <= 8
        np.testing.assert_array_equal(q[number].ravel(), offsets)
        sb = maps[number].aggregate(64).offsets.ravel() * svtav1.SVTAV1_QINDEX_PER_QP  # before the quantiser
        assert len(np.unique(sb)) > 8 and np.corrcoef(sb, offsets)[0, 1] > 0.95


def test_svtav1_exact_when_few_levels_and_clamped(tmp_path):
    m = np.zeros(grid_shape(W, H), np.int8)
    m[:, :8], m[:, 8:] = -51, 3
    q = files.svtav1_offsets([QpMap(m, W, H)], qindex_per_qp=6)
    assert q.shape == (1, 3, 4)
    assert np.all(q[0][:, :2] == -255) and np.all(q[0][:, 2:] == 18)  # -306 clamped; 3 QP -> 18 q-index


# --- kvazaar --------------------------------------------------------------------------------------------


def test_kvazaar_roi_is_temporal_median_on_lcu_grid(tmp_path):
    maps = flat_maps([-4, 2, 6, 9, -1])  # median 2
    roi = files.write_kvazaar_roi(tmp_path / "roi.txt", maps)
    lines = (tmp_path / "roi.txt").read_text().split("\n")
    assert lines[0] == "4 3" and roi.shape == (3, 4)
    values = [int(v) for line in lines[1:] for v in line.split()]
    assert values == [2] * 12


def test_kvazaar_accepts_roi_and_spends_bits_where_told(tmp_path, clip):
    roi = tmp_path / "roi.txt"
    files.write_kvazaar_roi(roi, left_right_maps(10))
    ffmpeg_encode(
        clip, tmp_path / "roi.mp4", "-frames:v", "10", "-c:v", "libkvazaar", "-kvazaar-params", f"roi={roi}"
    )
    ffmpeg_encode(clip, tmp_path / "plain.mp4", "-frames:v", "10", "-c:v", "libkvazaar")
    src = luma(clip)[:10]
    mapped, plain = luma(tmp_path / "roi.mp4"), luma(tmp_path / "plain.mp4")
    half = W // 2
    assert psnr(src[..., :half], mapped[..., :half]) > psnr(src[..., :half], plain[..., :half]) + 3
    assert psnr(src[..., half:], mapped[..., half:]) < psnr(src[..., half:], plain[..., half:]) - 1.5


# --- ffmpeg addroi script and x265 zones ----------------------------------------------------------------


def test_addroi_keeps_only_stable_regions():
    frames = []
    for k in range(10):
        m = np.zeros(grid_shape(W, H), np.int8)
        m[2:6, 3:9] = -5  # stable salient box
        m[0, :] = 4 * (-1) ** (k + np.arange(m.shape[1]))  # sign flips from frame to frame: not stable
        frames.append(QpMap(m, W, H))
    rois = addroi.addroi_rois(frames)
    assert rois == [addroi.Roi(x=48, y=32, w=96, h=64, delta=-5)]
    assert rois[0].filter() == "addroi=x=48:y=32:w=96:h=64:qoffset=-5/51"


def test_addroi_rectangles_are_few_disjoint_and_uniform():
    rng = np.random.default_rng(5)
    width, height = 1280, 720
    base = np.repeat(np.repeat(rng.integers(-6, 7, (6, 10)), 8, axis=0), 8, axis=1)[:45, :80].astype(np.int8)
    rois = addroi.addroi_rois([QpMap(base, width, height)] * 3, max_rects=32)
    assert 0 < len(rois) <= 32
    cover = np.zeros((height, width), np.int32)
    for r in rois:
        assert r.x % 16 == r.y % 16 == 0 and r.x + r.w <= width and r.y + r.h <= height
        cover[r.y : r.y + r.h, r.x : r.x + r.w] += 1
        assert r.delta != 0 and -51 <= r.delta <= 51
    assert cover.max() == 1


def test_addroi_rectangles_stay_inside_odd_sized_frames():
    width, height = 200, 120  # 12.5 x 7.5 macroblocks
    m = np.full(grid_shape(width, height), -3, np.int8)
    (roi,) = addroi.addroi_rois([QpMap(m, width, height)] * 2)
    assert (roi.x, roi.y, roi.w, roi.h, roi.delta) == (0, 0, 200, 120, -3)


def test_ffmpeg_accepts_addroi_script_and_lowers_qp_inside(tmp_path, clip):
    script = tmp_path / "roi.txt"
    files.write_addroi_script(script, left_right_maps(12))
    ffmpeg_encode(clip, tmp_path / "roi.mp4", "-frames:v", "12", "-/filter:v", str(script), "-c:v", "libx264")
    ffmpeg_encode(clip, tmp_path / "plain.mp4", "-frames:v", "12", "-c:v", "libx264")
    (kind, mapped), (_, plain) = read_qps(tmp_path / "roi.mp4")[0], read_qps(tmp_path / "plain.mp4")[0]
    assert kind == "I"
    # The -8 / +8 map comes back on the I-frame's coded macroblocks (x264's own AQ and mbtree add to it).
    assert -10.5 <= np.median(mapped[:, :8]) - np.median(plain[:, :8]) <= -5.5
    assert 5.5 <= np.median(mapped[:, 8:]) - np.median(plain[:, 8:]) <= 10.5


def test_empty_addroi_script_is_a_valid_null_filter(tmp_path, clip):
    script = tmp_path / "roi.txt"
    assert files.write_addroi_script(script, flat_maps([0, 0])) == []
    ffmpeg_encode(clip, tmp_path / "out.mp4", "-frames:v", "2", "-/filter:v", str(script), "-c:v", "libx264")


def test_scenes_follow_mean_offset_changes():
    means = [0.1] * 30 + [3.0] * 30 + [-2.0] * 5 + [3.0] * 25 + [-2.2] * 20
    zones = x265_zones.scenes(means, min_frames=12)
    assert [(z.start, z.end) for z in zones] == [(0, 29), (30, 89), (90, 109)]
    assert zones[2].offset == pytest.approx(-2.2) and zones[2].bitrate_factor == pytest.approx(2 ** (2.2 / 6))
    maps = flat_maps([0] * 30 + [3] * 30 + [-2] * 20)
    assert files.x265_zones(maps) == "30,59,b=0.707/60,79,b=1.260"
    assert x265_zones.scenes([]) == [] and x265_zones.scenes([2.0]) == [x265_zones.Zone(0, 0, 2.0)]
    assert files.x265_zones(flat_maps([0] * 20)) == ""  # nothing differs: no zones


def test_x265_zones_through_ffmpeg_change_the_bits(tmp_path, clip):
    maps = flat_maps([0] * 30 + [6] * 30)  # +6 QP on the second scene: about half the bits
    zones = files.x265_zones(maps)
    assert zones == "30,59,b=0.500"
    log = ffmpeg_encode(
        clip, tmp_path / "z.mp4", "-c:v", "libx265", "-x265-params", f"zones={zones}:log-level=error"
    )
    assert "Invalid value" not in log
    ffmpeg_encode(clip, tmp_path / "plain.mp4", "-c:v", "libx265", "-x265-params", "log-level=error")

    def frame_bytes(path):
        with av.open(str(path)) as container:
            packets = sorted((p.pts, p.size) for p in container.demux(video=0) if p.size)
        return np.array([size for _, size in packets])

    zoned, plain = frame_bytes(tmp_path / "z.mp4"), frame_bytes(tmp_path / "plain.mp4")
    assert abs(zoned[:30].sum() / plain[:30].sum() - 1) < 0.02  # the first scene is left alone
    assert 0.35 < zoned[30:].sum() / plain[30:].sum() < 0.75


# --- the `preanalysis qpfile` command --------------------------------------------------------------------


def qpfile(*args) -> int:
    return main(["qpfile", *map(str, args)])


@pytest.fixture(scope="module")
def scene_maps(scene, tmp_path_factory):
    """The generated scene and its maps file from `preanalysis analyze`."""
    maps = tmp_path_factory.mktemp("maps") / "maps.npz"
    assert main(["analyze", str(scene[0]), "-o", str(maps)]) == 0
    return scene[0], maps


def test_cli_qpfile_from_analysis_equals_from_maps(tmp_path, scene_maps):
    path, maps = scene_maps
    assert qpfile(path, "--format", "nvenc", "--codec", "hevc", "--ctb", "64", "-o", tmp_path / "a") == 0
    fresh = files.read_nvenc_maps(tmp_path / "a")
    assert fresh.codec == "hevc" and fresh.offsets.shape == (16, *grid_shape(320, 192, 64))
    assert qpfile(path, "--maps", maps, "--format", "nvenc-hevc", "--ctb", "64", "-o", tmp_path / "b") == 0
    np.testing.assert_array_equal(files.read_nvenc_maps(tmp_path / "b").offsets, fresh.offsets)


@pytest.mark.parametrize("fmt", ["x264", "x265", "nvenc-h264", "svtav1", "kvazaar"])
def test_cli_qpfile_every_format(tmp_path, scene_maps, fmt):
    path, maps = scene_maps
    out = tmp_path / "out.txt"
    assert qpfile(path, "--maps", maps, "--format", fmt, "-o", out) == 0
    text = out.read_bytes()
    if fmt in ("x264", "x265"):
        lines = text.decode().splitlines()
        assert len(lines) == 16 and lines[0].startswith("0 I ") and lines[1].startswith("1 P ")
    elif fmt == "kvazaar":
        assert text.decode().split("\n")[0] == "5 3"
    elif fmt == "svtav1":
        assert len(text.decode().splitlines()[0].split()) == 1 + 5 * 3
    else:
        assert files.read_nvenc_maps(out).offsets.shape == (16, 12, 20)


def known_maps_file(tmp_path) -> tuple[Path, Path]:
    """A 96x64, 30-frame clip and a maps file with known offsets: the left half -4 QP in every frame; the
    right half 0 in frames 0-14 and +3 in frames 15-29."""
    from preanalysis.learning.scenes import moving_objects, write_video
    from preanalysis.maps import write_maps
    from preanalysis.pipeline import FrameAnalysis
    from preanalysis.video import probe

    clip = write_video(moving_objects(96, 64, 30).rgb, tmp_path / "clip.mkv")
    frames = []
    for i in range(30):
        offsets = np.full((4, 6), 0 if i < 15 else 3, np.int8)
        offsets[:, :3] = -4
        frames.append(FrameAnalysis(i, i, i / 25, np.zeros((64, 96), np.float32), {}, np.zeros((64, 96), np.uint8),
                                    QpMap(offsets, 96, 64), i == 0))
    maps = tmp_path / "known.npz"
    write_maps(frames, maps, probe(clip))
    return clip, maps


def test_cli_addroi_script_and_x265_zones_say_what_the_maps_say(tmp_path):
    clip, maps = known_maps_file(tmp_path)
    assert qpfile(clip, "--maps", maps, "--format", "addroi", "-o", tmp_path / "roi.txt") == 0
    # only the left half is stable over the clip: one box, the wrapper's qoffset = delta / 51
    assert (tmp_path / "roi.txt").read_text() == "addroi=x=0:y=0:w=48:h=64:qoffset=-4/51\n"
    assert qpfile(clip, "--maps", maps, "--format", "x265-zones", "-o", tmp_path / "zones.txt") == 0
    # two scenes of frame means -2 and -0.5 QP: bitrate factors 2^(2/6) and 2^(0.5/6)
    assert (tmp_path / "zones.txt").read_text() == "0,14,b=1.260/15,29,b=1.059\n"


def test_cli_qpfile_errors(tmp_path, scene_maps, capsys):
    path, _ = scene_maps
    assert qpfile(path, "--format", "svtav1", "-o", path) == 2
    assert "is the input file" in capsys.readouterr().err
    other = make_test_pattern(tmp_path / "other.y4m", "176x144", 2)
    maps = tmp_path / "maps.npz"
    assert main(["analyze", str(other), "-o", str(maps)]) == 0
    assert qpfile(path, "--maps", maps, "--format", "kvazaar", "-o", tmp_path / "k.txt") == 2
    assert "176x144 video" in capsys.readouterr().err
    assert not (tmp_path / "k.txt").exists()

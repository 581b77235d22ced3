"""Region files as regions of interest (salience.roi_files, --roi-file): the same files eval's judge reads steer
the map, for regions that move (a tracked box, a mask video), not only fixed rectangles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.sweep import analysis_dict
from preanalysis.cli import main
from preanalysis.cli.options import config_from_args
from preanalysis.config import Config, RoiFile, from_dict, load_config
from preanalysis.errors import PreanalysisError
from preanalysis.farm import load_job
from preanalysis.farm.job import fingerprint
from preanalysis.learning.scenes import moving_objects, write_video
from preanalysis.maps import load_maps
from preanalysis.pipeline import analyze
from preanalysis.region_files import MaskVideoStream, load_region_file
from preanalysis.salience import combine

W, H, T = 192, 128, 10


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory):
    """A still camera, one sprite moving; its true masks as a mask video and its box as a two-key JSON track."""
    tmp = tmp_path_factory.mktemp("roi")
    scene = moving_objects(width=W, height=H, frames=T, objects=1, pan=(0.0, 0.0), seed=3)
    clip = write_video(scene.rgb, tmp / "scene.mkv")
    masks = write_video(np.repeat(scene.masks[..., None] * np.uint8(255), 3, axis=3), tmp / "truth.mkv")
    boxes = {}
    for t in (0, T - 1):
        ys, xs = np.nonzero(scene.masks[t])
        boxes[str(t)] = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    track = tmp / "track.json"
    track.write_text(json.dumps({"width": W, "height": H, "tracks": [{"id": "sprite", "boxes": boxes}]}))
    return scene, clip, masks, track


def roi_only(path, weight=1.0) -> Config:
    """No analyser weighted: the mask is the user's regions alone, offsets per frame, nothing else moving bits."""
    return from_dict(Config, {"salience": {"weights": {}, "roi_files": [{"path": str(path), "weight": weight}]},
                              "allocate": {"strength": 1.0, "segment": "frame", "sensitivity": "", "verify": False,
                                           "temporal_gain": 0.0}})


def test_a_tracked_box_is_protected_on_every_frame_between_its_keys(scene_clip):
    scene, clip, _, track = scene_clip
    regions = load_region_file(track, W, H)
    for fa in analyze(clip, roi_only(track)):
        inside = regions.mask(fa.index, W, H)
        offsets = np.kron(fa.qp.offsets, np.ones((16, 16), np.int8))[:H, :W]
        assert offsets[inside].mean() < 0 < offsets[~inside].mean()  # bits into the box, out of the rest
        assert fa.salience.max() == 255 and "roi_files" in fa.maps


def test_a_mask_video_steers_the_mask_and_is_read_as_the_frames_come(scene_clip):
    scene, clip, masks, _ = scene_clip
    for fa in analyze(clip, roi_only(masks, 0.5)):
        h, w = fa.salience.shape
        small = MaskVideoStream(masks).mask(fa.index, w, h)
        assert np.all(fa.salience[small] > fa.salience[~small].max())  # 0.5 + 0.5 inside, 0.5 elsewhere
    stream = MaskVideoStream(masks)
    later, earlier = stream.mask(7, W, H), stream.mask(2, W, H)  # backwards: decoded again from the start
    assert np.array_equal(later, scene.masks[7]) and np.array_equal(earlier, scene.masks[2])
    assert not stream.mask(T + 5, W, H).any()  # past the mask video's end: no region


def test_regions_add_to_the_maps_and_stand_alone():
    score = np.zeros((4, 6), np.float32)
    score[1:3, 2:4] = 0.75
    neutral = combine({}, {}, roi_score=score)  # normalise weights: no weighted map is the neutral 0.5
    assert neutral[1, 2] == 255 and neutral[0, 0] == 128
    evidence = combine({}, {}, normalise="evidence", roi_score=score)  # no evidence: 0, the regions their weight
    assert evidence[1, 2] == 191 and evidence[0, 0] == 0
    texture = np.full((4, 6), 0.4, np.float32)
    both = combine({"texture": texture}, {"texture": 1.0}, normalise="evidence", roi_score=score)
    assert both[1, 2] == 255 and both[0, 0] == 102
    with pytest.raises(PreanalysisError, match="give a region of interest file"):
        combine({}, {})


def test_cli_option_and_bad_files(scene_clip, tmp_path):
    _, clip, masks, track = scene_clip
    import argparse

    def args(*values):
        return argparse.Namespace(config=None, weight=[], roi=[], roi_file=list(values))

    config = config_from_args(args(f"{track},0.5", str(masks)))
    assert config.salience.roi_files == [RoiFile(str(track), 0.5), RoiFile(str(masks), 1.0)]
    with pytest.raises(PreanalysisError, match="roi file weight must be within"):
        config_from_args(args(f"{track},9"))
    (tmp_path / "boxes.txt").write_text("0,1,2,3,4\n")
    for bad, message in ((tmp_path / "missing.json", "does not exist"), (tmp_path / "boxes.txt", "use .json")):
        with pytest.raises(PreanalysisError, match=message):
            next(iter(analyze(clip, roi_only(bad))))
    assert main(["analyze", str(clip), "-o", str(tmp_path / "m.maps"), "--roi-file", str(tmp_path / "no.csv")]) != 0


def test_redrawn_regions_are_never_served_from_an_old_analysis(tmp_path):
    regions = tmp_path / "r.csv"
    regions.write_text("0,10,10,20,20\n")
    before = analysis_dict(roi_only(regions))
    regions.write_text("0,50,10,20,20\n")
    assert analysis_dict(roi_only(regions)) != before



def test_the_regions_preset_protects_the_users_regions_and_refuses_to_run_without_them(scene_clip, tmp_path):
    _, clip, _, track = scene_clip
    out = tmp_path / "m.maps"
    assert main(["analyze", str(clip), "-o", str(out), "--config", "regions", "--roi-file", str(track)]) == 0
    regions = load_region_file(track, W, H)
    for i, offsets in enumerate(load_maps(out).qp_offsets):
        blocks = np.kron(offsets, np.ones((16, 16), np.int8))[:H, :W]
        inside = regions.mask(i, W, H)
        assert blocks[inside].mean() < blocks[~inside].mean()
    with pytest.raises(PreanalysisError, match="the regions preset needs --roi-file"):
        next(iter(analyze(clip, load_config("regions"))))


def test_region_files_are_refused_for_several_clips(scene_clip, tmp_path):
    """Regions are drawn for one clip: eval, tune and the farm refuse to steer other clips' maps with them."""
    _, clip, _, track = scene_clip
    other = tmp_path / "other.mkv"
    other.write_bytes(clip.read_bytes())
    for command in (["eval", str(clip), str(other), "-o", str(tmp_path / "e")],
                    ["tune", str(clip), str(other), "-o", str(tmp_path / "t.yaml")]):
        assert main([*command, "--config", "regions", "--roi-file", str(track)]) == 2
    config = tmp_path / "regions.yaml"
    config.write_text(roi_only(track).to_yaml())
    job = tmp_path / "job.yaml"
    job.write_text(f"inputs: [{clip}, {other}]\noutput_dir: {tmp_path / 'farm'}\nconfig: {config}\n")
    with pytest.raises(PreanalysisError, match="farm job: region files .* belong to one clip and 2 were given"):
        load_job(job)
    job.write_text(f"inputs: [{clip}]\noutput_dir: {tmp_path / 'farm'}\nconfig: {config}\n")
    assert load_job(job).inputs == [str(clip.resolve())]


def test_a_redrawn_region_file_invalidates_the_farms_finished_work(scene_clip, tmp_path):
    """The farm's done-list is keyed by a fingerprint of each input's work; the config names region files only
    by path, so the fingerprint reads the files too: redrawn regions are analysed again, not skipped as done."""
    _, clip, _, track = scene_clip
    regions = tmp_path / "regions.json"
    regions.write_bytes(track.read_bytes())
    config = tmp_path / "regions.yaml"
    config.write_text(roi_only(regions).to_yaml())
    job_file = tmp_path / "job.yaml"
    job_file.write_text(f"inputs: [{clip}]\noutput_dir: {tmp_path / 'farm'}\nconfig: {config}\n")
    job = load_job(job_file)
    before = fingerprint(job, job.inputs[0], config.read_text())
    assert fingerprint(job, job.inputs[0], config.read_text()) == before
    regions.write_text(regions.read_text().replace("]", " ]", 1))  # redrawn (same path, same config text)
    assert fingerprint(job, job.inputs[0], config.read_text()) != before


def test_python_api_takes_each_titles_regions(scene_clip, tmp_path):
    """A farm script reuses one Preanalysis for many titles: the regions come with the title, not the config."""
    import preanalysis

    _, clip, masks, track = scene_clip
    p = preanalysis.Preanalysis("regions")
    regions = load_region_file(track, W, H)
    for fa in p.analyze(clip, regions=track):
        blocks = np.kron(fa.qp.offsets, np.ones((16, 16), np.int8))[:H, :W]
        assert blocks[regions.mask(fa.index, W, H)].mean() < blocks[~regions.mask(fa.index, W, H)].mean()
    assert p.config.salience.roi_files == []  # the title's regions did not stick to the config
    both = p.config_for([track, (masks, 0.5)]).salience.roi_files
    assert both == [RoiFile(str(track), 1.0), RoiFile(str(masks), 0.5)]
    with pytest.raises(PreanalysisError, match="give a path or a \\(path, weight\\) pair"):
        p.config_for([(track,)])
    result = p.encode(clip, tmp_path / "a.mp4", crf=30, preset="veryfast", regions=track)
    assert (tmp_path / "a.mp4").stat().st_size > 0 and result.frames == T
    with pytest.raises(PreanalysisError, match="the regions preset needs --roi-file"):
        p.encode(clip, tmp_path / "b.mp4", crf=30, preset="veryfast")

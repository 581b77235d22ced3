"""The README's first command: the demo runs end to end and the allocator keeps its bitrate promise."""

import re

from preanalysis.cli import main


def test_demo_keeps_the_bitrate_within_ten_percent(tmp_path, capsys, bikes):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    ratio = float(re.search(r"mapped/baseline bitrate: ([0-9.]+)", out).group(1))
    assert 0.9 <= ratio <= 1.1, out  # default config, CRF 23, bikes: the map moves bits, not the total
    assert re.search(r"^baseline\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$", out, re.M)
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "mapped.mp4").stat().st_size > 0 and (tmp_path / "baseline.mp4").stat().st_size > 0

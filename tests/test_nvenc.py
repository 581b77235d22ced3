"""NVENC adapter: struct layouts against the SDK header (as gcc lays it out), delta-QP map packing, refusals.

tests/data/nvenc_layout.json is what tests/data/nvenc_layout.c prints when compiled against nvEncodeAPI.h of
Video Codec SDK 13.0 (FFmpeg/nv-codec-headers f2fb9b3).  No machine here has an NVENC engine, so the encode
loop itself is not exercised (see encoder_adapters/nvenc/api.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from encoder_adapters import EncodeSettings, encode_file, get_adapter
from encoder_adapters.nvenc import api as nvenc
from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.errors import PreanalysisError

LAYOUT = json.loads((Path(__file__).parent / "data" / "nvenc_layout.json").read_text())
STRUCTS = {cls.__name__: cls for cls in nvenc.STRUCTS}


def bit_position(cls, name: str) -> tuple[int, int, int]:
    """(byte offset of the 32-bit word, shift, width) of a bitfield, found the way the C side finds it."""
    s = cls()
    setattr(s, name, (1 << 32) - 1)  # ctypes truncates to the field's width, like the C assignment
    raw = bytes(s)
    first = next(i for i, b in enumerate(raw) if b)
    word = first & ~3
    value = int.from_bytes(raw[word: word + 4], "little")
    return word, (value & -value).bit_length() - 1, value.bit_count()


@pytest.mark.parametrize("name", [k for k in LAYOUT if isinstance(LAYOUT[k], dict)])
def test_struct_layout_matches_the_sdk_header(name):
    expected = LAYOUT[name]
    cls = STRUCTS[name]
    assert ctypes.sizeof(cls) == expected["size"], f"sizeof({name})"
    assert ctypes.alignment(cls) == expected["align"], f"alignof({name})"
    for field, where in expected["fields"].items():
        if isinstance(where, list):
            assert list(bit_position(cls, field)) == where, f"{name}.{field} bitfield"
        else:
            assert getattr(cls, field).offset == where, f"offsetof({name}, {field})"


def test_every_struct_used_is_checked():
    assert set(STRUCTS) <= set(LAYOUT)


def test_version_macros_and_enums_match_the_header():
    for key, value in LAYOUT.items():
        if isinstance(value, int):
            assert getattr(nvenc, key) == value, key


def test_function_table_slots():
    fields = LAYOUT["NV_ENCODE_API_FUNCTION_LIST"]["fields"]
    assert set(nvenc.PROTOTYPES) <= set(fields) | {"nvEncDestroyEncoder"}
    for name, offset in fields.items():
        assert getattr(nvenc.NV_ENCODE_API_FUNCTION_LIST, name).offset == offset


def random_map(width: int, height: int, seed: int = 0) -> QpMap:
    rows, cols = grid_shape(width, height)
    offsets = np.random.default_rng(seed).integers(-60, 61, (rows, cols)).astype(np.int8)
    return QpMap(offsets, width, height)


def test_h264_map_is_one_byte_per_macroblock_in_raster_order():
    qp = random_map(100, 50)  # odd sizes: partial macroblocks at the right and bottom edges
    packed = nvenc.qp_delta_map(qp, "h264", 100, 50)
    assert packed.dtype == np.int8 and packed.size == 7 * 4
    np.testing.assert_array_equal(packed.reshape(4, 7), np.clip(qp.offsets, -51, 51))
    # The bytes the picture params point at are exactly these, in order.
    pic = nvenc.NV_ENC_PIC_PARAMS()
    pic.qpDeltaMap = packed.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
    pic.qpDeltaMapSize = packed.size
    assert ctypes.string_at(pic.qpDeltaMap, pic.qpDeltaMapSize) == packed.tobytes()
    offset = nvenc.NV_ENC_PIC_PARAMS.qpDeltaMap.offset
    assert int.from_bytes(bytes(pic)[offset: offset + 8], "little") == packed.ctypes.data


@pytest.mark.parametrize("ctb", [32, 64])
def test_hevc_map_is_one_byte_per_ctb(ctb):
    qp = random_map(200, 120, seed=ctb)
    packed = nvenc.qp_delta_map(qp, "hevc", 200, 120, ctb_size=ctb)
    rows, cols = grid_shape(200, 120, ctb)
    assert packed.size == rows * cols
    np.testing.assert_array_equal(packed.reshape(rows, cols), np.clip(qp.aggregate(ctb).offsets, -51, 51))


def test_map_for_another_size_is_refused():
    with pytest.raises(PreanalysisError, match="make the maps from this video"):
        nvenc.qp_delta_map(random_map(64, 64), "h264", 128, 64)
    with pytest.raises(PreanalysisError, match="unknown NVENC codec"):
        nvenc.qp_delta_map(random_map(64, 64), "av1", 64, 64)


def test_settings_are_validated():
    with pytest.raises(PreanalysisError, match="unknown nvenc-h264 preset 'slow'"):
        EncodeSettings("nvenc-h264", crf=23, preset="slow")
    hevc = get_adapter("nvenc-hevc")
    with pytest.raises(PreanalysisError, match="CTB size"):
        hevc.session_config(EncodeSettings("nvenc-hevc", crf=23, params={"ctb-size": "8"}))
    with pytest.raises(PreanalysisError, match="crf 51.6 is out of range: nvenc-hevc takes 0..51"):
        EncodeSettings("nvenc-hevc", crf=51.6)
    with pytest.raises(PreanalysisError, match="takes no param 'aq-mode'"):
        hevc.check_settings(EncodeSettings("nvenc-hevc", crf=23, params={"aq-mode": "1"}), 8)
    with pytest.raises(PreanalysisError, match="10-bit source"):
        hevc.check_settings(EncodeSettings("nvenc-hevc", crf=23), 10)
    config = hevc.session_config(EncodeSettings("nvenc-hevc", bitrate_kbps=900, preset="p6", params={"ctb-size": "64"}))
    assert (config.codec, config.bitrate_kbps, config.preset, config.ctb_size) == ("hevc", 900, "p6", 64)
    assert EncodeSettings("nvenc-h264", bitrate_kbps=900).mode == "bitrate"  # NVENC's own one-pass VBR


def has_nvenc_library() -> bool:
    try:
        ctypes.CDLL("libnvidia-encode.so.1")
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def test_refuses_cleanly_without_an_nvenc_gpu():
    """Without the driver libraries, or on a GPU without an encoder engine, the session refuses in one line."""
    with pytest.raises(PreanalysisError) as info:
        nvenc.NvencEncoder(64, 64, Fraction(25), nvenc.SessionConfig())
    message = str(info.value)
    assert "\n" not in message and "x264" in message
    if has_nvenc_library():
        assert "has no NVENC engine" in message or "driver" in message
    else:
        assert "NVENC is not available" in message and ".so.1 was not found" in message


def test_encode_refuses_a_container_output_and_reaches_the_sdk_through_encode_file(carphone, tmp_path):
    with pytest.raises(PreanalysisError, match="unknown output extension '.mp4' for nvenc-h264: use one of .264"):
        encode_file(carphone, tmp_path / "out.mp4", EncodeSettings("nvenc-h264", crf=23))
    with pytest.raises(PreanalysisError) as info:  # the common path opens a real session (and refuses here)
        encode_file(carphone, tmp_path / "out.264", EncodeSettings("nvenc-h264", crf=23), lambda i: None)
    assert ("NVENC is not available" in str(info.value) or "NVENC engine" in str(info.value))
    assert not (tmp_path / "out.264").exists()

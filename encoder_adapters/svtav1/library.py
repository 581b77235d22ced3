"""ctypes bindings to the libSvtAv1Enc that PyAV's wheel bundles (SVT-AV1 v4.1.0), only what the session uses.

Struct layouts follow Source/API/EbSvtAv1.h and EbSvtAv1Enc.h of SVT-AV1 tag v4.1.0; tests/test_svtav1.py
checks every size and offset against tests/data/svtav1_layout.json, which tests/data/svtav1_layout.c prints
when compiled against those headers.  The calls follow the version's own SvtAv1EncApp (Source/App):
init_handle (fills the defaults) -> parse_parameter / fields -> set_parameter -> init -> send_picture with a
per-picture EbPrivDataNode list in p_app_private -> get_packet until EOS -> deinit, deinit_handle.

A ROI_MAP_EVENT node carries a *pointer* to an SvtAv1RoiMapEvt: the library does not copy the event, it keeps
using it for every later picture until another event arrives, so events must outlive the encoder.
"""

from __future__ import annotations

import ctypes
import logging
from functools import cache

from preanalysis.errors import PreanalysisError

from ..pyav.roi_sidedata import pyav_library

log = logging.getLogger("preanalysis")

VALIDATED_VERSION = "v4.1"  # svt_av1_get_version() of PyAV 18.1's wheel: "v4.1.0"

i8, u8, i16, i32, u32, i64, u64, f64, ptr = (ctypes.c_int8, ctypes.c_uint8, ctypes.c_int16, ctypes.c_int32,
                                             ctypes.c_uint32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_double,
                                             ctypes.c_void_p)
boolean, enum = ctypes.c_bool, ctypes.c_int

# --- constants (EbSvtAv1.h, EbSvtAv1Enc.h v4.1.0) -----------------------------------------------------------
EB_ErrorNone = 0
EB_NoErrorEmptyQueue = -0x7FFFDFCD  # (int32_t)0x80002033
EB_BUFFERFLAG_EOS = 0x1
EB_AV1_KEY_PICTURE = 3
EB_AV1_INVALID_PICTURE = 0xFF
ROI_MAP_EVENT = 2  # PrivDataType
EB_YUV420 = 1
SVT_AV1_RC_MODE_CQP_OR_CRF, SVT_AV1_RC_MODE_VBR, SVT_AV1_RC_MODE_CBR = 0, 1, 2
SVT_AV1_STREAM_INFO_FIRST_PASS_STATS_OUT = 1
MAX_SEGMENTS = 8
MAX_TEMPORAL_LAYERS = 6
FRAME_UPDATE_TYPES = 7  # SVT_AV1_FRAME_UPDATE_TYPES
CONFIG_PADDING = 128 - 4 + 1  # uint8_t padding[128 - sizeof(PredStructure) + sizeof(uint8_t)]


# --- structs, fields in header order ------------------------------------------------------------------------
class EbBufferHeaderType(ctypes.Structure):
    _fields_ = [
        ("size", u32), ("p_buffer", ptr), ("n_filled_len", u32), ("n_alloc_len", u32), ("p_app_private", ptr),
        ("wrapper_ptr", ptr), ("n_tick_count", u32), ("dts", i64), ("pts", i64), ("temporal_layer_index", u8),
        ("qp", u32), ("avg_qp", u32), ("pic_type", enum), ("luma_sse", u64), ("cr_sse", u64), ("cb_sse", u64),
        ("flags", u32), ("luma_ssim", f64), ("cr_ssim", f64), ("cb_ssim", f64), ("metadata", ptr),
    ]


class EbSvtIOFormat(ctypes.Structure):
    """One input picture: plane pointers and strides in samples (8-bit bytes or 16-bit little-endian words)."""

    _fields_ = [("luma", ptr), ("cb", ptr), ("cr", ptr), ("y_stride", u32), ("cr_stride", u32), ("cb_stride", u32)]


class EbPrivDataNode(ctypes.Structure):
    pass


EbPrivDataNode._fields_ = [("node_type", enum), ("data", ptr), ("size", u32), ("next", ctypes.POINTER(EbPrivDataNode))]


class SvtAv1RoiMapEvt(ctypes.Structure):
    pass


SvtAv1RoiMapEvt._fields_ = [
    ("start_picture_number", u64), ("b64_seg_map", ctypes.POINTER(u8)), ("seg_qp", i16 * MAX_SEGMENTS),
    ("max_seg_id", i8), ("next", ctypes.POINTER(SvtAv1RoiMapEvt)),
]


class SvtAv1FixedBuf(ctypes.Structure):
    _fields_ = [("buf", ptr), ("sz", u64)]


class ChromaPoints(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint16), ("y", ctypes.c_uint16)]


class MasteringDisplayInfo(ctypes.Structure):
    _fields_ = [("r", ChromaPoints), ("g", ChromaPoints), ("b", ChromaPoints), ("white_point", ChromaPoints),
                ("max_luma", u32), ("min_luma", u32)]


class ContentLightLevel(ctypes.Structure):
    _fields_ = [("max_cll", ctypes.c_uint16), ("max_fall", ctypes.c_uint16)]


class SvtAv1FrameScaleEvts(ctypes.Structure):
    _fields_ = [("evt_num", u32), ("start_frame_nums", ptr), ("resize_kf_denoms", ptr), ("resize_denoms", ptr)]


class SvtAv1SFramePositions(ctypes.Structure):
    _fields_ = [("sframe_num", u32), ("sframe_posis", ptr), ("sframe_qp_num", u32), ("sframe_qps", ptr),
                ("sframe_qp_offsets", ptr)]


class EbSvtAv1EncConfiguration(ctypes.Structure):
    _fields_ = [
        ("enc_mode", i8), ("intra_period_length", i32), ("intra_refresh_type", enum), ("hierarchical_levels", u32),
        ("pred_structure", enum), ("source_width", u32), ("source_height", u32), ("forced_max_frame_width", u32),
        ("forced_max_frame_height", u32), ("frame_rate_numerator", u32), ("frame_rate_denominator", u32),
        ("encoder_bit_depth", u32), ("encoder_color_format", enum), ("profile", enum), ("tier", u32),
        ("level", u32), ("color_primaries", enum), ("transfer_characteristics", enum),
        ("matrix_coefficients", enum), ("color_range", enum), ("mastering_display", MasteringDisplayInfo),
        ("content_light_level", ContentLightLevel), ("chroma_sample_position", enum), ("rate_control_mode", u8),
        ("qp", u32), ("use_qp_file", boolean), ("target_bit_rate", u32), ("max_bit_rate", u32),
        ("max_qp_allowed", u32), ("min_qp_allowed", u32), ("vbr_min_section_pct", u32),
        ("vbr_max_section_pct", u32), ("under_shoot_pct", u32), ("over_shoot_pct", u32),
        ("mbr_over_shoot_pct", u32), ("starting_buffer_level_ms", i64), ("optimal_buffer_level_ms", i64),
        ("maximum_buffer_size_ms", i64), ("rc_stats_buffer", SvtAv1FixedBuf), ("pass", i32),
        ("use_fixed_qindex_offsets", u8), ("qindex_offsets", i32 * MAX_TEMPORAL_LAYERS),
        ("key_frame_chroma_qindex_offset", i32), ("key_frame_qindex_offset", i32),
        ("chroma_qindex_offsets", i32 * MAX_TEMPORAL_LAYERS), ("luma_y_dc_qindex_offset", i32),
        ("chroma_u_dc_qindex_offset", i32), ("chroma_u_ac_qindex_offset", i32), ("chroma_v_dc_qindex_offset", i32),
        ("chroma_v_ac_qindex_offset", i32), ("enable_dlf_flag", u8), ("film_grain_denoise_strength", u32),
        ("film_grain_denoise_apply", u8), ("cdef_level", i32), ("enable_restoration_filtering", i32),
        ("enable_mfmv", i32), ("scene_change_detection", u32), ("tile_columns", i32), ("tile_rows", i32),
        ("look_ahead_distance", u32), ("recode_loop", u32), ("screen_content_mode", u32), ("aq_mode", u8),
        ("enable_tf", u8), ("enable_overlays", boolean), ("tune", u8), ("superres_mode", u8),
        ("superres_denom", u8), ("superres_kf_denom", u8), ("superres_qthres", u8), ("superres_kf_qthres", u8),
        ("superres_auto_search_type", u8), ("fast_decode", u8), ("sframe_dist", i32), ("sframe_mode", enum),
        ("level_of_parallelism", u32), ("use_cpu_flags", u64), ("stat_report", u32), ("recon_enabled", boolean),
        ("force_key_frames", boolean), ("multiply_keyint", boolean), ("resize_mode", u8), ("resize_denom", u8),
        ("resize_kf_denom", u8), ("enable_qm", boolean), ("min_qm_level", u8), ("max_qm_level", u8),
        ("gop_constraint_rc", boolean), ("lambda_scale_factors", i32 * FRAME_UPDATE_TYPES), ("enable_dg", boolean),
        ("startup_mg_size", u8), ("startup_qp_offset", i8), ("frame_scale_evts", SvtAv1FrameScaleEvts),
        ("enable_roi_map", boolean), ("tf_strength", u8), ("fgs_table", ptr), ("enable_variance_boost", boolean),
        ("variance_boost_strength", u8), ("variance_octile", u8), ("sharpness", i8), ("variance_boost_curve", u8),
        ("luminance_qp_bias", u8), ("lossless", boolean), ("avif", boolean), ("min_chroma_qm_level", u8),
        ("max_chroma_qm_level", u8), ("rtc", boolean), ("qp_scale_compress_strength", u8),
        ("sframe_posi", SvtAv1SFramePositions), ("sframe_qp", u8), ("sframe_qp_offset", i8),
        ("adaptive_film_grain", boolean), ("max_tx_size", u8), ("extended_crf_qindex_offset", u8),
        ("ac_bias", f64), ("padding", u8 * CONFIG_PADDING),
    ]


STRUCTS = (EbBufferHeaderType, EbSvtIOFormat, EbPrivDataNode, SvtAv1RoiMapEvt, SvtAv1FixedBuf, ChromaPoints,
           MasteringDisplayInfo, ContentLightLevel, SvtAv1FrameScaleEvts, SvtAv1SFramePositions,
           EbSvtAv1EncConfiguration)

_handle_p = ctypes.POINTER(ptr)
_config_p = ctypes.POINTER(EbSvtAv1EncConfiguration)
_header_p = ctypes.POINTER(EbBufferHeaderType)
PROTOTYPES = {  # name: (restype, argtypes)
    "svt_av1_get_version": (ctypes.c_char_p, ()),
    "svt_av1_enc_init_handle": (i32, (_handle_p, _config_p)),
    "svt_av1_enc_set_parameter": (i32, (ptr, _config_p)),
    "svt_av1_enc_parse_parameter": (i32, (_config_p, ctypes.c_char_p, ctypes.c_char_p)),
    "svt_av1_enc_init": (i32, (ptr,)),
    "svt_av1_enc_stream_header": (i32, (ptr, ctypes.POINTER(_header_p))),
    "svt_av1_enc_stream_header_release": (i32, (_header_p,)),
    "svt_av1_enc_send_picture": (i32, (ptr, _header_p)),
    "svt_av1_enc_get_packet": (i32, (ptr, ctypes.POINTER(_header_p), u8)),
    "svt_av1_enc_release_out_buffer": (None, (ctypes.POINTER(_header_p),)),
    "svt_av1_enc_get_stream_info": (i32, (ptr, u32, ptr)),
    "svt_av1_enc_deinit": (i32, (ptr,)),
    "svt_av1_enc_deinit_handle": (i32, (ptr,)),
    "svt_av1_set_log_callback": (None, (ptr, ptr)),
}

# void (*SvtAv1LogCallback)(void* context, SvtAv1LogLevel level, const char* tag, const char* fmt, va_list args)
LOG_CALLBACK = ctypes.CFUNCTYPE(None, ptr, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ptr)
SVT_AV1_LOG_WARN = 2


def no_library_advice() -> str:
    return "install PyAV 18.1.x (its wheel bundles libSvtAv1Enc 4.1), or use --encoder x264 / x265"


def check_version(version: str) -> None:
    """Refuse a library whose struct layouts were not checked: only v4.1.x matches the ctypes layouts here."""
    if not (version == VALIDATED_VERSION or version.startswith(VALIDATED_VERSION + ".")):
        raise PreanalysisError(
            f"libSvtAv1Enc {version} is not the version this adapter was checked against "
            f"({VALIDATED_VERSION}.x, whose struct layouts it uses): {no_library_advice()}"
        )


def _forward_log(context, level: int, tag: bytes | None, fmt: bytes | None, args) -> None:
    """SVT-AV1 log lines: errors as warnings, its warnings (printed on every encode, e.g. "Preset M12 is mapped
    to M11") at debug level, info (its banner, per-encode settings) dropped."""
    if level > SVT_AV1_LOG_WARN or not fmt:
        return
    buf = ctypes.create_string_buffer(1024)
    _libc().vsnprintf(buf, len(buf), fmt, args)
    text = buf.value.decode(errors="replace").strip()
    if text:
        log.log(logging.DEBUG if level == SVT_AV1_LOG_WARN else logging.WARNING, "SVT-AV1: %s", text)


_log_callback = LOG_CALLBACK(_forward_log)  # kept alive for the process: the library holds the pointer


@cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)
    libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ptr]
    return libc


@cache
def svt_library() -> ctypes.CDLL:
    """PyAV's libSvtAv1Enc with prototypes set, after checking its version; PreanalysisError if unusable."""
    lib = pyav_library("libSvtAv1Enc")
    if lib is None:
        raise PreanalysisError(f"SVT-AV1 is not available: PyAV's libSvtAv1Enc was not found: {no_library_advice()}")
    missing = [name for name in PROTOTYPES if not hasattr(lib, name)]
    if missing:
        raise PreanalysisError(f"{lib._name} lacks {', '.join(missing)}: it is not SVT-AV1 4.1: {no_library_advice()}")
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, list(argtypes)
    check_version(lib.svt_av1_get_version().decode(errors="replace"))
    # Before the first handle (the library reads the callback once, when it first logs).
    lib.svt_av1_set_log_callback(ctypes.cast(_log_callback, ptr), None)
    return lib


def library_version() -> str:
    return svt_library().svt_av1_get_version().decode()

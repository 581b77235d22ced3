"""NVENC through the NVIDIA Video Codec SDK (ctypes on libnvidia-encode.so.1 and libcuda.so.1), with a
per-picture delta-QP map: NV_ENC_RC_PARAMS.qpMapMode = NV_ENC_QP_MAP_DELTA and NV_ENC_PIC_PARAMS.qpDeltaMap =
one signed byte per 16x16 macroblock (H.264) or per CTB (HEVC), raster order.

FFmpeg's h264_nvenc/hevc_nvenc do not read ROI side data, so this talks to the SDK directly.  Struct layouts
follow nvEncodeAPI.h of Video Codec SDK 13.0 (FFmpeg/nv-codec-headers commit f2fb9b3); tests/test_nvenc.py
checks every size and offset used here against tests/data/nvenc_layout.json, which tests/data/nvenc_layout.c
prints when compiled against that header.  The encode loop follows FFmpeg's nvenc.c (CUDA context, system
memory input buffers locked and filled as NV12 with the driver's pitch, synchronous mode, no B-frames so
every picture's bitstream is ready when nvEncEncodePicture returns).

NOT RUN ON NVENC HARDWARE: no machine here has an NVENC engine (H100/H200 have none).  What ran: layout
tests, map packing, and the refusals (no driver library; a GPU without an encoder).  Everything from
nvEncInitializeEncoder onward (preset query, buffers, encode, bitstream lock) has never executed.
The adapter (`--encoder nvenc-h264|nvenc-hevc`) is in adapter.py.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from preanalysis.qpmap import QpMap, grid_shape
from preanalysis.errors import PreanalysisError


log = logging.getLogger("preanalysis")

# --- constants (nvEncodeAPI.h, SDK 13.0) -------------------------------------------------------------------
NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION = 13, 0
NVENCAPI_VERSION = NVENCAPI_MAJOR_VERSION | (NVENCAPI_MINOR_VERSION << 24)


def struct_version(ver: int, high_bit: bool = False) -> int:
    """NVENCAPI_STRUCT_VERSION(ver), optionally | (1u << 31) as some structs' _VER macros add."""
    return (NVENCAPI_VERSION | (ver << 16) | (0x7 << 28)) | ((1 << 31) if high_bit else 0)


NV_ENC_CONFIG_VER = struct_version(9, True)
NV_ENC_RC_PARAMS_VER = struct_version(1)
NV_ENC_PRESET_CONFIG_VER = struct_version(5, True)
NV_ENC_INITIALIZE_PARAMS_VER = struct_version(7, True)
NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER = struct_version(1)
NV_ENCODE_API_FUNCTION_LIST_VER = struct_version(2)
NV_ENC_CREATE_INPUT_BUFFER_VER = struct_version(2)
NV_ENC_CREATE_BITSTREAM_BUFFER_VER = struct_version(1)
NV_ENC_LOCK_INPUT_BUFFER_VER = struct_version(1)
NV_ENC_LOCK_BITSTREAM_VER = struct_version(2, True)
NV_ENC_PIC_PARAMS_VER = struct_version(7, True)

NV_ENC_QP_MAP_DELTA = 2
NV_ENC_PARAMS_RC_CONSTQP, NV_ENC_PARAMS_RC_VBR, NV_ENC_PARAMS_RC_CBR = 0, 1, 2
NV_ENC_BUFFER_FORMAT_NV12 = 1
NV_ENC_DEVICE_TYPE_CUDA = 1
NV_ENC_PIC_STRUCT_FRAME = 1
NV_ENC_PIC_FLAG_EOS = 0x8
NV_ENC_PIC_TYPE_UNKNOWN = 0xFF
NV_ENC_MEMORY_HEAP_SYSMEM_CACHED = 2
NV_ENC_TUNING_INFO_HIGH_QUALITY = 1
NV_ENC_SUCCESS, NV_ENC_ERR_NO_ENCODE_DEVICE, NV_ENC_ERR_UNSUPPORTED_DEVICE = 0, 1, 2
NV_ENC_ERR_INVALID_VERSION, NV_ENC_ERR_NEED_MORE_INPUT, NV_ENC_ERR_ENCODER_BUSY, NV_ENC_ERR_GENERIC = 15, 17, 18, 20
QP_RANGE = 51  # 8-bit delta range


class GUID(ctypes.Structure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16),
                ("Data4", ctypes.c_uint8 * 8)]

    @classmethod
    def of(cls, d1: int, d2: int, d3: int, d4: tuple[int, ...]) -> GUID:
        return cls(d1, d2, d3, (ctypes.c_uint8 * 8)(*d4))


CODEC_GUIDS = {
    "h264": GUID.of(0x6BC82762, 0x4E63, 0x4CA4, (0xAA, 0x85, 0x1E, 0x50, 0xF3, 0x21, 0xF6, 0xBF)),
    "hevc": GUID.of(0x790CDC88, 0x4522, 0x4D7B, (0x94, 0x25, 0xBD, 0xA9, 0x97, 0x5F, 0x76, 0x03)),
}
PRESET_GUIDS = {
    "p1": GUID.of(0xFC0A8D3E, 0x45F8, 0x4CF8, (0x80, 0xC7, 0x29, 0x88, 0x71, 0x59, 0x0E, 0xBF)),
    "p2": GUID.of(0xF581CFB8, 0x88D6, 0x4381, (0x93, 0xF0, 0xDF, 0x13, 0xF9, 0xC2, 0x7D, 0xAB)),
    "p3": GUID.of(0x36850110, 0x3A07, 0x441F, (0x94, 0xD5, 0x36, 0x70, 0x63, 0x1F, 0x91, 0xF6)),
    "p4": GUID.of(0x90A7B826, 0xDF06, 0x4862, (0xB9, 0xD2, 0xCD, 0x6D, 0x73, 0xA0, 0x86, 0x81)),
    "p5": GUID.of(0x21C6E6B4, 0x297A, 0x4CBA, (0x99, 0x8F, 0xB6, 0xCB, 0xDE, 0x72, 0xAD, 0xE3)),
    "p6": GUID.of(0x8E75C279, 0x6299, 0x4AB6, (0x83, 0x02, 0x0B, 0x21, 0x5A, 0x33, 0x5C, 0xF5)),
    "p7": GUID.of(0x84848C12, 0x6F71, 0x4C13, (0x93, 0x1B, 0x53, 0xE2, 0x83, 0xF5, 0x79, 0x74)),
}

# --- structs, fields in header order (ctypes computes the C layout; the tests compare it with gcc's) --------
u8, u16, u32, i8, i32, u64, ptr = (ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int8,
                                   ctypes.c_int32, ctypes.c_uint64, ctypes.c_void_p)


class NV_ENC_QP(ctypes.Structure):
    _fields_ = [("qpInterP", u32), ("qpInterB", u32), ("qpIntra", u32)]


class NV_ENC_RC_PARAMS(ctypes.Structure):
    _fields_ = [
        ("version", u32), ("rateControlMode", u32), ("constQP", NV_ENC_QP), ("averageBitRate", u32),
        ("maxBitRate", u32), ("vbvBufferSize", u32), ("vbvInitialDelay", u32),
        ("enableMinQP", u32, 1), ("enableMaxQP", u32, 1), ("enableInitialRCQP", u32, 1), ("enableAQ", u32, 1),
        ("reservedBitField1", u32, 1), ("enableLookahead", u32, 1), ("disableIadapt", u32, 1),
        ("disableBadapt", u32, 1), ("enableTemporalAQ", u32, 1), ("zeroReorderDelay", u32, 1),
        ("enableNonRefP", u32, 1), ("strictGOPTarget", u32, 1), ("aqStrength", u32, 4),
        ("enableExtLookahead", u32, 1), ("reservedBitFields", u32, 15),
        ("minQP", NV_ENC_QP), ("maxQP", NV_ENC_QP), ("initialRCQP", NV_ENC_QP), ("temporallayerIdxMask", u32),
        ("temporalLayerQP", u8 * 8), ("targetQuality", u8), ("targetQualityLSB", u8), ("lookaheadDepth", u16),
        ("lowDelayKeyFrameScale", u8), ("yDcQPIndexOffset", i8), ("uDcQPIndexOffset", i8),
        ("vDcQPIndexOffset", i8), ("qpMapMode", u32), ("multiPass", u32), ("alphaLayerBitrateRatio", u32),
        ("cbQPIndexOffset", i8), ("crQPIndexOffset", i8), ("reserved2", u16), ("lookaheadLevel", u32),
        ("viewBitrateRatios", u8 * 7), ("reserved3", u8), ("reserved1", u32),
    ]


class NV_ENC_CODEC_CONFIG(ctypes.Union):
    """Opaque here: the preset query fills it and we pass it back unchanged (1792 bytes in SDK 13.0)."""

    _fields_ = [("bytes", u8 * 1792), ("_align", u64)]


class NV_ENC_CONFIG(ctypes.Structure):
    _fields_ = [
        ("version", u32), ("profileGUID", GUID), ("gopLength", u32), ("frameIntervalP", i32),
        ("monoChromeEncoding", u32), ("frameFieldMode", u32), ("mvPrecision", u32), ("rcParams", NV_ENC_RC_PARAMS),
        ("encodeCodecConfig", NV_ENC_CODEC_CONFIG), ("reserved", u32 * 278), ("reserved2", ptr * 64),
    ]


class NV_ENC_PRESET_CONFIG(ctypes.Structure):
    _fields_ = [("version", u32), ("reserved", u32), ("presetCfg", NV_ENC_CONFIG), ("reserved1", u32 * 256),
                ("reserved2", ptr * 64)]


class NVENC_EXTERNAL_ME_HINT_COUNTS_PER_BLOCKTYPE(ctypes.Structure):
    _fields_ = [("numCandsPerBlk16x16", u32, 4), ("numCandsPerBlk16x8", u32, 4), ("numCandsPerBlk8x16", u32, 4),
                ("numCandsPerBlk8x8", u32, 4), ("numCandsPerSb", u32, 8), ("reserved", u32, 8),
                ("reserved1", u32 * 3)]


class NV_ENC_INITIALIZE_PARAMS(ctypes.Structure):
    _fields_ = [
        ("version", u32), ("encodeGUID", GUID), ("presetGUID", GUID), ("encodeWidth", u32), ("encodeHeight", u32),
        ("darWidth", u32), ("darHeight", u32), ("frameRateNum", u32), ("frameRateDen", u32),
        ("enableEncodeAsync", u32), ("enablePTD", u32),
        ("reportSliceOffsets", u32, 1), ("enableSubFrameWrite", u32, 1), ("enableExternalMEHints", u32, 1),
        ("enableMEOnlyMode", u32, 1), ("enableWeightedPrediction", u32, 1), ("splitEncodeMode", u32, 4),
        ("enableOutputInVidmem", u32, 1), ("enableReconFrameOutput", u32, 1), ("enableOutputStats", u32, 1),
        ("enableUniDirectionalB", u32, 1), ("reservedBitFields", u32, 19),
        ("privDataSize", u32), ("reserved", u32), ("privData", ptr), ("encodeConfig", ctypes.POINTER(NV_ENC_CONFIG)),
        ("maxEncodeWidth", u32), ("maxEncodeHeight", u32),
        ("maxMEHintCountsPerBlock", NVENC_EXTERNAL_ME_HINT_COUNTS_PER_BLOCKTYPE * 2), ("tuningInfo", u32),
        ("bufferFormat", u32), ("numStateBuffers", u32), ("outputStatsLevel", u32), ("reserved1", u32 * 284),
        ("reserved2", ptr * 64),
    ]


class NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS(ctypes.Structure):
    _fields_ = [("version", u32), ("deviceType", u32), ("device", ptr), ("reserved", ptr), ("apiVersion", u32),
                ("reserved1", u32 * 253), ("reserved2", ptr * 64)]


FUNCTIONS = (
    "nvEncOpenEncodeSession", "nvEncGetEncodeGUIDCount", "nvEncGetEncodeProfileGUIDCount",
    "nvEncGetEncodeProfileGUIDs", "nvEncGetEncodeGUIDs", "nvEncGetInputFormatCount", "nvEncGetInputFormats",
    "nvEncGetEncodeCaps", "nvEncGetEncodePresetCount", "nvEncGetEncodePresetGUIDs", "nvEncGetEncodePresetConfig",
    "nvEncInitializeEncoder", "nvEncCreateInputBuffer", "nvEncDestroyInputBuffer", "nvEncCreateBitstreamBuffer",
    "nvEncDestroyBitstreamBuffer", "nvEncEncodePicture", "nvEncLockBitstream", "nvEncUnlockBitstream",
    "nvEncLockInputBuffer", "nvEncUnlockInputBuffer", "nvEncGetEncodeStats", "nvEncGetSequenceParams",
    "nvEncRegisterAsyncEvent", "nvEncUnregisterAsyncEvent", "nvEncMapInputResource", "nvEncUnmapInputResource",
    "nvEncDestroyEncoder", "nvEncInvalidateRefFrames", "nvEncOpenEncodeSessionEx", "nvEncRegisterResource",
    "nvEncUnregisterResource", "nvEncReconfigureEncoder", "reserved1", "nvEncCreateMVBuffer",
    "nvEncDestroyMVBuffer", "nvEncRunMotionEstimationOnly", "nvEncGetLastErrorString", "nvEncSetIOCudaStreams",
    "nvEncGetEncodePresetConfigEx", "nvEncGetSequenceParamEx", "nvEncRestoreEncoderState", "nvEncLookaheadPicture",
)


class NV_ENCODE_API_FUNCTION_LIST(ctypes.Structure):
    _fields_ = [("version", u32), ("reserved", u32), *((name, ptr) for name in FUNCTIONS), ("reserved2", ptr * 275)]


class NV_ENC_CREATE_INPUT_BUFFER(ctypes.Structure):
    _fields_ = [("version", u32), ("width", u32), ("height", u32), ("memoryHeap", u32), ("bufferFmt", u32),
                ("reserved", u32), ("inputBuffer", ptr), ("pSysMemBuffer", ptr), ("reserved1", u32 * 58),
                ("reserved2", ptr * 63)]


class NV_ENC_CREATE_BITSTREAM_BUFFER(ctypes.Structure):
    _fields_ = [("version", u32), ("size", u32), ("memoryHeap", u32), ("reserved", u32), ("bitstreamBuffer", ptr),
                ("bitstreamBufferPtr", ptr), ("reserved1", u32 * 58), ("reserved2", ptr * 64)]


class NV_ENC_LOCK_INPUT_BUFFER(ctypes.Structure):
    _fields_ = [("version", u32), ("doNotWait", u32, 1), ("reservedBitFields", u32, 31), ("inputBuffer", ptr),
                ("bufferDataPtr", ptr), ("pitch", u32), ("reserved1", u32 * 251), ("reserved2", ptr * 64)]


class NV_ENC_LOCK_BITSTREAM(ctypes.Structure):
    _fields_ = [
        ("version", u32), ("doNotWait", u32, 1), ("ltrFrame", u32, 1), ("getRCStats", u32, 1),
        ("reservedBitFields", u32, 29), ("outputBitstream", ptr), ("sliceOffsets", ptr), ("frameIdx", u32),
        ("hwEncodeStatus", u32), ("numSlices", u32), ("bitstreamSizeInBytes", u32), ("outputTimeStamp", u64),
        ("outputDuration", u64), ("bitstreamBufferPtr", ptr), ("pictureType", u32), ("pictureStruct", u32),
        ("frameAvgQP", u32), ("frameSatd", u32), ("ltrFrameIdx", u32), ("ltrFrameBitmap", u32), ("temporalId", u32),
        ("intraMBCount", u32), ("interMBCount", u32), ("averageMVX", i32), ("averageMVY", i32),
        ("alphaLayerSizeInBytes", u32), ("outputStatsPtrSize", u32), ("reserved", u32), ("outputStatsPtr", ptr),
        ("frameIdxDisplay", u32), ("reserved1", u32 * 219), ("reserved2", ptr * 63), ("reservedInternal", u32 * 8),
    ]


class NV_ENC_CODEC_PIC_PARAMS(ctypes.Union):
    """Opaque: left zero (no per-picture codec options; 1544 bytes in SDK 13.0)."""

    _fields_ = [("bytes", u8 * 1544), ("_align", u64)]


class NV_ENC_PIC_PARAMS(ctypes.Structure):
    _fields_ = [
        ("version", u32), ("inputWidth", u32), ("inputHeight", u32), ("inputPitch", u32), ("encodePicFlags", u32),
        ("frameIdx", u32), ("inputTimeStamp", u64), ("inputDuration", u64), ("inputBuffer", ptr),
        ("outputBitstream", ptr), ("completionEvent", ptr), ("bufferFmt", u32), ("pictureStruct", u32),
        ("pictureType", u32), ("codecPicParams", NV_ENC_CODEC_PIC_PARAMS),
        ("meHintCountsPerBlock", NVENC_EXTERNAL_ME_HINT_COUNTS_PER_BLOCKTYPE * 2), ("meExternalHints", ptr),
        ("reserved2", u32 * 7), ("reserved5", ptr * 2), ("qpDeltaMap", ctypes.POINTER(i8)), ("qpDeltaMapSize", u32),
        ("reservedBitFields", u32), ("meHintRefPicDist", u16 * 2), ("reserved4", u32), ("alphaBuffer", ptr),
        ("meExternalSbHints", ptr), ("meSbHintsCount", u32), ("stateBufferIdx", u32), ("outputReconBuffer", ptr),
        ("reserved3", u32 * 284), ("reserved6", ptr * 57),
    ]


STRUCTS = (GUID, NV_ENC_QP, NV_ENC_RC_PARAMS, NV_ENC_CODEC_CONFIG, NV_ENC_CONFIG, NV_ENC_PRESET_CONFIG,
           NVENC_EXTERNAL_ME_HINT_COUNTS_PER_BLOCKTYPE, NV_ENC_INITIALIZE_PARAMS, NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS,
           NV_ENCODE_API_FUNCTION_LIST, NV_ENC_CREATE_INPUT_BUFFER, NV_ENC_CREATE_BITSTREAM_BUFFER,
           NV_ENC_LOCK_INPUT_BUFFER, NV_ENC_LOCK_BITSTREAM, NV_ENC_CODEC_PIC_PARAMS, NV_ENC_PIC_PARAMS)

# Function prototypes (NVENCSTATUS is an int enum; NVENCAPI is the default calling convention on Linux).
_status = ctypes.c_int
PROTOTYPES = {
    "nvEncOpenEncodeSessionEx": (ctypes.POINTER(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS), ctypes.POINTER(ptr)),
    "nvEncGetEncodePresetConfigEx": (ptr, GUID, GUID, u32, ctypes.POINTER(NV_ENC_PRESET_CONFIG)),
    "nvEncInitializeEncoder": (ptr, ctypes.POINTER(NV_ENC_INITIALIZE_PARAMS)),
    "nvEncCreateInputBuffer": (ptr, ctypes.POINTER(NV_ENC_CREATE_INPUT_BUFFER)),
    "nvEncDestroyInputBuffer": (ptr, ptr),
    "nvEncCreateBitstreamBuffer": (ptr, ctypes.POINTER(NV_ENC_CREATE_BITSTREAM_BUFFER)),
    "nvEncDestroyBitstreamBuffer": (ptr, ptr),
    "nvEncEncodePicture": (ptr, ctypes.POINTER(NV_ENC_PIC_PARAMS)),
    "nvEncLockBitstream": (ptr, ctypes.POINTER(NV_ENC_LOCK_BITSTREAM)),
    "nvEncUnlockBitstream": (ptr, ptr),
    "nvEncLockInputBuffer": (ptr, ctypes.POINTER(NV_ENC_LOCK_INPUT_BUFFER)),
    "nvEncUnlockInputBuffer": (ptr, ptr),
    "nvEncDestroyEncoder": (ptr,),
}


# --- the delta-QP map --------------------------------------------------------------------------------------
def block_size(codec: str, ctb_size: int = 32) -> int:
    if codec == "h264":
        return 16
    if codec == "hevc":
        if ctb_size not in (16, 32, 64):
            raise PreanalysisError(f"HEVC CTB size {ctb_size} is not one NVENC uses: give 16, 32 or 64")
        return ctb_size
    raise PreanalysisError(f"unknown NVENC codec {codec!r}: use h264 or hevc")


def qp_delta_map(qp: QpMap, codec: str, width: int, height: int, ctb_size: int = 32) -> np.ndarray:
    """The qpDeltaMap bytes of one picture: int8 per macroblock (H.264) or CTB (HEVC), raster order, +-51.

    The map must describe a width x height frame; HEVC takes the rounded mean of the 16x16 offsets a CTB covers.
    """
    if (qp.width, qp.height) != (width, height):
        raise PreanalysisError(f"QP map is for {qp.width}x{qp.height} but NVENC encodes {width}x{height}: "
                               "make the maps from this video")
    block = block_size(codec, ctb_size)
    offsets = qp.aggregate(block).offsets
    if offsets.shape != grid_shape(width, height, block):
        raise PreanalysisError(f"QP map grid {offsets.shape} does not fit {width}x{height} in {block}px blocks")
    return np.ascontiguousarray(np.clip(offsets, -QP_RANGE, QP_RANGE), dtype=np.int8).ravel()


# --- libraries and refusals --------------------------------------------------------------------------------
NO_NVENC = "use --encoder x264 or x265, or run on a machine with an NVENC-capable NVIDIA GPU"


def _load(name: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(name)
    except OSError:
        raise PreanalysisError(f"NVENC is not available: {name} was not found (no NVIDIA driver here): {NO_NVENC}") from None


def _check_cuda(cuda: ctypes.CDLL, call: str, result: int) -> None:
    if result != 0:
        raise PreanalysisError(f"NVENC is not available: CUDA {call} failed with error {result}: {NO_NVENC}")


class _Api:
    """The loaded driver libraries, one CUDA context on `device`, and the NVENC function table."""

    def __init__(self, device: int):
        self.cuda = _load("libcuda.so.1")
        self.lib = _load("libnvidia-encode.so.1")
        _check_cuda(self.cuda, "cuInit", self.cuda.cuInit(0))
        count = ctypes.c_int(0)
        _check_cuda(self.cuda, "cuDeviceGetCount", self.cuda.cuDeviceGetCount(ctypes.byref(count)))
        if not 0 <= device < count.value:
            raise PreanalysisError(f"NVENC is not available: CUDA device {device} does not exist "
                                   f"({count.value} device(s)): {NO_NVENC}")
        dev = ctypes.c_int(0)
        _check_cuda(self.cuda, "cuDeviceGet", self.cuda.cuDeviceGet(ctypes.byref(dev), device))
        name = ctypes.create_string_buffer(256)
        self.cuda.cuDeviceGetName(name, 256, dev)
        self.device_name = name.value.decode(errors="replace")
        supported = ctypes.c_uint32(0)
        self._ok(self.lib.NvEncodeAPIGetMaxSupportedVersion(ctypes.byref(supported)), "NvEncodeAPIGetMaxSupportedVersion")
        have = (supported.value >> 4, supported.value & 0xF)
        if have < (NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION):
            raise PreanalysisError(f"the NVIDIA driver supports NVENC API {have[0]}.{have[1]} but this adapter needs "
                                   f"{NVENCAPI_MAJOR_VERSION}.{NVENCAPI_MINOR_VERSION}: update the driver (570 or newer)")
        self.functions = NV_ENCODE_API_FUNCTION_LIST(version=NV_ENCODE_API_FUNCTION_LIST_VER)
        self._ok(self.lib.NvEncodeAPICreateInstance(ctypes.byref(self.functions)), "NvEncodeAPICreateInstance")
        self.context = ptr()
        _check_cuda(self.cuda, "cuCtxCreate", self.cuda.cuCtxCreate_v2(ctypes.byref(self.context), 0, dev))

    def call(self, name: str, *args) -> int:
        address = getattr(self.functions, name)
        if not address:
            raise PreanalysisError(f"the NVIDIA driver's NVENC table has no {name}: update the driver")
        return ctypes.CFUNCTYPE(_status, *PROTOTYPES[name])(address)(*args)

    def _ok(self, status: int, what: str) -> None:
        if status != NV_ENC_SUCCESS:
            raise PreanalysisError(f"NVENC {what} failed with status {status}: {NO_NVENC}")

    def close(self) -> None:
        if self.context:
            self.cuda.cuCtxDestroy_v2(self.context)
            self.context = ptr()


@dataclass(frozen=True)
class SessionConfig:
    """What one NVENC session is opened with (built by the adapter from EncodeSettings)."""

    codec: str = "h264"  # h264 | hevc
    bitrate_kbps: float | None = None  # VBR at this average; else constant quality `cq`
    cq: int = 23  # VBR target quality (0..51) when no bitrate is given
    preset: str = "p4"  # p1 (fastest) .. p7 (best)
    ctb_size: int = 32  # HEVC map granularity (the encoder's CTB size)
    device: int = 0

    def __post_init__(self):
        block_size(self.codec, self.ctb_size)
        if self.preset not in PRESET_GUIDS:
            raise PreanalysisError(f"unknown NVENC preset {self.preset!r}: use one of {', '.join(PRESET_GUIDS)}")
        if self.bitrate_kbps is not None and not 1 <= self.bitrate_kbps <= 800_000:
            raise PreanalysisError(f"bitrate {self.bitrate_kbps:g} kbps is out of range: give 1..800000 kbps")
        if not 0 <= self.cq <= 51:
            raise PreanalysisError(f"cq {self.cq} is out of range: give 0..51")


def _align(value: int, to: int) -> int:
    return -(-value // to) * to


class NvencEncoder:
    """One synchronous NVENC session: `encode(frame, qp)` returns the picture's Annex-B bytes."""

    def __init__(self, width: int, height: int, rate: Fraction, settings: SessionConfig):
        self.width, self.height, self.settings = width, height, settings
        self.api = _Api(settings.device)
        self.encoder = ptr()
        params = NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS(version=NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER,
                                                      deviceType=NV_ENC_DEVICE_TYPE_CUDA, device=self.api.context,
                                                      apiVersion=NVENCAPI_VERSION)
        status = self.api.call("nvEncOpenEncodeSessionEx", ctypes.byref(params), ctypes.byref(self.encoder))
        if status != NV_ENC_SUCCESS:
            self.api.close()
            why = {NV_ENC_ERR_NO_ENCODE_DEVICE: "has no NVENC engine", NV_ENC_ERR_UNSUPPORTED_DEVICE: "has no NVENC engine",
                   NV_ENC_ERR_INVALID_VERSION: "rejects NVENC API 13.0 (driver too old)"}.get(status, f"refused a session (status {status})")
            raise PreanalysisError(f"GPU {self.api.device_name!r} {why} (data-centre GPUs such as H100/H200 have none): {NO_NVENC}")
        try:
            self._initialise(rate)
        except BaseException:
            self.close()
            raise

    def _initialise(self, rate: Fraction) -> None:
        s = self.settings
        codec, preset = CODEC_GUIDS[s.codec], PRESET_GUIDS[s.preset]
        self.preset_config = NV_ENC_PRESET_CONFIG(version=NV_ENC_PRESET_CONFIG_VER)
        self.preset_config.presetCfg.version = NV_ENC_CONFIG_VER
        self._ok(self.api.call("nvEncGetEncodePresetConfigEx", self.encoder, codec, preset,
                               NV_ENC_TUNING_INFO_HIGH_QUALITY, ctypes.byref(self.preset_config)), "preset query")
        config = self.preset_config.presetCfg
        config.version = NV_ENC_CONFIG_VER
        config.frameIntervalP = 1  # no B-frames: each picture's bitstream is ready when EncodePicture returns
        rc = config.rcParams
        rc.version = NV_ENC_RC_PARAMS_VER
        rc.rateControlMode = NV_ENC_PARAMS_RC_VBR
        if s.bitrate_kbps is not None:
            rc.averageBitRate = int(s.bitrate_kbps * 1000)
            rc.maxBitRate = int(s.bitrate_kbps * 1500)
        else:
            rc.averageBitRate, rc.maxBitRate, rc.targetQuality = 0, 0, s.cq
        rc.qpMapMode = NV_ENC_QP_MAP_DELTA
        self.config = config
        init = NV_ENC_INITIALIZE_PARAMS(
            version=NV_ENC_INITIALIZE_PARAMS_VER, encodeGUID=codec, presetGUID=preset, encodeWidth=self.width,
            encodeHeight=self.height, darWidth=self.width, darHeight=self.height, frameRateNum=rate.numerator,
            frameRateDen=rate.denominator, enableEncodeAsync=0, enablePTD=1, maxEncodeWidth=self.width,
            maxEncodeHeight=self.height, tuningInfo=NV_ENC_TUNING_INFO_HIGH_QUALITY,
        )
        init.encodeConfig = ctypes.pointer(self.config)
        self._ok(self.api.call("nvEncInitializeEncoder", self.encoder, ctypes.byref(init)), "initialise")
        # Input surfaces as FFmpeg allocates them: 32-aligned, NV12 in cached system memory.
        self.surface = (_align(self.width, 32), _align(self.height, 32))
        create = NV_ENC_CREATE_INPUT_BUFFER(version=NV_ENC_CREATE_INPUT_BUFFER_VER, width=self.surface[0],
                                            height=self.surface[1], memoryHeap=NV_ENC_MEMORY_HEAP_SYSMEM_CACHED,
                                            bufferFmt=NV_ENC_BUFFER_FORMAT_NV12)
        self._ok(self.api.call("nvEncCreateInputBuffer", self.encoder, ctypes.byref(create)), "input buffer")
        self.input = create.inputBuffer
        out = NV_ENC_CREATE_BITSTREAM_BUFFER(version=NV_ENC_CREATE_BITSTREAM_BUFFER_VER)
        self._ok(self.api.call("nvEncCreateBitstreamBuffer", self.encoder, ctypes.byref(out)), "bitstream buffer")
        self.output = out.bitstreamBuffer
        self.frames = 0

    def _ok(self, status: int, what: str) -> None:
        if status != NV_ENC_SUCCESS:
            raise PreanalysisError(f"NVENC {what} failed with status {status} on {self.api.device_name!r}: "
                                   "check the settings (preset, bitrate, size) or use x264/x265")

    def _fill(self, nv12_y: np.ndarray, nv12_uv: np.ndarray) -> int:
        lock = NV_ENC_LOCK_INPUT_BUFFER(version=NV_ENC_LOCK_INPUT_BUFFER_VER, inputBuffer=self.input)
        self._ok(self.api.call("nvEncLockInputBuffer", self.encoder, ctypes.byref(lock)), "lock input")
        try:
            pitch, rows = lock.pitch, self.surface[1]
            buf = (ctypes.c_uint8 * (pitch * rows * 3 // 2)).from_address(lock.bufferDataPtr)
            dst = np.frombuffer(buf, np.uint8)
            dst[: pitch * rows].reshape(rows, pitch)[: self.height, : self.width] = nv12_y
            dst[pitch * rows:].reshape(rows // 2, pitch)[: self.height // 2, : self.width] = nv12_uv
        finally:
            self.api.call("nvEncUnlockInputBuffer", self.encoder, self.input)
        return pitch

    def encode(self, nv12_y: np.ndarray, nv12_uv: np.ndarray, qp: QpMap | None) -> bytes:
        pitch = self._fill(nv12_y, nv12_uv)
        pic = NV_ENC_PIC_PARAMS(version=NV_ENC_PIC_PARAMS_VER, inputWidth=self.surface[0], inputHeight=self.surface[1],
                                inputPitch=pitch, frameIdx=self.frames, inputTimeStamp=self.frames,
                                inputBuffer=self.input, outputBitstream=self.output,
                                bufferFmt=NV_ENC_BUFFER_FORMAT_NV12, pictureStruct=NV_ENC_PIC_STRUCT_FRAME,
                                pictureType=NV_ENC_PIC_TYPE_UNKNOWN)
        delta = None
        if qp is not None:
            delta = qp_delta_map(qp, self.settings.codec, self.width, self.height, self.settings.ctb_size)
            pic.qpDeltaMap = delta.ctypes.data_as(ctypes.POINTER(i8))
            pic.qpDeltaMapSize = delta.size
        status = self.api.call("nvEncEncodePicture", self.encoder, ctypes.byref(pic))
        del delta  # the driver copies the map during the (synchronous) call
        self.frames += 1
        if status == NV_ENC_ERR_NEED_MORE_INPUT:
            raise PreanalysisError("NVENC held a picture back although B-frames are off: this driver/preset "
                                   "reorders; report it (the adapter has not run on NVENC hardware)")
        self._ok(status, "encode picture")
        return self._read()

    def _read(self) -> bytes:
        lock = NV_ENC_LOCK_BITSTREAM(version=NV_ENC_LOCK_BITSTREAM_VER, outputBitstream=self.output)
        self._ok(self.api.call("nvEncLockBitstream", self.encoder, ctypes.byref(lock)), "lock bitstream")
        try:
            return ctypes.string_at(lock.bitstreamBufferPtr, lock.bitstreamSizeInBytes)
        finally:
            self.api.call("nvEncUnlockBitstream", self.encoder, self.output)

    def flush(self) -> None:
        pic = NV_ENC_PIC_PARAMS(version=NV_ENC_PIC_PARAMS_VER, encodePicFlags=NV_ENC_PIC_FLAG_EOS)
        self._ok(self.api.call("nvEncEncodePicture", self.encoder, ctypes.byref(pic)), "flush")

    def close(self) -> None:
        if self.encoder:
            for name, handle in (("nvEncDestroyInputBuffer", getattr(self, "input", None)),
                                 ("nvEncDestroyBitstreamBuffer", getattr(self, "output", None))):
                if handle:
                    self.api.call(name, self.encoder, handle)
            self.api.call("nvEncDestroyEncoder", self.encoder)
            self.encoder = ptr()
        self.api.close()

    def __enter__(self) -> NvencEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

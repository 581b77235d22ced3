/* Prints the NVENC struct layout facts that encoder_adapters/nvenc.py relies on, as JSON.
 * Build against the Video Codec SDK header (not shipped here), e.g. FFmpeg/nv-codec-headers:
 *   gcc -Wno-overflow -DSOURCE='"<commit>"' -I nv-codec-headers/include/ffnvcodec tests/data/nvenc_layout.c -o /tmp/nvenc_layout
 *   /tmp/nvenc_layout > tests/data/nvenc_layout.json
 * (gcc -Wno-overflow: assigning ~0u to a narrow bitfield is the point.)
 * Bitfields have no offsetof: set the field to all ones in a zeroed struct and report (byte, shift, width).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include "nvEncodeAPI.h"
#ifndef SOURCE
#define SOURCE "unknown"
#endif

static int first;
#define BEGIN(T) printf("%s\n  \"" #T "\": {\"size\": %zu, \"align\": %zu, \"fields\": {", first ? "" : ",", sizeof(T), _Alignof(T)); first = 0; { int f = 1; (void)f;
#define F(T, m) printf("%s\"" #m "\": %zu", f ? "" : ", ", offsetof(T, m)); f = 0;
#define BITS(T, m) { T s; memset(&s, 0, sizeof s); s.m = ~0u; unsigned char *p = (unsigned char *)&s; \
    size_t i = 0; while (!p[i]) i++; uint32_t w; size_t word = i & ~(size_t)3; memcpy(&w, p + word, 4); \
    int shift = __builtin_ctz(w), width = __builtin_popcount(w); \
    printf("%s\"" #m "\": [%zu, %d, %d]", f ? "" : ", ", word, shift, width); f = 0; }
#define END printf("}}"); }
#define C(name) printf(",\n  \"" #name "\": %lld", (long long)(name));

int main(void) {
    first = 1;
    printf("{\n  \"_source\": \"nvEncodeAPI.h from FFmpeg/nv-codec-headers commit %s (Video Codec SDK %d.%d), gcc x86-64\"", SOURCE, NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION); first = 0;
    BEGIN(GUID) END
    BEGIN(NV_ENC_QP) F(NV_ENC_QP, qpInterP) F(NV_ENC_QP, qpInterB) F(NV_ENC_QP, qpIntra) END
    BEGIN(NV_ENC_RC_PARAMS) F(NV_ENC_RC_PARAMS, version) F(NV_ENC_RC_PARAMS, rateControlMode)
        F(NV_ENC_RC_PARAMS, constQP) F(NV_ENC_RC_PARAMS, averageBitRate) F(NV_ENC_RC_PARAMS, maxBitRate)
        F(NV_ENC_RC_PARAMS, vbvBufferSize) F(NV_ENC_RC_PARAMS, vbvInitialDelay) F(NV_ENC_RC_PARAMS, minQP)
        F(NV_ENC_RC_PARAMS, maxQP) F(NV_ENC_RC_PARAMS, initialRCQP) F(NV_ENC_RC_PARAMS, temporallayerIdxMask)
        F(NV_ENC_RC_PARAMS, targetQuality) F(NV_ENC_RC_PARAMS, targetQualityLSB) F(NV_ENC_RC_PARAMS, lookaheadDepth)
        F(NV_ENC_RC_PARAMS, qpMapMode) F(NV_ENC_RC_PARAMS, multiPass) F(NV_ENC_RC_PARAMS, lookaheadLevel)
        BITS(NV_ENC_RC_PARAMS, enableAQ) BITS(NV_ENC_RC_PARAMS, enableTemporalAQ) BITS(NV_ENC_RC_PARAMS, aqStrength)
        BITS(NV_ENC_RC_PARAMS, enableLookahead) BITS(NV_ENC_RC_PARAMS, zeroReorderDelay) END
    BEGIN(NV_ENC_CODEC_CONFIG) END
    BEGIN(NV_ENC_CONFIG) F(NV_ENC_CONFIG, version) F(NV_ENC_CONFIG, profileGUID) F(NV_ENC_CONFIG, gopLength)
        F(NV_ENC_CONFIG, frameIntervalP) F(NV_ENC_CONFIG, monoChromeEncoding) F(NV_ENC_CONFIG, frameFieldMode)
        F(NV_ENC_CONFIG, mvPrecision) F(NV_ENC_CONFIG, rcParams) F(NV_ENC_CONFIG, encodeCodecConfig) END
    BEGIN(NV_ENC_PRESET_CONFIG) F(NV_ENC_PRESET_CONFIG, version) F(NV_ENC_PRESET_CONFIG, presetCfg) END
    BEGIN(NVENC_EXTERNAL_ME_HINT_COUNTS_PER_BLOCKTYPE) END
    BEGIN(NV_ENC_INITIALIZE_PARAMS) F(NV_ENC_INITIALIZE_PARAMS, version) F(NV_ENC_INITIALIZE_PARAMS, encodeGUID)
        F(NV_ENC_INITIALIZE_PARAMS, presetGUID) F(NV_ENC_INITIALIZE_PARAMS, encodeWidth)
        F(NV_ENC_INITIALIZE_PARAMS, encodeHeight) F(NV_ENC_INITIALIZE_PARAMS, darWidth)
        F(NV_ENC_INITIALIZE_PARAMS, darHeight) F(NV_ENC_INITIALIZE_PARAMS, frameRateNum)
        F(NV_ENC_INITIALIZE_PARAMS, frameRateDen) F(NV_ENC_INITIALIZE_PARAMS, enableEncodeAsync)
        F(NV_ENC_INITIALIZE_PARAMS, enablePTD) F(NV_ENC_INITIALIZE_PARAMS, privDataSize)
        F(NV_ENC_INITIALIZE_PARAMS, privData) F(NV_ENC_INITIALIZE_PARAMS, encodeConfig)
        F(NV_ENC_INITIALIZE_PARAMS, maxEncodeWidth) F(NV_ENC_INITIALIZE_PARAMS, maxEncodeHeight)
        F(NV_ENC_INITIALIZE_PARAMS, maxMEHintCountsPerBlock) F(NV_ENC_INITIALIZE_PARAMS, tuningInfo)
        F(NV_ENC_INITIALIZE_PARAMS, bufferFormat) F(NV_ENC_INITIALIZE_PARAMS, numStateBuffers)
        F(NV_ENC_INITIALIZE_PARAMS, outputStatsLevel) BITS(NV_ENC_INITIALIZE_PARAMS, splitEncodeMode) END
    BEGIN(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS) F(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, deviceType)
        F(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, device) F(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, apiVersion) END
    BEGIN(NV_ENCODE_API_FUNCTION_LIST) F(NV_ENCODE_API_FUNCTION_LIST, nvEncOpenEncodeSession)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncInitializeEncoder) F(NV_ENCODE_API_FUNCTION_LIST, nvEncCreateInputBuffer)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncDestroyInputBuffer) F(NV_ENCODE_API_FUNCTION_LIST, nvEncCreateBitstreamBuffer)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncDestroyBitstreamBuffer) F(NV_ENCODE_API_FUNCTION_LIST, nvEncEncodePicture)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncLockBitstream) F(NV_ENCODE_API_FUNCTION_LIST, nvEncUnlockBitstream)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncLockInputBuffer) F(NV_ENCODE_API_FUNCTION_LIST, nvEncUnlockInputBuffer)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncDestroyEncoder) F(NV_ENCODE_API_FUNCTION_LIST, nvEncOpenEncodeSessionEx)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncGetLastErrorString)
        F(NV_ENCODE_API_FUNCTION_LIST, nvEncGetEncodePresetConfigEx) F(NV_ENCODE_API_FUNCTION_LIST, nvEncLookaheadPicture) END
    BEGIN(NV_ENC_CREATE_INPUT_BUFFER) F(NV_ENC_CREATE_INPUT_BUFFER, width) F(NV_ENC_CREATE_INPUT_BUFFER, height)
        F(NV_ENC_CREATE_INPUT_BUFFER, memoryHeap) F(NV_ENC_CREATE_INPUT_BUFFER, bufferFmt)
        F(NV_ENC_CREATE_INPUT_BUFFER, inputBuffer) F(NV_ENC_CREATE_INPUT_BUFFER, pSysMemBuffer) END
    BEGIN(NV_ENC_CREATE_BITSTREAM_BUFFER) F(NV_ENC_CREATE_BITSTREAM_BUFFER, bitstreamBuffer)
        F(NV_ENC_CREATE_BITSTREAM_BUFFER, bitstreamBufferPtr) END
    BEGIN(NV_ENC_LOCK_INPUT_BUFFER) F(NV_ENC_LOCK_INPUT_BUFFER, inputBuffer) F(NV_ENC_LOCK_INPUT_BUFFER, bufferDataPtr)
        F(NV_ENC_LOCK_INPUT_BUFFER, pitch) BITS(NV_ENC_LOCK_INPUT_BUFFER, doNotWait) END
    BEGIN(NV_ENC_LOCK_BITSTREAM) F(NV_ENC_LOCK_BITSTREAM, outputBitstream) F(NV_ENC_LOCK_BITSTREAM, sliceOffsets)
        F(NV_ENC_LOCK_BITSTREAM, frameIdx) F(NV_ENC_LOCK_BITSTREAM, bitstreamSizeInBytes)
        F(NV_ENC_LOCK_BITSTREAM, outputTimeStamp) F(NV_ENC_LOCK_BITSTREAM, bitstreamBufferPtr)
        F(NV_ENC_LOCK_BITSTREAM, pictureType) F(NV_ENC_LOCK_BITSTREAM, frameAvgQP)
        F(NV_ENC_LOCK_BITSTREAM, outputStatsPtr) F(NV_ENC_LOCK_BITSTREAM, frameIdxDisplay)
        BITS(NV_ENC_LOCK_BITSTREAM, doNotWait) END
    BEGIN(NV_ENC_CODEC_PIC_PARAMS) END
    BEGIN(NV_ENC_PIC_PARAMS) F(NV_ENC_PIC_PARAMS, inputWidth) F(NV_ENC_PIC_PARAMS, inputHeight)
        F(NV_ENC_PIC_PARAMS, inputPitch) F(NV_ENC_PIC_PARAMS, encodePicFlags) F(NV_ENC_PIC_PARAMS, frameIdx)
        F(NV_ENC_PIC_PARAMS, inputTimeStamp) F(NV_ENC_PIC_PARAMS, inputDuration) F(NV_ENC_PIC_PARAMS, inputBuffer)
        F(NV_ENC_PIC_PARAMS, outputBitstream) F(NV_ENC_PIC_PARAMS, completionEvent) F(NV_ENC_PIC_PARAMS, bufferFmt)
        F(NV_ENC_PIC_PARAMS, pictureStruct) F(NV_ENC_PIC_PARAMS, pictureType) F(NV_ENC_PIC_PARAMS, codecPicParams)
        F(NV_ENC_PIC_PARAMS, meHintCountsPerBlock) F(NV_ENC_PIC_PARAMS, meExternalHints)
        F(NV_ENC_PIC_PARAMS, qpDeltaMap) F(NV_ENC_PIC_PARAMS, qpDeltaMapSize) F(NV_ENC_PIC_PARAMS, meHintRefPicDist)
        F(NV_ENC_PIC_PARAMS, alphaBuffer) F(NV_ENC_PIC_PARAMS, stateBufferIdx) F(NV_ENC_PIC_PARAMS, outputReconBuffer) END
    C(NVENCAPI_MAJOR_VERSION) C(NVENCAPI_MINOR_VERSION) C(NVENCAPI_VERSION)
    C(NV_ENC_CONFIG_VER) C(NV_ENC_RC_PARAMS_VER) C(NV_ENC_PRESET_CONFIG_VER) C(NV_ENC_INITIALIZE_PARAMS_VER)
    C(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER) C(NV_ENCODE_API_FUNCTION_LIST_VER) C(NV_ENC_CREATE_INPUT_BUFFER_VER)
    C(NV_ENC_CREATE_BITSTREAM_BUFFER_VER) C(NV_ENC_LOCK_INPUT_BUFFER_VER) C(NV_ENC_LOCK_BITSTREAM_VER)
    C(NV_ENC_PIC_PARAMS_VER)
    C(NV_ENC_QP_MAP_DELTA) C(NV_ENC_PARAMS_RC_CONSTQP) C(NV_ENC_PARAMS_RC_VBR) C(NV_ENC_PARAMS_RC_CBR)
    C(NV_ENC_BUFFER_FORMAT_NV12) C(NV_ENC_DEVICE_TYPE_CUDA) C(NV_ENC_PIC_STRUCT_FRAME) C(NV_ENC_PIC_FLAG_EOS)
    C(NV_ENC_PIC_TYPE_UNKNOWN) C(NV_ENC_MEMORY_HEAP_SYSMEM_CACHED) C(NV_ENC_TUNING_INFO_HIGH_QUALITY)
    C(NV_ENC_SUCCESS) C(NV_ENC_ERR_NO_ENCODE_DEVICE) C(NV_ENC_ERR_UNSUPPORTED_DEVICE) C(NV_ENC_ERR_INVALID_VERSION)
    C(NV_ENC_ERR_NEED_MORE_INPUT) C(NV_ENC_ERR_ENCODER_BUSY) C(NV_ENC_ERR_GENERIC)
    printf("\n}\n");
    return 0;
}

/* Prints the SVT-AV1 struct layout facts that encoder_adapters/svtav1/library.py relies on, as JSON.
 * Build against the public headers of SVT-AV1 tag v4.1.0 (Source/API, not shipped here):
 *   gcc -I SVT-AV1/Source/API tests/data/svtav1_layout.c -o /tmp/svtav1_layout
 *   /tmp/svtav1_layout > tests/data/svtav1_layout.json
 * Every struct the adapter declares, every field in header order: size, alignment, offset of each field;
 * then the constants it copies (Python name: value of the header's expression).
 */
#include <stddef.h>
#include <stdio.h>
#include "EbSvtAv1.h"
#include "EbSvtAv1Enc.h"

static int first = 1;
#define S(T, name) printf("%s\n  \"" #name "\": {\"size\": %zu, \"align\": %zu, \"fields\": {", first ? "" : ",", \
    sizeof(T), _Alignof(T)); first = 0; { typedef T Cur; int f = 1;
#define F(T, m) printf("%s\"" #m "\": %zu", f ? "" : ", ", offsetof(Cur, m)); f = 0;
#define END printf("}}"); }
#define C(py, expr) printf(",\n  \"" #py "\": %lld", (long long)(expr));

int main(void) {
    printf("{\n  \"_source\": \"SVT-AV1 %d.%d.%d public headers (Source/API), gcc x86-64\"", SVT_AV1_VERSION_MAJOR,
           SVT_AV1_VERSION_MINOR, SVT_AV1_VERSION_PATCHLEVEL);
    first = 0;
    S(EbBufferHeaderType, EbBufferHeaderType) F(EbBufferHeaderType, size) F(EbBufferHeaderType, p_buffer)
    F(EbBufferHeaderType, n_filled_len) F(EbBufferHeaderType, n_alloc_len) F(EbBufferHeaderType, p_app_private)
    F(EbBufferHeaderType, wrapper_ptr) F(EbBufferHeaderType, n_tick_count) F(EbBufferHeaderType, dts)
    F(EbBufferHeaderType, pts) F(EbBufferHeaderType, temporal_layer_index) F(EbBufferHeaderType, qp)
    F(EbBufferHeaderType, avg_qp) F(EbBufferHeaderType, pic_type) F(EbBufferHeaderType, luma_sse)
    F(EbBufferHeaderType, cr_sse) F(EbBufferHeaderType, cb_sse) F(EbBufferHeaderType, flags)
    F(EbBufferHeaderType, luma_ssim) F(EbBufferHeaderType, cr_ssim) F(EbBufferHeaderType, cb_ssim)
    F(EbBufferHeaderType, metadata) END
    S(EbSvtIOFormat, EbSvtIOFormat) F(EbSvtIOFormat, luma) F(EbSvtIOFormat, cb) F(EbSvtIOFormat, cr)
    F(EbSvtIOFormat, y_stride) F(EbSvtIOFormat, cr_stride) F(EbSvtIOFormat, cb_stride) END
    S(EbPrivDataNode, EbPrivDataNode) F(EbPrivDataNode, node_type) F(EbPrivDataNode, data) F(EbPrivDataNode, size)
    F(EbPrivDataNode, next) END
    S(SvtAv1RoiMapEvt, SvtAv1RoiMapEvt) F(SvtAv1RoiMapEvt, start_picture_number) F(SvtAv1RoiMapEvt, b64_seg_map)
    F(SvtAv1RoiMapEvt, seg_qp) F(SvtAv1RoiMapEvt, max_seg_id) F(SvtAv1RoiMapEvt, next) END
    S(SvtAv1FixedBuf, SvtAv1FixedBuf) F(SvtAv1FixedBuf, buf) F(SvtAv1FixedBuf, sz) END
    S(struct EbSvtAv1ChromaPoints, ChromaPoints) F(struct EbSvtAv1ChromaPoints, x)
    F(struct EbSvtAv1ChromaPoints, y) END
    S(struct EbSvtAv1MasteringDisplayInfo, MasteringDisplayInfo) F(struct EbSvtAv1MasteringDisplayInfo, r)
    F(struct EbSvtAv1MasteringDisplayInfo, g) F(struct EbSvtAv1MasteringDisplayInfo, b)
    F(struct EbSvtAv1MasteringDisplayInfo, white_point) F(struct EbSvtAv1MasteringDisplayInfo, max_luma)
    F(struct EbSvtAv1MasteringDisplayInfo, min_luma) END
    S(struct EbContentLightLevel, ContentLightLevel) F(struct EbContentLightLevel, max_cll)
    F(struct EbContentLightLevel, max_fall) END
    S(SvtAv1FrameScaleEvts, SvtAv1FrameScaleEvts) F(SvtAv1FrameScaleEvts, evt_num)
    F(SvtAv1FrameScaleEvts, start_frame_nums) F(SvtAv1FrameScaleEvts, resize_kf_denoms)
    F(SvtAv1FrameScaleEvts, resize_denoms) END
    S(SvtAv1SFramePositions, SvtAv1SFramePositions) F(SvtAv1SFramePositions, sframe_num)
    F(SvtAv1SFramePositions, sframe_posis) F(SvtAv1SFramePositions, sframe_qp_num)
    F(SvtAv1SFramePositions, sframe_qps) F(SvtAv1SFramePositions, sframe_qp_offsets) END
    S(EbSvtAv1EncConfiguration, EbSvtAv1EncConfiguration) F(EbSvtAv1EncConfiguration, enc_mode)
    F(EbSvtAv1EncConfiguration, intra_period_length) F(EbSvtAv1EncConfiguration, intra_refresh_type)
    F(EbSvtAv1EncConfiguration, hierarchical_levels) F(EbSvtAv1EncConfiguration, pred_structure)
    F(EbSvtAv1EncConfiguration, source_width) F(EbSvtAv1EncConfiguration, source_height)
    F(EbSvtAv1EncConfiguration, forced_max_frame_width) F(EbSvtAv1EncConfiguration, forced_max_frame_height)
    F(EbSvtAv1EncConfiguration, frame_rate_numerator) F(EbSvtAv1EncConfiguration, frame_rate_denominator)
    F(EbSvtAv1EncConfiguration, encoder_bit_depth) F(EbSvtAv1EncConfiguration, encoder_color_format)
    F(EbSvtAv1EncConfiguration, profile) F(EbSvtAv1EncConfiguration, tier) F(EbSvtAv1EncConfiguration, level)
    F(EbSvtAv1EncConfiguration, color_primaries) F(EbSvtAv1EncConfiguration, transfer_characteristics)
    F(EbSvtAv1EncConfiguration, matrix_coefficients) F(EbSvtAv1EncConfiguration, color_range)
    F(EbSvtAv1EncConfiguration, mastering_display) F(EbSvtAv1EncConfiguration, content_light_level)
    F(EbSvtAv1EncConfiguration, chroma_sample_position) F(EbSvtAv1EncConfiguration, rate_control_mode)
    F(EbSvtAv1EncConfiguration, qp) F(EbSvtAv1EncConfiguration, use_qp_file)
    F(EbSvtAv1EncConfiguration, target_bit_rate) F(EbSvtAv1EncConfiguration, max_bit_rate)
    F(EbSvtAv1EncConfiguration, max_qp_allowed) F(EbSvtAv1EncConfiguration, min_qp_allowed)
    F(EbSvtAv1EncConfiguration, vbr_min_section_pct) F(EbSvtAv1EncConfiguration, vbr_max_section_pct)
    F(EbSvtAv1EncConfiguration, under_shoot_pct) F(EbSvtAv1EncConfiguration, over_shoot_pct)
    F(EbSvtAv1EncConfiguration, mbr_over_shoot_pct) F(EbSvtAv1EncConfiguration, starting_buffer_level_ms)
    F(EbSvtAv1EncConfiguration, optimal_buffer_level_ms) F(EbSvtAv1EncConfiguration, maximum_buffer_size_ms)
    F(EbSvtAv1EncConfiguration, rc_stats_buffer) F(EbSvtAv1EncConfiguration, pass)
    F(EbSvtAv1EncConfiguration, use_fixed_qindex_offsets) F(EbSvtAv1EncConfiguration, qindex_offsets)
    F(EbSvtAv1EncConfiguration, key_frame_chroma_qindex_offset)
    F(EbSvtAv1EncConfiguration, key_frame_qindex_offset) F(EbSvtAv1EncConfiguration, chroma_qindex_offsets)
    F(EbSvtAv1EncConfiguration, luma_y_dc_qindex_offset) F(EbSvtAv1EncConfiguration, chroma_u_dc_qindex_offset)
    F(EbSvtAv1EncConfiguration, chroma_u_ac_qindex_offset)
    F(EbSvtAv1EncConfiguration, chroma_v_dc_qindex_offset)
    F(EbSvtAv1EncConfiguration, chroma_v_ac_qindex_offset) F(EbSvtAv1EncConfiguration, enable_dlf_flag)
    F(EbSvtAv1EncConfiguration, film_grain_denoise_strength)
    F(EbSvtAv1EncConfiguration, film_grain_denoise_apply) F(EbSvtAv1EncConfiguration, cdef_level)
    F(EbSvtAv1EncConfiguration, enable_restoration_filtering) F(EbSvtAv1EncConfiguration, enable_mfmv)
    F(EbSvtAv1EncConfiguration, scene_change_detection) F(EbSvtAv1EncConfiguration, tile_columns)
    F(EbSvtAv1EncConfiguration, tile_rows) F(EbSvtAv1EncConfiguration, look_ahead_distance)
    F(EbSvtAv1EncConfiguration, recode_loop) F(EbSvtAv1EncConfiguration, screen_content_mode)
    F(EbSvtAv1EncConfiguration, aq_mode) F(EbSvtAv1EncConfiguration, enable_tf)
    F(EbSvtAv1EncConfiguration, enable_overlays) F(EbSvtAv1EncConfiguration, tune)
    F(EbSvtAv1EncConfiguration, superres_mode) F(EbSvtAv1EncConfiguration, superres_denom)
    F(EbSvtAv1EncConfiguration, superres_kf_denom) F(EbSvtAv1EncConfiguration, superres_qthres)
    F(EbSvtAv1EncConfiguration, superres_kf_qthres) F(EbSvtAv1EncConfiguration, superres_auto_search_type)
    F(EbSvtAv1EncConfiguration, fast_decode) F(EbSvtAv1EncConfiguration, sframe_dist)
    F(EbSvtAv1EncConfiguration, sframe_mode) F(EbSvtAv1EncConfiguration, level_of_parallelism)
    F(EbSvtAv1EncConfiguration, use_cpu_flags) F(EbSvtAv1EncConfiguration, stat_report)
    F(EbSvtAv1EncConfiguration, recon_enabled) F(EbSvtAv1EncConfiguration, force_key_frames)
    F(EbSvtAv1EncConfiguration, multiply_keyint) F(EbSvtAv1EncConfiguration, resize_mode)
    F(EbSvtAv1EncConfiguration, resize_denom) F(EbSvtAv1EncConfiguration, resize_kf_denom)
    F(EbSvtAv1EncConfiguration, enable_qm) F(EbSvtAv1EncConfiguration, min_qm_level)
    F(EbSvtAv1EncConfiguration, max_qm_level) F(EbSvtAv1EncConfiguration, gop_constraint_rc)
    F(EbSvtAv1EncConfiguration, lambda_scale_factors) F(EbSvtAv1EncConfiguration, enable_dg)
    F(EbSvtAv1EncConfiguration, startup_mg_size) F(EbSvtAv1EncConfiguration, startup_qp_offset)
    F(EbSvtAv1EncConfiguration, frame_scale_evts) F(EbSvtAv1EncConfiguration, enable_roi_map)
    F(EbSvtAv1EncConfiguration, tf_strength) F(EbSvtAv1EncConfiguration, fgs_table)
    F(EbSvtAv1EncConfiguration, enable_variance_boost) F(EbSvtAv1EncConfiguration, variance_boost_strength)
    F(EbSvtAv1EncConfiguration, variance_octile) F(EbSvtAv1EncConfiguration, sharpness)
    F(EbSvtAv1EncConfiguration, variance_boost_curve) F(EbSvtAv1EncConfiguration, luminance_qp_bias)
    F(EbSvtAv1EncConfiguration, lossless) F(EbSvtAv1EncConfiguration, avif)
    F(EbSvtAv1EncConfiguration, min_chroma_qm_level) F(EbSvtAv1EncConfiguration, max_chroma_qm_level)
    F(EbSvtAv1EncConfiguration, rtc) F(EbSvtAv1EncConfiguration, qp_scale_compress_strength)
    F(EbSvtAv1EncConfiguration, sframe_posi) F(EbSvtAv1EncConfiguration, sframe_qp)
    F(EbSvtAv1EncConfiguration, sframe_qp_offset) F(EbSvtAv1EncConfiguration, adaptive_film_grain)
    F(EbSvtAv1EncConfiguration, max_tx_size) F(EbSvtAv1EncConfiguration, extended_crf_qindex_offset)
    F(EbSvtAv1EncConfiguration, ac_bias) F(EbSvtAv1EncConfiguration, padding) END
    C(EB_ErrorNone, EB_ErrorNone) C(EB_NoErrorEmptyQueue, EB_NoErrorEmptyQueue) C(EB_BUFFERFLAG_EOS, EB_BUFFERFLAG_EOS)
    C(EB_AV1_KEY_PICTURE, EB_AV1_KEY_PICTURE) C(EB_AV1_INVALID_PICTURE, EB_AV1_INVALID_PICTURE)
    C(ROI_MAP_EVENT, ROI_MAP_EVENT) C(EB_YUV420, EB_YUV420) C(SVT_AV1_RC_MODE_CQP_OR_CRF, SVT_AV1_RC_MODE_CQP_OR_CRF)
    C(SVT_AV1_RC_MODE_VBR, SVT_AV1_RC_MODE_VBR) C(SVT_AV1_RC_MODE_CBR, SVT_AV1_RC_MODE_CBR)
    C(SVT_AV1_STREAM_INFO_FIRST_PASS_STATS_OUT, SVT_AV1_STREAM_INFO_FIRST_PASS_STATS_OUT)
    C(MAX_TEMPORAL_LAYERS, EB_MAX_TEMPORAL_LAYERS) C(FRAME_UPDATE_TYPES, SVT_AV1_FRAME_UPDATE_TYPES)
    C(MAX_SEGMENTS, sizeof(((SvtAv1RoiMapEvt *)0)->seg_qp) / sizeof(int16_t)) C(SVT_AV1_LOG_WARN, SVT_AV1_LOG_WARN)
    C(CONFIG_PADDING, sizeof(((EbSvtAv1EncConfiguration *)0)->padding))
    printf("\n}\n");
    return 0;
}

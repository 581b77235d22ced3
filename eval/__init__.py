"""Evaluation: is a map worth its bits?  Modules in the order data flows through them:

metrics   VMAF v0.6.1, VMAF-NEG, PSNR-Y per frame in one libvmaf pass (checked pairing, never shifted)
regions   PSNR-Y inside / outside the salient region (top 20% of the mask)
bdrate    pchip Bjøntegaard deltas (the `bjontegaard` package)
encoder_defaults  per encoder: the mapped params, baselines, tune's anchor and CRFs eval/tune default to
sweep     RD points of baselines and mapped variants, parallel and cached
report    report.json, rd_points.csv, rd_<clip>.png, ablation table
tune      per-title search of salience weights / allocation by measured VMAF BD-rate (Optuna TPE)
feedback  encode_to_target: chunked encoding steered to a target VMAF
"""

#!/usr/bin/env bash
# Second ncu pass (issue #9): more GEMM dtypes/shapes, efficient attention, flash backward, conv, softmax,
# rms_norm and mul, into DEST/ncu_more.tgz. Same flags and parser as ncu_reference.sh.
set -u
DEST=${1:?}; W=/tmp/tf_more/gpu; rm -rf "$W"; mkdir -p "$W" "$DEST"
export NCU_KERNELS="gemm_fp16|gemm_fp16_square|regex:nvjet|gemm|tensor;gemm_tf32|gemm_tf32_square|regex:gemm|nvjet|tensor;\
gemm_fp8|gemm_fp8_square|regex:nvjet|gemm|tensor;gemm_bf16_tall|gemm_bf16_tall_skinny|regex:nvjet|gemm|tensor;\
bmm_bf16|bmm_bf16|regex:nvjet|gemm|tensor;sdpa_flash_bwd|sdpa_flash_noncausal|regex:flash_bwd_dq_dk_dv|tensor_bwd;\
sdpa_eff_fwd|sdpa_efficient_noncausal|regex:fmha_cutlassF|tensor;conv3x3_fprop|conv2d_3x3|regex:fprop|tensor;\
softmax_fwd|softmax|regex:SoftMaxForward|memory;rms_norm_fwd|rms_norm|regex:vectorized_layer_norm_kernel|memory;\
pointwise_mul|pointwise_mul|regex:elementwise|memory"
NCU_DEADLINE=${NCU_S:-240} NCU_TIMEOUT=60 bash scripts/ncu_reference.sh "$W"
rm -f "$W"/ncu/*.ncu-rep "$W"/ncu/query_metrics_full.txt
tail -30 "$W/ncu/ncu.log"
tar czf "$DEST/ncu_more.tgz" -C "$(dirname "$W")" gpu

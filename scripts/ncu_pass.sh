#!/usr/bin/env bash
# Extra Nsight Compute passes (issue #9), same flags and parser as ncu_reference.sh, packed into
# DEST/ncu_<pass>.tgz (the lent machine returns at most 8 files):
#   more    11 more kernels: GEMM dtypes/shapes, efficient attention, flash backward, conv, softmax, rms_norm, mul
#   steps   every kernel of one eager training step + the Triton kernels of one compiled step (lean metrics)
#   decode  the attention and GEMM kernels of one 64-token decode step with a KV cache (lean metrics)
#
#   bash scripts/ncu_pass.sh PASS DEST        # env: NCU_S (deadline), NCU_TIMEOUT (per run)
set -u
PASS=${1:?usage: ncu_pass.sh more|steps|decode DEST}; DEST=${2:?usage: ncu_pass.sh more|steps|decode DEST}
case "$PASS" in
  more)
    export NCU_KERNELS="gemm_fp16|gemm_fp16_square|regex:nvjet|gemm|tensor;gemm_tf32|gemm_tf32_square|regex:gemm|nvjet|tensor;\
gemm_fp8|gemm_fp8_square|regex:nvjet|gemm|tensor;gemm_bf16_tall|gemm_bf16_tall_skinny|regex:nvjet|gemm|tensor;\
bmm_bf16|bmm_bf16|regex:nvjet|gemm|tensor;sdpa_flash_bwd|sdpa_flash_noncausal|regex:flash_bwd_dq_dk_dv|tensor_bwd;\
sdpa_eff_fwd|sdpa_efficient_noncausal|regex:fmha_cutlassF|tensor;conv3x3_fprop|conv2d_3x3|regex:fprop|tensor;\
softmax_fwd|softmax|regex:SoftMaxForward|memory;rms_norm_fwd|rms_norm|regex:vectorized_layer_norm_kernel|memory;\
pointwise_mul|pointwise_mul|regex:elementwise|memory"
    : "${NCU_TIMEOUT:=60}" ;;
  steps)
    export NCU_LEAN=1 NCU_COUNT=400
    export NCU_KERNELS="train_step|transformer_train|regex:.*|all;compiled_triton|transformer_train_compiled|regex:triton|all"
    : "${NCU_TIMEOUT:=240}" ;;
  decode)
    export NCU_LEAN=1 NCU_COUNT=128
    export NCU_KERNELS="decode_attention|decode_kv_cache|regex:sdpa|fmha|flash|attn|all;decode_gemm|decode_kv_cache|regex:nvjet|gemm|gemv|all"
    : "${NCU_TIMEOUT:=150}" ;;
  *) echo "unknown pass $PASS (more, steps, decode)" >&2; exit 2 ;;
esac
W=/tmp/tf_ncu_$PASS/gpu; rm -rf "$W"; mkdir -p "$W" "$DEST"
NCU_DEADLINE=${NCU_S:-240} NCU_TIMEOUT=$NCU_TIMEOUT bash scripts/ncu_reference.sh "$W"
rm -f "$W"/ncu/*.ncu-rep "$W"/ncu/query_metrics_full.txt
tail -12 "$W/ncu/ncu.log"
tar czf "$DEST/ncu_$PASS.tgz" -C "$(dirname "$W")" gpu

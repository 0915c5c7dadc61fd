#!/usr/bin/env bash
# Fourth ncu pass (issue #9): the attention and GEMM kernels of one 64-token decode step with a KV cache
# (memory-bound: weights and the cache), DRAM bytes + time -> DEST/ncu_decode.tgz.
set -u
DEST=${1:?}; W=/tmp/tf_decode/gpu; rm -rf "$W"; mkdir -p "$W" "$DEST"
export NCU_LEAN=1 NCU_COUNT=128
export NCU_KERNELS="decode_attention|decode_kv_cache|regex:sdpa|fmha|flash|attn|all;decode_gemm|decode_kv_cache|regex:nvjet|gemm|gemv|all"
NCU_DEADLINE=${NCU_S:-240} NCU_TIMEOUT=${NCU_TIMEOUT:-150} bash scripts/ncu_reference.sh "$W"
rm -f "$W"/ncu/*.ncu-rep "$W"/ncu/query_metrics_full.txt
tail -8 "$W/ncu/ncu.log"
tar czf "$DEST/ncu_decode.tgz" -C "$(dirname "$W")" gpu

#!/usr/bin/env bash
# Third ncu pass (issue #9): every kernel of one eager training step and the Triton kernels of one compiled
# step, DRAM bytes + time + bf16 tensor ops, to compare with traceflops kernel by kernel -> DEST/ncu_steps.tgz.
set -u
DEST=${1:?}; W=/tmp/tf_steps/gpu; rm -rf "$W"; mkdir -p "$W" "$DEST"
export NCU_LEAN=1 NCU_COUNT=400
export NCU_KERNELS="train_step|transformer_train|regex:.*|all;compiled_triton|transformer_train_compiled|regex:triton|all"
NCU_DEADLINE=${NCU_S:-420} NCU_TIMEOUT=${NCU_TIMEOUT:-240} bash scripts/ncu_reference.sh "$W"
rm -f "$W"/ncu/*.ncu-rep "$W"/ncu/query_metrics_full.txt
tail -12 "$W/ncu/ncu.log"
tar czf "$DEST/ncu_steps.tgz" -C "$(dirname "$W")" gpu

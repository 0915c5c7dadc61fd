#!/usr/bin/env bash
# Nsight Compute counters for a handful of reference kernels (issue #9), on one H100/H200.
#
#   bash scripts/ncu_reference.sh [OUT_DIR]        # default OUT_DIR=sample_traces/gpu
#
# Needs: ncu on PATH, torch with CUDA. Each kernel is profiled from a separate process that runs ONE step of a
# workload of scripts/capture_reference.py between cudaProfilerStart/Stop (--ncu), so the torch profiler is not
# running (CUPTI is ncu's) and warm-up/autotuning kernels are outside the window.
# Output: OUT_DIR/ncu/*.ncu-rep, *.csv, available_metrics.txt, ncu.log and the fixture OUT_DIR/ncu_reference.json
# (made by scripts/ncu_fixture.py, standard library only). Without counter access (ERR_NVGPUCTRPERM) the fixture
# records that and points at the CUDA-event timings in OUT_DIR/manifest.json instead.
set -u -o pipefail
OUT=${1:-sample_traces/gpu}
NCU_DIR="$OUT/ncu"
mkdir -p "$NCU_DIR"
PY=${PYTHON:-$(command -v python3 || command -v python)}
CAP="scripts/capture_reference.py"
LOG="$NCU_DIR/ncu.log"
PER_KERNEL_S=${NCU_TIMEOUT:-150}   # one ncu run (process start, warm-up, replays)
DEADLINE_S=${NCU_DEADLINE:-900}    # all runs together: a lent GPU has a fixed budget
: > "$LOG"
T0=$SECONDS

NCU=$(command -v ncu || ls -1 /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | tail -1)
if [ -z "$NCU" ] || [ ! -x "$NCU" ]; then
  echo "ncu not found" | tee -a "$LOG"
  NCU_STATUS=ncu_missing
else
  echo "ncu: $NCU" >> "$LOG"
  "$NCU" --version >> "$LOG" 2>&1
  # 1. Metric names differ across ncu versions and chips: list what exists here and keep the list.
  "$NCU" --query-metrics > "$NCU_DIR/query_metrics_full.txt" 2>> "$LOG"
  grep -i -E 'gmma|tensor|fma|fadd|fmul|dram__bytes' "$NCU_DIR/query_metrics_full.txt" > "$NCU_DIR/available_metrics.txt" || true
  NCU_STATUS=ok
fi

have() { grep -q -E "^$1([[:space:]]|$)" "$NCU_DIR/query_metrics_full.txt" 2>/dev/null; }

# 2. The metric list: DRAM bytes + FP32 SASS instruction counts + the tensor-pipe op counters this ncu knows.
#    Hopper names them per instruction path and sparsity (sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off)
#    and also per source type (sm__ops_path_tensor_src_bf16_dst_fp32); both are kept and the parser sums one
#    family only. sparsity_on and realtime variants are left out (dense kernels; realtime duplicates).
#    sm__inst_executed_pipe_tensor_op_gmma counts warpgroup MMA instructions, kept as a cross-check.
CORE="gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum"
METRICS="$CORE"
for m in smsp__sass_thread_inst_executed_op_ffma_pred_on smsp__sass_thread_inst_executed_op_fadd_pred_on \
         smsp__sass_thread_inst_executed_op_fmul_pred_on sm__inst_executed_pipe_tensor_op_gmma \
         sm__inst_executed_pipe_tensor_op_hmma sm__pipe_tensor_op_gmma_cycles_active; do
  have "$m" && METRICS="$METRICS,$m.sum" && CORE="$CORE,$m.sum"
done
if [ -s "$NCU_DIR/query_metrics_full.txt" ]; then
  for m in $(awk '{print $1}' "$NCU_DIR/query_metrics_full.txt" | grep -E '^sm__ops_path_tensor' \
             | grep -v -E 'realtime|sparsity_on' | sort -u); do
    METRICS="$METRICS,$m.sum"
  done
fi
# NCU_LEAN=1: DRAM bytes, time, bf16 tensor ops and FFMA only (fewer replay passes, for whole training steps)
if [ -n "${NCU_LEAN:-}" ]; then
  METRICS="$CORE"
  for m in sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off sm__ops_path_tensor_op_hmma_src_bf16_dst_fp32_sparsity_off; do
    have "$m" && METRICS="$METRICS,$m.sum"
  done
fi
echo "metrics: $METRICS" >> "$LOG"

# 3. One ncu run per kernel: name|workload|kernel regex|kind (kind tells the parser which counters are FLOPs).
#    Most valuable first: a run that reaches its deadline drops the last ones.
KERNELS=(
  "gemm_bf16|gemm_bf16_square|regex:gemm|nvjet|xmma|cutlass|Kernel2|tensor"
  "pointwise_add|pointwise_add|regex:elementwise|memory"
  "sdpa_flash_fwd|sdpa_flash_noncausal|regex:flash_fwd|tensor"
  "layer_norm_fwd|layer_norm|regex:layer_norm_kernel|LayerNormForward|RowwiseMoments|memory"
  "gemm_fp32|gemm_fp32_square|regex:gemm|nvjet|xmma|cutlass|sgemm|Kernel2|ffma"
  "sdpa_flash_fwd_causal|sdpa_flash_causal|regex:flash_fwd|tensor"
)
# NCU_KERNELS="spec;spec;..." replaces the list (a second session profiling more kernels)
[ -n "${NCU_KERNELS:-}" ] && IFS=';' read -r -a KERNELS <<< "$NCU_KERNELS"
profile() {  # tag workload regex metrics
  timeout "$PER_KERNEL_S" "$NCU" --clock-control none --cache-control all --target-processes all \
    --profile-from-start off --replay-mode kernel -k "$3" -c "${NCU_COUNT:-4}" --metrics "$4" -f -o "$NCU_DIR/$1" \
    "$PY" "$CAP" --device cuda --ncu --only "$2" --warmup 2 >> "$LOG" 2>&1
}
if [ "$NCU_STATUS" = ok ]; then
  for spec in "${KERNELS[@]}"; do
    IFS='|' read -r tag wl rest <<< "$spec"
    kind=${spec##*|}
    regex=${rest%|*}
    if [ $((SECONDS - T0 + PER_KERNEL_S / 2)) -gt "$DEADLINE_S" ]; then
      echo "== $tag skipped: deadline ${DEADLINE_S}s" | tee -a "$LOG"; continue
    fi
    echo "== $tag ($wl, $regex) at $((SECONDS - T0))s" | tee -a "$LOG"
    # --profile-from-start off: only the step inside cudaProfilerStart/Stop; -c 4 bounds replay time.
    profile "$tag" "$wl" "$regex" "$METRICS"
    rc=$?
    echo "rc=$rc" >> "$LOG"
    if grep -q ERR_NVGPUCTRPERM "$LOG"; then NCU_STATUS=no_counter_permission; break; fi
    if [ ! -f "$NCU_DIR/$tag.ncu-rep" ] && [ "$METRICS" != "$CORE" ]; then
      # an unsupported name in the long list fails the whole run: retry with the core metrics
      echo "== $tag retry with core metrics" | tee -a "$LOG"
      profile "$tag" "$wl" "$regex" "$CORE"
      echo "rc=$?" >> "$LOG"
    fi
    if [ -f "$NCU_DIR/$tag.ncu-rep" ]; then
      "$NCU" -i "$NCU_DIR/$tag.ncu-rep" --csv --page raw --print-units base --print-kernel-base demangled \
        > "$NCU_DIR/$tag.csv" 2>> "$LOG"
    fi
    echo "$tag|$wl|$regex|$kind" >> "$NCU_DIR/runs.txt.tmp"
  done
  [ -f "$NCU_DIR/runs.txt.tmp" ] && mv "$NCU_DIR/runs.txt.tmp" "$NCU_DIR/runs.txt"
  echo "ncu total $((SECONDS - T0))s" | tee -a "$LOG"
fi

# 4. CSV -> fixture (stdlib only).
"$PY" scripts/ncu_fixture.py "$OUT" --status "$NCU_STATUS"

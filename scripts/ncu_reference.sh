#!/usr/bin/env bash
# Nsight Compute counters for a handful of reference kernels (issue #9), on one H100/H200.
#
#   bash scripts/ncu_reference.sh [OUT_DIR]        # default OUT_DIR=sample_traces/gpu
#
# Needs: ncu on PATH, torch with CUDA. Each kernel is profiled from a separate process that runs ONE step of a
# workload of scripts/capture_reference.py between cudaProfilerStart/Stop (--ncu), so the torch profiler is not
# running (CUPTI is ncu's) and warm-up/autotuning kernels are outside the window.
# Output: OUT_DIR/ncu/*.ncu-rep, *.csv, available_metrics.txt, ncu.log and the fixture OUT_DIR/ncu_reference.json
# (parsed below with the Python standard library only). Without counter access (ERR_NVGPUCTRPERM) the fixture
# records that and points at the CUDA-event timings in OUT_DIR/manifest.json instead.
set -u -o pipefail
OUT=${1:-sample_traces/gpu}
NCU_DIR="$OUT/ncu"
mkdir -p "$NCU_DIR"
PY=${PYTHON:-python}
CAP="scripts/capture_reference.py"
LOG="$NCU_DIR/ncu.log"
: > "$LOG"

if ! command -v ncu >/dev/null 2>&1; then
  echo "ncu not found" | tee -a "$LOG"
  NCU_STATUS=ncu_missing
else
  ncu --version >> "$LOG" 2>&1
  # 1. Metric names differ across ncu versions and chips: list what exists here and keep the list.
  ncu --query-metrics > "$NCU_DIR/query_metrics_full.txt" 2>> "$LOG"
  grep -i -E 'gmma|tensor|fma|fadd|fmul|dram__bytes' "$NCU_DIR/query_metrics_full.txt" > "$NCU_DIR/available_metrics.txt" || true
  NCU_STATUS=ok
fi

have() { grep -q -E "^$1([[:space:]]|$)" "$NCU_DIR/query_metrics_full.txt" 2>/dev/null; }

# 2. The metric list: DRAM bytes + FP32 SASS instruction counts + every tensor-pipe op counter this ncu knows
#    (sm__ops_path_tensor_src_bf16_dst_fp32-style names count 2 per MAC; sm__inst_executed_pipe_tensor_op_gmma
#    counts warpgroup MMA instructions, kept as a cross-check).
METRICS="gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum"
for m in smsp__sass_thread_inst_executed_op_ffma_pred_on smsp__sass_thread_inst_executed_op_fadd_pred_on \
         smsp__sass_thread_inst_executed_op_fmul_pred_on sm__inst_executed_pipe_tensor_op_gmma \
         sm__inst_executed_pipe_tensor_op_hmma sm__pipe_tensor_op_gmma_cycles_active; do
  have "$m" && METRICS="$METRICS,$m.sum"
done
if [ -s "$NCU_DIR/query_metrics_full.txt" ]; then
  for m in $(awk '{print $1}' "$NCU_DIR/query_metrics_full.txt" | grep -E '^sm__ops_path_tensor' | grep -v -E 'realtime|sparsity' | sort -u); do
    METRICS="$METRICS,$m.sum"
  done
fi
echo "metrics: $METRICS" >> "$LOG"

# 3. One ncu run per kernel: name|workload|kernel regex|kind (kind tells the parser which counters are FLOPs).
KERNELS=(
  "gemm_bf16|gemm_bf16_square|regex:gemm|nvjet|xmma|cutlass|Kernel2|tensor"
  "gemm_fp32|gemm_fp32_square|regex:gemm|nvjet|xmma|cutlass|sgemm|Kernel2|ffma"
  "sdpa_flash_fwd|sdpa_flash_noncausal|regex:flash_fwd|tensor"
  "sdpa_flash_fwd_causal|sdpa_flash_causal|regex:flash_fwd|tensor"
  "pointwise_add|pointwise_add|regex:elementwise|memory"
  "layer_norm_fwd|layer_norm|regex:layer_norm_kernel|LayerNormForward|RowwiseMoments|memory"
)
if [ "$NCU_STATUS" = ok ]; then
  for spec in "${KERNELS[@]}"; do
    IFS='|' read -r tag wl rest <<< "$spec"
    kind=${spec##*|}
    regex=${rest%|*}
    echo "== $tag ($wl, $regex)" | tee -a "$LOG"
    # --profile-from-start off: only the step inside cudaProfilerStart/Stop; -c 4 bounds replay time.
    timeout 240 ncu --clock-control none --cache-control all --target-processes all --profile-from-start off \
      --replay-mode kernel -k "$regex" -c 4 --metrics "$METRICS" -f -o "$NCU_DIR/$tag" \
      "$PY" "$CAP" --device cuda --ncu --only "$wl" --warmup 2 >> "$LOG" 2>&1
    rc=$?
    echo "rc=$rc" >> "$LOG"
    if grep -q ERR_NVGPUCTRPERM "$LOG"; then NCU_STATUS=no_counter_permission; break; fi
    if [ -f "$NCU_DIR/$tag.ncu-rep" ]; then
      ncu -i "$NCU_DIR/$tag.ncu-rep" --csv --page raw --print-units base --print-kernel-base demangled \
        > "$NCU_DIR/$tag.csv" 2>> "$LOG"
    fi
    echo "$tag|$wl|$regex|$kind" >> "$NCU_DIR/runs.txt.tmp"
  done
  [ -f "$NCU_DIR/runs.txt.tmp" ] && mv "$NCU_DIR/runs.txt.tmp" "$NCU_DIR/runs.txt"
fi

# 4. CSV -> fixture (stdlib only).
NCU_STATUS="$NCU_STATUS" "$PY" - "$OUT" <<'PYEOF'
import csv, json, os, re, sys
from pathlib import Path

out = Path(sys.argv[1]); nd = out / "ncu"
status = os.environ.get("NCU_STATUS", "ok")
log = (nd / "ncu.log").read_text(errors="replace") if (nd / "ncu.log").exists() else ""
ver = re.search(r"Version\s+(\S+)", log)
manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
fix = {"schema": 1, "status": status, "ncu_version": ver.group(1) if ver else None,
       "gpu": manifest.get("env", {}).get("gpu"), "torch": manifest.get("env", {}).get("torch"),
       "flags": "--clock-control none --cache-control all --target-processes all --profile-from-start off",
       "conventions": {"tensor_flops": "sum of sm__ops_path_tensor_* .sum (2 per MAC)",
                       "ffma_flops": "2*ffma + fadd + fmul thread instructions (pred on)",
                       "dram_bytes": "dram__bytes_read.sum + dram__bytes_write.sum"},
       "kernels": []}
if status != "ok":
    fix["fallback"] = "no counters: use the CUDA-event timings in manifest.json (timing.median_ms)"
    fix["timings"] = {w["name"]: w.get("timing") for w in manifest.get("workloads", []) if w.get("status") == "ok"}

def num(x):
    try:
        return float(str(x).replace(",", ""))
    except ValueError:
        return None

runs = (nd / "runs.txt").read_text().split("\n") if (nd / "runs.txt").exists() else []
for line in filter(None, runs):
    parts = line.split("|")  # tag|workload|regex (may contain '|')|kind
    tag, wl, regex, kind = parts[0], parts[1], "|".join(parts[2:-1]), parts[-1]
    path = nd / f"{tag}.csv"
    if not path.exists():
        fix["kernels"].append({"tag": tag, "workload": wl, "regex": regex, "kind": kind, "error": "no csv"})
        continue
    text = path.read_text(errors="replace").splitlines()
    start = next((i for i, l in enumerate(text) if l.startswith('"ID"')), None)
    if start is None:
        fix["kernels"].append({"tag": tag, "workload": wl, "regex": regex, "kind": kind, "error": "no rows"})
        continue
    rows = list(csv.reader(text[start:]))
    head, units, body = rows[0], rows[1], rows[2:]
    for r in body:
        d = dict(zip(head, r))
        metrics = {k: num(v) for k, v in d.items() if "__" in k and num(v) is not None}
        tensor = sum(v for k, v in metrics.items() if k.startswith("sm__ops_path_tensor"))
        ffma = metrics.get("smsp__sass_thread_inst_executed_op_ffma_pred_on.sum")
        flops = None
        if kind == "tensor":
            flops = tensor
        elif kind == "ffma" and ffma is not None:
            flops = 2 * ffma + (metrics.get("smsp__sass_thread_inst_executed_op_fadd_pred_on.sum") or 0) \
                + (metrics.get("smsp__sass_thread_inst_executed_op_fmul_pred_on.sum") or 0) + tensor
        rd, wr = metrics.get("dram__bytes_read.sum"), metrics.get("dram__bytes_write.sum")
        fix["kernels"].append({"tag": tag, "workload": wl, "regex": regex, "kind": kind,
                               "name": d.get("Kernel Name"), "id": d.get("ID"),
                               "flops": flops, "dram_bytes": None if rd is None or wr is None else rd + wr,
                               "units": dict(zip(head, units)), "metrics": metrics})
if status == "ok" and not fix["kernels"]:
    fix["status"] = "no_kernels_profiled"
(out / "ncu_reference.json").write_text(json.dumps(fix, indent=1) + "\n")
print(f"wrote {out / 'ncu_reference.json'}: status={fix['status']}, {len(fix['kernels'])} kernel rows")
PYEOF

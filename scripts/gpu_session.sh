#!/usr/bin/env bash
# The whole issue-#9 device session as one command (docs/ground-truth.md): capture the reference traces, run
# Nsight Compute on a handful of kernels, and pack everything into DEST/gpu.tgz (the lent machine returns at
# most 8 files). Each stage has its own time limit so a slow stage cannot cost the others' results;
# DEST/capture.tgz is written as soon as the capture ends, in case the ncu stage is cut off.
#
#   bash scripts/gpu_session.sh DEST      # env: CAPTURE_S (280) NCU_S (230) NCU_TIMEOUT (90) CAPTURE_ARGS
set -u
DEST=${1:?usage: gpu_session.sh DEST}
W=${WORK_DIR:-/tmp/tf_gpu}/gpu
PY=$(command -v python3 || command -v python)
rm -rf "$W"; mkdir -p "$W" "$DEST"
{ date -u; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,memory.total --format=csv
  "$PY" -c "import torch, platform; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'python', platform.python_version())"
} > "$W/env.txt" 2>&1
cat "$W/env.txt"
T0=$SECONDS
PYTHONUNBUFFERED=1 timeout "${CAPTURE_S:-280}" "$PY" scripts/capture_reference.py ${CAPTURE_ARGS:---device cuda} \
  --out "$W" > "$W/capture.log" 2>&1
echo "capture rc=$? in $((SECONDS - T0))s" | tee -a "$W/capture.log"
tail -40 "$W/capture.log"
tar czf "$DEST/capture.tgz" -C "$(dirname "$W")" gpu
T1=$SECONDS
NCU_DEADLINE=${NCU_S:-230} NCU_TIMEOUT=${NCU_TIMEOUT:-90} PYTHON="$PY" bash scripts/ncu_reference.sh "$W"
echo "ncu stage in $((SECONDS - T1))s"
tail -25 "$W/ncu/ncu.log"
# .ncu-rep files are large and re-derivable; the CSVs, the metric list and the log stay
rm -f "$W"/ncu/*.ncu-rep
gzip -f "$W/ncu/query_metrics_full.txt" 2>/dev/null
tar czf "$DEST/gpu.tgz" -C "$(dirname "$W")" gpu && rm -f "$DEST/capture.tgz"
ls -la "$DEST"

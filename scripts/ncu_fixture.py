#!/usr/bin/env python3
"""Nsight Compute CSVs -> the small fixture tests/test_capture.py reads (issue #9). Standard library only: it
runs on the lent GPU machine (called by ncu_reference.sh) and here, to merge several ncu passes.

    python scripts/ncu_fixture.py OUT_DIR [--ncu-dir DIR ...] [--status ok]

OUT_DIR holds the capture's manifest.json; each --ncu-dir (default OUT_DIR/ncu) holds runs.txt
(tag|workload|regex|kind per line), <tag>.csv (`ncu --csv --page raw --print-units base`) and ncu.log.
Writes OUT_DIR/ncu_reference.json.

FLOP conventions, checked on the H100 with the 8192^3 GEMMs (ratio to 2*M*N*K = the tile padding of M exactly):
* tensor kernels: Hopper counts the same MACs per instruction path (sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32,
  2 per MAC) and per source type (sm__ops_path_tensor_src_bf16_dst_fp32); the fixture sums the path family, and
  the source family where no path counter exists (fp8 on this ncu). Within a family an aggregate name with
  finer children (hmma_src_fp16 vs hmma_src_fp16_dst_fp32) and the sparsity_off twin of a plain name are
  counted once.
* FFMA kernels: 2*ffma + fadd + fmul thread instructions (predicated on), plus any tensor ops.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

FLAGS = "--clock-control none --cache-control all --target-processes all --profile-from-start off --replay-mode kernel"
KEEP_COLUMNS = ("Kernel Name", "ID", "Block Size", "Grid Size")


def num(x):
    try:
        return float(str(x).replace(",", ""))
    except ValueError:
        return None


def family_sum(metrics: dict, prefix: str) -> float:
    bases = {}
    for k, v in metrics.items():
        if k.startswith(prefix) and k.endswith(".sum") and v is not None:
            name = k[:-4]
            base = name.removesuffix("_sparsity_off")
            if name.endswith("_sparsity_off") or base not in bases:
                bases[base] = v
    # an aggregate (hmma_src_fp16) next to its finer children (hmma_src_fp16_dst_fp32) would count twice
    leaves = [b for b in bases if not any(o != b and o.startswith(b + "_") for o in bases)]
    return float(sum(bases[b] for b in leaves))


def tensor_flops(metrics: dict) -> tuple[float, float]:
    return family_sum(metrics, "sm__ops_path_tensor_op_"), family_sum(metrics, "sm__ops_path_tensor_src_")


def requested(log: str) -> set[str]:
    names = set()
    for m in re.finditer(r"^metrics: (.*)$", log, re.M):
        names |= set(m.group(1).split(","))
    return names


def kernel_rows(ncu_dir: Path) -> list[dict]:
    log = (ncu_dir / "ncu.log").read_text(errors="replace") if (ncu_dir / "ncu.log").exists() else ""
    wanted = requested(log)
    runs = (ncu_dir / "runs.txt").read_text().splitlines() if (ncu_dir / "runs.txt").exists() else []
    rows = []
    for line in filter(None, runs):
        parts = line.split("|")  # tag|workload|regex (may contain '|')|kind
        tag, wl, regex, kind = parts[0], parts[1], "|".join(parts[2:-1]), parts[-1]
        base = {"tag": tag, "workload": wl, "regex": regex, "kind": kind}
        path = ncu_dir / f"{tag}.csv"
        text = path.read_text(errors="replace").splitlines() if path.exists() else []
        start = next((i for i, l in enumerate(text) if l.startswith('"ID"')), None)
        if start is None:
            rows.append(dict(base, error="no csv" if not text else "no rows"))
            continue
        table = list(csv.reader(text[start:]))
        head, units, body = table[0], table[1], table[2:]
        for r in body:
            d = dict(zip(head, r))
            metrics = {k: num(v) for k, v in d.items() if (k in wanted or not wanted) and "__" in k and num(v) is not None}
            by_path, by_src = tensor_flops(metrics)
            tensor = by_path or by_src
            ffma = metrics.get("smsp__sass_thread_inst_executed_op_ffma_pred_on.sum")
            flops = None
            if kind.startswith("tensor"):
                flops = tensor
            elif kind == "ffma" and ffma is not None:
                flops = (2 * ffma + (metrics.get("smsp__sass_thread_inst_executed_op_fadd_pred_on.sum") or 0)
                         + (metrics.get("smsp__sass_thread_inst_executed_op_fmul_pred_on.sum") or 0) + tensor)
            rd, wr = metrics.get("dram__bytes_read.sum"), metrics.get("dram__bytes_write.sum")
            rows.append(dict(base, name=d.get("Kernel Name"), id=d.get("ID"), block=d.get("Block Size"),
                             grid=d.get("Grid Size"), flops=flops, tensor_flops_by_path=by_path,
                             tensor_flops_by_src=by_src, dram_bytes=None if rd is None or wr is None else rd + wr,
                             duration_ns=metrics.get("gpu__time_duration.sum"),
                             units={k: u for k, u in zip(head, units) if k in metrics and u},
                             metrics={k: v for k, v in metrics.items() if v}))
    return rows


def build(out: Path, ncu_dirs: list[Path], status: str) -> dict:
    logs = "".join((d / "ncu.log").read_text(errors="replace") for d in ncu_dirs if (d / "ncu.log").exists())
    ver = re.search(r"Version\s+(\S+)", logs)
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    env = manifest.get("env", {})
    fix = {"schema": 2, "status": status, "ncu_version": ver.group(1) if ver else None, "gpu": env.get("gpu"),
           "torch": env.get("torch"), "cuda": env.get("cuda"), "flags": FLAGS,
           "conventions": {"tensor_flops": "sm__ops_path_tensor_op_* leaves (sparsity_off), else sm__ops_path_tensor_src_*"
                                           " leaves; 2 per MAC",
                           "ffma_flops": "2*ffma + fadd + fmul thread instructions (pred on)",
                           "dram_bytes": "dram__bytes_read.sum + dram__bytes_write.sum"},
           "kernels": []}
    if status != "ok":
        fix["fallback"] = "no counters: use the CUDA-event timings in manifest.json (timing.median_ms)"
        fix["timings"] = {w["name"]: w.get("timing") for w in manifest.get("workloads", []) if w.get("status") == "ok"}
    for d in ncu_dirs:
        fix["kernels"] += kernel_rows(d)
    if status == "ok" and not fix["kernels"]:
        fix["status"] = "no_kernels_profiled"
    return fix


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--ncu-dir", type=Path, action="append", default=None)
    ap.add_argument("--status", default="ok")
    ap.add_argument("--name", default="ncu_reference.json", help="fixture file name in OUT_DIR")
    a = ap.parse_args(argv)
    fix = build(a.out, a.ncu_dir or [a.out / "ncu"], a.status)
    path = a.out / a.name
    path.write_text(json.dumps(fix, indent=1) + "\n")
    print(f"wrote {path}: status={fix['status']}, {len(fix['kernels'])} kernel rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())

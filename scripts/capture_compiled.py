#!/usr/bin/env python3
"""Record torch.compile GPU traces WITHOUT Inductor's cost metadata, with the output code the traceflops profiler
hook saves beside them (issue #20 item 4; docs/compiled.md).

    python3 scripts/capture_compiled.py --out DIR [--device cuda|cpu] [--small] [--only NAME,...] [--list]

Each workload is profiled with `record_shapes=False` (so the launch ops carry no Input Dims, no kernel_hash /
kernel_file) and without `TORCHINDUCTOR_BENCHMARK_KERNEL` / `TORCHINDUCTOR_PROFILE` (so no kernel_flop /
kernel_num_gb): every compiled kernel's cost has to come from the output code. The trace is exported by the
hook (`traceflops.apps.hooks.TraceReadyHandler`, analysis off: this machine may lack traceflops' dependencies),
which also writes `<trace>.compiled/` (each CompiledFxGraph's output code, keyed by its FX graph key). The
script then gzips the saved code (`*.py.gz`: traceflops reads both) and writes DIR/compiled_manifest.json with
the hand-counted GEMM + attention FLOPs of each workload (the formulas of scripts/capture_reference.py).

Workloads (CUDA; on CPU only the first runs, as a dry run of the script):
* compiled_train_noshapes     TinyLM training step (bf16 autocast, fused AdamW), torch.compile default mode
* compiled_cudagraphs_noshapes  mode="reduce-overhead" inference from a fresh dynamo: warm-up, recording, replays
* compiled_replays_noshapes   the same graph profiled only after it was recorded: replays alone (no launch op
                              per kernel; traceflops aligns them with the output code's call order)

Imports only torch, the standard library, scripts/capture_reference.py and traceflops/apps/hooks.py (loaded
by path, without the rest of traceflops).
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

for flag in ("TORCHINDUCTOR_BENCHMARK_KERNEL", "TORCHINDUCTOR_PROFILE"):  # no Inductor cost metadata
    os.environ.pop(flag, None)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import capture_reference as cr  # noqa: E402


def _hooks():
    spec = importlib.util.spec_from_file_location("traceflops_hooks", REPO / "traceflops" / "apps" / "hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train(device, small):
    c = cr._tcfg(cr.Ctx(device, small, True))
    torch.manual_seed(0)
    model = cr.TinyLM(**c).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=device == "cuda" or None)
    g = torch.Generator(device=device).manual_seed(0)
    idx = torch.randint(0, c["vocab"], (c["batch"], c["seq"]), device=device, generator=g)
    tgt = torch.randint(0, c["vocab"], (c["batch"], c["seq"]), device=device, generator=g)
    fwd = torch.compile(model)
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device == "cuda" else _null

    def step():
        with amp():
            loss = F.cross_entropy(fwd(idx).flatten(0, 1), tgt.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    f = cr.transformer_flops(c)
    return step, dict(c, passes="forward+backward+AdamW", mode="default"), {
        "gemm": f["gemm"], "attention": f["attention"], "formula": "6*T*sum(Linear in*out) + layers*3*attention_fwd(causal)"}


def infer(device, small, replays_only):
    if device != "cuda":
        return None
    c = dict(cr._tcfg(cr.Ctx(device, small, True)), batch=4, seq=512)
    torch.manual_seed(0)
    model = cr.TinyLM(**c).to(device, torch.bfloat16).eval()
    g = torch.Generator(device=device).manual_seed(0)
    idx = torch.randint(0, c["vocab"], (c["batch"], c["seq"]), device=device, generator=g)
    fwd = torch.compile(model, mode="reduce-overhead")

    @torch.no_grad()
    def step():
        torch.compiler.cudagraph_mark_step_begin()
        fwd(idx).clone()
    for _ in range(3):  # compile, fill the caches, record the graph
        step()
    torch.cuda.synchronize()
    if not replays_only:
        torch._dynamo.reset()  # profiled from a fresh dynamo: warm-up (eager), recording + replay, replays
    f = cr.transformer_flops(c)
    return step, dict(c, passes="forward (no_grad)", mode="reduce-overhead", dtype="bfloat16",
                      profiled="replays only" if replays_only else "warm-up, recording, replays"), {
        "gemm": f["gemm"] // 3, "attention": f["attention"] // 3,
        "formula": "one forward per step: 2*T*sum(Linear in*out) + layers*attention_fwd(causal)"}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


WORKLOADS = {
    "compiled_train_noshapes": lambda d, s: train(d, s),
    "compiled_cudagraphs_noshapes": lambda d, s: infer(d, s, False),
    "compiled_replays_noshapes": lambda d, s: infer(d, s, True),
}


def record(name, build, device, small, out, iters, hooks):
    t0 = time.perf_counter()
    built = build(device, small)
    if built is None:
        return {"name": name, "status": "skipped", "reason": "needs a CUDA device"}
    step, params, flops = built
    if name == "compiled_train_noshapes":
        step()  # compile outside the profiled window
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    handler = hooks.on_trace_ready(out, worker_name=name, gzip=True, analyze=False)
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch.profiler.profile(activities=acts, record_shapes=False, on_trace_ready=handler,
                                schedule=torch.profiler.schedule(wait=0, warmup=0, active=iters, repeat=1)) as prof:
        for _ in range(iters):
            step()
            sync()
            prof.step()
    trace = handler.traces[0]
    code = trace.with_name(trace.name.replace(".pt.trace.json.gz", ".compiled"))
    files = []
    if code.is_dir():
        for f in sorted(code.glob("*.py")):
            with open(f, "rb") as src, gzip.open(f.with_name(f.name + ".gz"), "wb", compresslevel=9) as dst:
                shutil.copyfileobj(src, dst)
            f.unlink()
        files = sorted(p.name for p in code.iterdir())
    per_step = {"gemm": flops["gemm"], "attention": flops["attention"]}
    return {"name": name, "status": "ok", "trace": trace.name, "compiled": code.name if files else None,
            "compiled_files": files, "iters": iters, "params": params, "record_shapes": False,
            "inductor_cost_metadata": False,
            "expected": {"by_family_per_iter": per_step, "by_family": {k: v * iters for k, v in per_step.items()},
                         "formula": flops["formula"]},
            "wall_s": round(time.perf_counter() - t0, 2)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="sample_traces/gpu")
    ap.add_argument("--device", choices=["cuda", "cpu"], default=None)
    ap.add_argument("--small", action="store_true", help="small sizes (a CPU dry run)")
    ap.add_argument("--only", default="")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(WORKLOADS))
        return 0
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    only = {s for s in args.only.split(",") if s}
    if only - set(WORKLOADS):
        ap.error(f"unknown workload(s) {sorted(only - set(WORKLOADS))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hooks = _hooks()
    env = cr.env_info(device)
    env["inductor_flags"] = {k: os.environ.get(k) for k in ("TORCHINDUCTOR_BENCHMARK_KERNEL", "TORCHINDUCTOR_PROFILE",
                                                            "TORCHINDUCTOR_UNIQUE_KERNEL_NAMES")}
    entries = []
    for name, build in WORKLOADS.items():
        if only and name not in only:
            continue
        try:
            e = record(name, build, device, args.small, out, args.iters, hooks)
        except Exception as exc:  # recorded, and the run exits non-zero
            e = {"name": name, "status": "error", "reason": f"{type(exc).__name__}: {exc}"}
        entries.append(e)
        print(f"{name:32s} {e['status']:8s} {e.get('trace') or e.get('reason', '')}", flush=True)
        if device == "cuda":
            torch.cuda.empty_cache()
        (out / "compiled_manifest.json").write_text(json.dumps({"env": env, "workloads": entries}, indent=1) + "\n")
    return 0 if all(e["status"] != "error" for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())

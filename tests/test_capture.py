"""Issue #9: reference traces captured by scripts/capture_reference.py, checked against hand formulas
(CPU path, always) and against Nsight Compute counters (GPU fixture, when a GPU session has committed one)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from traceflops.analysis import analyze

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "capture_reference.py"
GPU_DIR = REPO / "sample_traces" / "gpu"
FLOP_FAMILIES = {"gemm", "conv", "attention"}
# On the CPU path these must run (a silent skip would hide a broken workload); the others are expected skips.
CPU_MUST_RUN = {"gemm_fp32_square", "gemm_bf16_square", "gemm_fp32_tall_skinny", "bmm_fp32", "bmm_bf16",
                "sdpa_flash_causal", "sdpa_flash_noncausal", "sdpa_flash_gqa_causal", "sdpa_flash_lq_ne_lk",
                "sdpa_flash_lq_ne_lk_causal", "conv2d_3x3", "conv2d_stem_7x7s2", "layer_norm", "rms_norm",
                "softmax", "pointwise_add", "pointwise_mul", "pointwise_copy", "transformer_train",
                "decode_kv_cache"}


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    out = tmp_path_factory.mktemp("capture")
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--small", "--out", str(out)]
    if not os.environ.get("TRACEFLOPS_TEST_COMPILE"):  # torch.compile on CPU takes ~70 s here
        cmd.append("--no-compile")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    analyses = {w["name"]: analyze(out / w["trace"]) for w in manifest["workloads"] if w["status"] == "ok"}
    return out, manifest, analyses


def _ok(manifest):
    return [w for w in manifest["workloads"] if w["status"] == "ok"]


def _family_flops(a, families):
    ops = a.ops
    sel = ops[ops["family"].isin(families)]
    return {f: float(np.nansum(sel.loc[sel["family"] == f, "flops"].to_numpy(float))) for f in families}


def test_manifest_lists_every_workload(capture):
    out, manifest, _ = capture
    listed = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)), check=True).stdout.split("\n")
    names = {l.split("\t")[0] for l in listed if l.strip()}
    got = {w["name"]: w for w in manifest["workloads"]}
    assert set(got) == names
    assert not [n for n, w in got.items() if w["status"] == "error"], [w.get("reason") for w in got.values()]
    for n, w in got.items():
        if w["status"] == "skipped":
            assert w["reason"], n
        else:
            assert (out / w["trace"]).is_file() and w["trace"] == f"{n}.json.gz"
            assert w["timing"]["median_ms"] > 0 and w["timing"]["repeats"] >= 1
    assert CPU_MUST_RUN <= {n for n, w in got.items() if w["status"] == "ok"}
    assert manifest["env"]["gpu"] == "cpu"


def test_capture_metadata_names_the_workload(capture):
    out, manifest, analyses = capture
    for w in _ok(manifest):
        meta = analyses[w["name"]].trace.meta.get("traceflops_capture")
        assert isinstance(meta, dict), f"{w['trace']}: no traceflops_capture metadata"
        assert meta["workload"] == w["name"] and meta["params"] == w["params"]
        assert meta["gpu"] == "cpu" and meta["torch"]


def test_flops_equal_hand_formulas(capture):
    """GEMM / conv / SDPA (and the model workloads' GEMM+attention): traceflops' FLOPs == hand formula, exactly."""
    _, manifest, analyses = capture
    checked, bad = [], []
    for w in _ok(manifest):
        exp = w["expected"]
        if "flops" not in exp:
            continue
        fams = set(exp["families"])
        by = _family_flops(analyses[w["name"]], FLOP_FAMILIES)
        got = sum(by.values())  # every gemm/conv/attention op in the trace, not just the expected families
        if got != exp["flops"]:
            bad.append((w["name"], exp["flops"], got, by))
        for f, v in exp.get("by_family", {}).items():
            if by[f] != v:
                bad.append((w["name"], f, v, by[f]))
        assert {f for f, v in by.items() if v} <= fams, (w["name"], by)
        checked.append(w["name"])
    assert not bad, bad
    assert {"gemm_fp32_square", "sdpa_flash_causal", "conv2d_3x3", "transformer_train", "decode_kv_cache"} <= set(checked)


def test_attention_recompute_and_op(capture):
    """SDPA on CPU runs the flash-for-CPU op; the backward's QK^T recompute is reported separately."""
    _, manifest, analyses = capture
    for w in _ok(manifest):
        if w["group"] != "sdpa":
            continue
        ops = analyses[w["name"]].ops
        att = ops[(ops["family"] == "attention") & (ops["flops"] > 0)]
        assert set(att["name"]) == {"aten::_scaled_dot_product_flash_attention_for_cpu",
                                    "aten::_scaled_dot_product_flash_attention_for_cpu_backward"}, w["name"]
        assert float(np.nansum(att["recompute_flops"].to_numpy(float))) == w["expected"]["recompute_flops"]


def test_causal_alignment_is_top_left(capture):
    """The backend that ran Lq != Lk causal attention matched an explicit top-left mask (what the hand
    formula and traceflops assume), not bottom-right."""
    _, manifest, _ = capture
    chk = [w["checks"]["causal_alignment"] for w in _ok(manifest) if "causal_alignment" in w.get("checks", {})]
    assert chk
    for c in chk:
        assert c["matches"] == "top_left" and c["top_left_max_abs_err"] < 1e-4 < c["bottom_right_max_abs_err"]


def test_pointwise_bytes_equal_hand_formulas(capture):
    _, manifest, analyses = capture
    for w in _ok(manifest):
        if w["group"] != "pointwise":
            continue
        ops = analyses[w["name"]].ops
        got = float(np.nansum(ops["bytes"].to_numpy(float)))
        assert got == w["expected"]["bytes"], (w["name"], got, w["expected"]["bytes"])


# ------------------------------------------------------------------------------------- GPU ground truth
def _gpu_reference():
    fix = GPU_DIR / "ncu_reference.json"
    man = GPU_DIR / "manifest.json"
    if not fix.exists() or not man.exists():
        pytest.skip("no GPU reference captured yet (sample_traces/gpu/ncu_reference.json + manifest.json); "
                    "see docs/ground-truth.md")
    ref = json.loads(fix.read_text())
    if ref.get("status") != "ok":
        pytest.skip(f"GPU reference has no ncu counters (status={ref.get('status')}); timings only")
    return ref, json.loads(man.read_text())


def _trace_kernels(workload, regex, cache={}):
    path = GPU_DIR / f"{workload}.json.gz"
    if not path.exists():
        pytest.skip(f"no GPU trace {path.name} committed")
    if workload not in cache:
        cache[workload] = analyze(path)
    k = cache[workload].kernels
    pat = re.compile(regex.removeprefix("regex:"))
    return k[k["name"].astype(str).map(lambda n: bool(pat.search(n))) & (k["kind"] == "kernel")]


def test_gpu_flops_match_ncu():
    """Per kernel: ncu tensor-pipe (bf16) or FFMA (fp32) FLOPs vs traceflops' kernel FLOPs. GEMMs exact up to
    tile padding (ncu may count padded tiles, never fewer); causal flash also computes the masked half of the
    diagonal tiles."""
    ref, _ = _gpu_reference()
    rows = [r for r in ref["kernels"] if r.get("flops")]
    assert rows, "fixture has no kernel with FLOP counters"
    bad = []
    for r in rows:
        k = _trace_kernels(r["workload"], r["regex"])
        tf = k["flops"].dropna()
        assert len(tf), f"{r['workload']}: no kernel matching {r['regex']} with FLOPs in the trace"
        ratio = r["flops"] / float(tf.median())
        hi = 1.10 if r["workload"] == "sdpa_flash_causal" else 1.02
        if not 0.999 <= ratio <= hi:
            bad.append((r["tag"], r["name"], r["flops"], float(tf.median()), ratio))
    assert not bad, bad


def test_gpu_bytes_match_ncu_dram_for_memory_bound():
    ref, _ = _gpu_reference()
    rows = [r for r in ref["kernels"] if r["kind"] == "memory" and r.get("dram_bytes")]
    assert rows, "fixture has no memory-bound kernel with DRAM counters"
    bad = []
    for r in rows:
        k = _trace_kernels(r["workload"], r["regex"])
        tb = k["bytes"].dropna()
        assert len(tb), f"{r['workload']}: no kernel matching {r['regex']} with bytes in the trace"
        ratio = float(tb.median()) / r["dram_bytes"]
        if abs(ratio - 1) > 0.20:
            bad.append((r["tag"], r["name"], r["dram_bytes"], float(tb.median()), ratio))
    assert not bad, bad


def test_gpu_traces_flops_equal_hand_formulas():
    """The committed GPU traces against the hand formulas in their own manifest (no counters needed)."""
    man = GPU_DIR / "manifest.json"
    if not man.exists():
        pytest.skip("no GPU reference captured yet (sample_traces/gpu/manifest.json); see docs/ground-truth.md")
    manifest = json.loads(man.read_text())
    bad, checked = [], 0
    for w in _ok(manifest):
        if "flops" not in w["expected"] or not (GPU_DIR / w["trace"]).exists():
            continue
        a = analyze(GPU_DIR / w["trace"])
        assert a.trace.meta.get("traceflops_capture", {}).get("workload") == w["name"]
        by = _family_flops(a, FLOP_FAMILIES)
        if sum(by.values()) != w["expected"]["flops"]:
            bad.append((w["name"], w["expected"]["flops"], by))
        checked += 1
    assert checked, "manifest lists no GPU trace with expected FLOPs"
    assert not bad, bad

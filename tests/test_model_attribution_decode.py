"""The shared serving traces with their configs: CUDA/HIP-graph decode steps whose kernels record no shapes.

Before --model 1-5% of their GPU time has FLOPs or bytes; with it >= 80% (issue 20), the kernels' FLOPs add up to
the step's analytic FLOPs, and summary.json carries the per-step MFU and MBU. The vLLM piecewise pair: without
--capture (model) against with it (the capture trace's shapes)."""
import gzip
import json

import numpy as np
import pytest

from traceflops import analyze

from .conftest import SHARED, needs_shared

MODELS = __import__("pathlib").Path(__file__).parent / "data" / "models"
LLAMA8B, Q30B, Q8B, OSS = ("deepseek-ai__DeepSeek-R1-Distill-Llama-8B.json", "Qwen__Qwen3-30B-A3B.json",
                           "Qwen__Qwen3-8B.json", "openai__gpt-oss-20b.json")
DECODE = [  # the deepseek_r1__* traces are a 32-layer Llama-3-8B-shaped model (docs/serving.md), not DeepSeek-R1
    ("deepseek_r1__B300__1782843274.7730265-TP-0-DECODE.trace.json.gz", LLAMA8B),
    ("deepseek_r1__MI300__1782841132.2905657-TP-0-DECODE.trace.json.gz", LLAMA8B),
    ("qwen3_30b_a3b__B300__1782799835.6885648-TP-0-DECODE.trace.json.gz", Q30B),
    ("qwen3_30b_a3b__MI300__1782859605.7198358-TP-0-DECODE.trace.json.gz", Q30B),
    ("inference__sglang_decode__sglang_Qwen3-8B_decode.json.gz", Q8B),
    ("inference__vllm_decode_full__graph_execution.json.gz", OSS),
    ("inference__vllm_prefilldecode_piecewise__graph_execution.json.gz", OSS),
]
PIECEWISE = "inference__vllm_prefilldecode_piecewise__graph_execution.json.gz"
CAPTURE = "inference__vllm_prefilldecode_piecewise__capture_traces__graph_capture_rank_0.1773709679453551615.pt.trace.json.gz"


def _costed_share(k):
    d = k["dur_us"].to_numpy(float)
    ok = (k["flops"].fillna(0).to_numpy() > 0) | k["bytes"].notna().to_numpy()
    return d[ok].sum() / d.sum()


@needs_shared
@pytest.mark.parametrize("trace,config", DECODE, ids=[t.split("__")[0] + "_" + t.split("__")[1][:5] for t, _ in DECODE])
def test_decode_steps_costed_from_the_model(trace, config):
    path = SHARED / "tracelens" / trace
    before = analyze(path).kernels
    a = analyze(path, model=MODELS / config)
    k = a.kernels
    assert _costed_share(before) < 0.05 and _costed_share(k) >= 0.80
    info = a.summary["model_attribution"]
    assert info["windows"] == info["windows_attributed"] == 1 and info["forwards"] == 1
    assert not any("does not fit" in r or "GEMM kernels" in r for r in info["reasons"])  # no rejected alignment
    # the kernels' FLOPs are the step's analytic FLOPs, component by component
    step = k["serving_step"] == 0
    assert np.nansum(k.loc[step, "flops"]) == pytest.approx(a.steps.loc[0, "model_flops"], rel=1e-3)
    per = a.summary["serving"]["per_step"][0]
    assert 0 < per["mfu"] < 1 and 0 < per["mbu"] < 1
    assert a.summary["serving"]["model"]["check"]["warning"] is None  # the config matches the trace's layers


def _padded_expert_dims(capture):
    """The MXFP4 expert weight views the capture trace records ([E, K/2 bytes, N] uint8): vLLM's ROCm path
    pads them, so the capture's FLOPs of the expert GEMMs are over padded K and N."""
    with gzip.open(capture, "rt") as f:
        ev = json.load(f)["traceEvents"]
    dims = {tuple(e["args"]["Input Dims"][0]) for e in ev if e.get("name") == "aten::view"
            and (e.get("args", {}).get("Input type") or [None])[0] == "unsigned char"
            and len((e["args"].get("Input Dims") or [[]])[0]) == 3}
    return sorted((2 * kk, n) for _, kk, n in dims)  # [(K, N)] of down and gate_up


@needs_shared
def test_piecewise_pair_model_against_capture():
    path, capture = SHARED / "tracelens" / PIECEWISE, SHARED / "tracelens" / CAPTURE
    cap = analyze(path, capture=capture).kernels
    mod = analyze(path, model=MODELS / OSS).kernels
    rep = cap["graph_match"].notna().to_numpy()
    assert rep.sum() == 361
    f0, f1 = cap["flops"].to_numpy()[rep], mod["flops"].to_numpy()[rep]
    b0, b1 = cap["bytes"].to_numpy()[rep], mod["bytes"].to_numpy()[rep]
    assert np.nansum(b1) == pytest.approx(np.nansum(b0), rel=0.05)
    experts = mod["model_component"].fillna("").str.contains("experts").to_numpy()[rep]
    assert experts.sum() == 48
    # the other GEMMs: the FLOPs the capture's shapes give; norms and RoPE: their bytes (the model counts no FLOPs
    # for them, the op formulas a few per element: 0.016% of the step's FLOPs)
    gemm = (cap["family"] == "gemm").to_numpy()[rep] & ~experts
    assert gemm.sum() == 72 and np.nansum(f1[gemm]) == pytest.approx(np.nansum(f0[gemm]), rel=1e-9)
    moves = mod["model_component"].fillna("").str.match(r"(add\+)?norm|rope").to_numpy()[rep]
    assert moves.sum() == 73 and np.nansum(b1[moves]) == pytest.approx(np.nansum(b0[moves]), rel=0.01)
    # the expert GEMMs: the model's K and N (2880, 5760 / 2880, 2880) against the padded ones the capture records
    (k_down, n_down), (k_up, n_up) = _padded_expert_dims(capture)
    assert (k_down, n_down, k_up, n_up) == (2944, 3072, 3072, 5888)
    up = mod["model_component"].fillna("").str.contains("experts_gate_up").to_numpy()[rep]
    assert np.nansum(f1[up]) / np.nansum(f0[up]) == pytest.approx(2880 * 5760 / (k_up * n_up), rel=1e-6)
    down = experts & ~up
    assert np.nansum(f1[down]) / np.nansum(f0[down]) == pytest.approx(2880 * 2880 / (k_down * n_down), rel=1e-6)


@needs_shared
def test_a_config_that_does_not_match_costs_nothing():
    """The published DeepSeek-R1 config (61 layers, MLA, MoE) on the 32-layer deepseek_r1__* trace: no kernel is
    placed, and each says why."""
    a = analyze(SHARED / "tracelens" / DECODE[0][0], model=MODELS / "deepseek-ai__DeepSeek-R1.json")
    k = a.kernels
    assert not (k["link"] == "model").any() and a.summary["model_attribution"]["kernels_attributed"] == 0
    gemm = k[k["category"] == "gemm"]
    assert gemm["flops_reason"].str.contains("32 attention kernels in the window, not a multiple of the config's 61 "
                                             "layers").all()

"""Prefill vs decode from engine annotations, with per-phase MFU rows."""
import json

from traceflops import analyze
from traceflops.metrics.phases import phase_of_annotation, phase_requests

from .conftest import SAMPLES


def test_annotation_names():
    assert phase_of_annotation("step[EXTEND bs=15 toks=15360]") == "prefill"
    assert phase_of_annotation("step[DECODE bs=16]") == "decode"
    assert phase_of_annotation("execute_16_context_0(sq0sk0sqsq0sqsk0)_generation_16(sq16sk8209sqsq16sqsk8209)") == "decode"
    assert phase_of_annotation("execute_20_context_4(sq4000sk4000)_generation_16(sq16sk9)") == "mixed"
    assert phase_of_annotation("my_region") is None
    assert phase_requests(["execute_20_context_4(sq4000sk4000sqsq1sqsk1)_generation_16(sq16sk9sqsq1sqsk1)"]) == {
        "prefill_requests": 4, "prefill_tokens": 4000, "decode_requests": 16, "decode_tokens": 16}


def test_sglang_trace_states_its_phases():
    a = analyze(SAMPLES / "inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz")
    m = a.summary["mfu"]
    assert [r["phase"] for r in m["per_phase"]] == ["prefill"]
    assert m["phase_requests"] == {"prefill_requests": 15, "prefill_tokens": 15360, "decode_requests": 0, "decode_tokens": 0}
    assert m["per_phase"][0]["flops"] > 0


def test_two_steps_two_phases(tmp_path):
    ev = []
    for i, (label, t0) in enumerate([("step[EXTEND bs=1 toks=128]", 0), ("step[DECODE bs=1]", 1000)]):
        corr = 10 + i
        ev += [{"ph": "X", "cat": "user_annotation", "name": label, "pid": 1, "tid": 1, "ts": t0, "dur": 500},
               {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": t0 + 10, "dur": 50,
                "args": {"Input Dims": [[128 if i == 0 else 1, 64], [64, 64]], "Input type": ["c10::BFloat16"] * 2}},
               {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": t0 + 20, "dur": 5,
                "args": {"correlation": corr}},
               {"ph": "X", "cat": "kernel", "name": "gemm", "pid": 0, "tid": 7, "ts": t0 + 100, "dur": 10,
                "args": {"correlation": corr, "device": 0, "stream": 7}}]
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"traceEvents": ev}))
    a = analyze(p)
    assert list(a.kernels["phase"]) == ["prefill", "decode"]
    rows = {r["phase"]: r for r in a.summary["mfu"]["per_phase"]}
    assert rows["prefill"]["flops"] == 2 * 128 * 64 * 64 and rows["decode"]["flops"] == 2 * 1 * 64 * 64


def test_query_length_decides_without_annotations():
    import pandas as pd

    from traceflops.metrics.phases import kernel_phases
    k = pd.DataFrame({
        "annotation": [None, None, None, None],
        "op": ["aten::_scaled_dot_product_flash_attention", "aten::mm", "aten::_scaled_dot_product_flash_attention", None],
        "input_dims": ["[[1,8,1,64],[1,8,100,64],[1,8,100,64]]", "[[1,64],[64,64]]",
                       "[[1,8,100,64],[1,8,100,64],[1,8,100,64]]", None],
        "shapes": [[[1, 8, 1, 64], [1, 8, 100, 64], [1, 8, 100, 64]], [[1, 64], [64, 64]],
                   [[1, 8, 100, 64], [1, 8, 100, 64], [1, 8, 100, 64]], None],
        "step": pd.array([1, 1, 2, pd.NA], dtype="Int64"), "op_row": [-1, -1, -1, -1]})
    # query length 1 is decode, the GEMM in the same step follows it; step 2's attention has 100 queries
    assert list(kernel_phases(k, pd.DataFrame())) == ["decode", "decode", "prefill", None]

"""The serving steps table: roots, nested annotations, GPU-side copies, kernels by launch or by GPU time, GPU time
per step; steps.parquet and the summary block; the shared serving traces."""
import json

import numpy as np
import pandas as pd
import pytest

from traceflops import analyze
from traceflops.outputs import schema

from .conftest import SAMPLES, SHARED, needs_shared

PREFILL = "execute_100_context_1(sq100sk100sqsq10000sqsk10000)_generation_0(sq0sk0sqsq0sqsk0)"
DECODE = "execute_context_0(0)_generation_2(2)"


def _ann(name, ts, dur, ext, tid=1, cat="user_annotation", pid=1):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur,
            "args": {"External id": ext}}


def _launch(ts, corr, name="cudaLaunchKernel"):
    return {"ph": "X", "cat": "cuda_runtime", "name": name, "pid": 1, "tid": 1, "ts": ts, "dur": 2,
            "args": {"correlation": corr}}


def _kernel(ts, dur, corr, stream=7, name="k"):
    return {"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": stream, "ts": ts, "dur": dur,
            "args": {"correlation": corr, "device": 0, "stream": stream}}


def _write(tmp_path, ev):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"traceEvents": ev}))
    return p


def serving_trace(tmp_path):
    ev = [
        # step 0: TraceLens' vLLM-style root with SGLang's own label nested inside it
        _ann(PREFILL, 0, 100, 5), _ann("step[EXTEND bs=1 toks=100]", 10, 50, 6),
        _launch(20, 1), _launch(30, 2, "cudaGraphLaunch"),
        _kernel(200, 10, 1), _kernel(215, 10, 2, 7), _kernel(220, 10, 2, 8),  # the replay runs on two streams
        _kernel(240, 5, 99),  # no launch call in the trace: placed by GPU time inside the step's GPU copy
        # the GPU-side copy of the root, once per stream that ran kernels inside it
        _ann(PREFILL, 190, 60, 5, tid=7, cat="gpu_user_annotation", pid=0),
        _ann(PREFILL, 195, 60, 5, tid=8, cat="gpu_user_annotation", pid=0),
        _launch(500, 4), _kernel(600, 5, 4),  # launched between the steps: in no step
        _ann(DECODE, 1000, 100, 7), _launch(1010, 3), _kernel(1200, 20, 3),
    ]
    for e in ev:
        if e["cat"] == "gpu_user_annotation":
            e["args"]["device"] = 0
    return _write(tmp_path, ev)


def test_steps_from_roots_copies_and_launches(tmp_path):
    a = analyze(serving_trace(tmp_path))
    t = a.steps
    assert list(t.columns) == [f.name for f in schema.STEPS]
    assert len(t) == 2  # two GPU copies and a nested label are not extra steps
    s0, s1 = t.iloc[0], t.iloc[1]
    assert (s0["format"], s0["mode"], s0["phase"], s0["nested"]) == ("vllm_detailed", "EXTEND", "prefill",
                                                                      "step[EXTEND bs=1 toks=100]")
    assert (s0["kernels"], s0["kernels_by_gpu_time"]) == (4, 1)
    assert s0["gpu_wall_us"] == pytest.approx(45.0)  # 200 .. 245
    assert s0["gpu_busy_us"] == pytest.approx(10 + 15 + 5)  # [200,210] + [215,230] + [240,245]
    assert (s0["prefill_tokens"], s0["prefill_context_tokens"], s0["decode_requests"]) == (100, 100, 0)
    assert (s1["format"], s1["phase"], s1["kernels"], s1["decode_tokens"]) == ("vllm_context_generation", "decode", 1, 2)
    by_time = a.kernels.sort_values("ts_us")["serving_step"].tolist()
    assert [None if pd.isna(x) else int(x) for x in by_time] == [0, 0, 0, 0, None, 1]
    s = a.summary["serving"]
    assert (s["steps"], s["kernels_in_steps"], s["kernels_outside_steps"]) == (2, 5, 1)
    assert (s["prefill_tokens"], s["decode_tokens"], s["phases"]) == (100, 2, {"decode": 1, "prefill": 1})
    assert s["model"] is None and "mfu" not in s


def test_gpu_only_step_is_one_step_for_all_its_copies(tmp_path):
    ev = [_ann("step[DECODE bs=4]", 100, 50, 9, tid=7, cat="gpu_user_annotation", pid=0),
          _ann("step[DECODE bs=4]", 105, 60, 9, tid=8, cat="gpu_user_annotation", pid=0),
          _kernel(110, 10, None, 7), _kernel(150, 10, None, 8), _kernel(400, 10, None, 7)]
    for e in ev:
        e["args"]["device"] = 0
        if e["args"].get("correlation", 0) is None:
            del e["args"]["correlation"]
    a = analyze(_write(tmp_path, ev))
    t = a.steps
    assert len(t) == 1 and np.isnan(t.iloc[0]["cpu_start_us"])
    assert (t.iloc[0]["kernels"], t.iloc[0]["kernels_by_gpu_time"], t.iloc[0]["decode_requests"]) == (2, 2, 4)
    assert t.iloc[0]["gpu_wall_us"] == pytest.approx(50.0)


def test_no_step_annotations_no_steps_file(tmp_path):
    ev = [_ann("my_region", 0, 100, 1), _launch(10, 1), _kernel(50, 5, 1)]
    a = analyze(_write(tmp_path, ev))
    assert len(a.steps) == 0 and a.summary["serving"] is None
    written = a.write(tmp_path / "o", report=False)
    assert "steps" not in written and not (tmp_path / "o" / "steps.parquet").exists()
    assert a.kernels["serving_step"].isna().all()


def test_steps_parquet_round_trip(tmp_path):
    a = analyze(serving_trace(tmp_path))
    written = a.write(tmp_path / "o", report=False)
    t = pd.read_parquet(written["steps"])
    assert list(t.columns) == [f.name for f in schema.STEPS]
    assert t["prefill_tokens"].tolist() == [100, 0] and t["kernels"].tolist() == [4, 1]
    s = json.loads((tmp_path / "o" / "summary.json").read_text())["serving"]
    assert s["per_step"][0]["prefill_tokens"] == 100  # a count, never "[redacted]"


def test_sglang_sample_prefill_step():
    a = analyze(SAMPLES / "inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz")
    t = a.steps
    assert len(t) == 1
    r = t.iloc[0]
    assert (r["format"], r["mode"], r["phase"], r["prefill_requests"], r["prefill_tokens"]) == \
        ("vllm_detailed", "EXTEND", "prefill", 15, 15360)
    assert (r["prefill_sqsq"], r["prefill_sqsk"]) == (15 * 1024 ** 2, 15 * 1024 ** 2)  # 15 prompts of 1024
    assert r["kernels"] == len(a.kernels)
    busy, reach = 0.0, -np.inf  # the union of the kernels' intervals, walked in start order
    for s, d in sorted(zip(a.kernels["ts_us"], a.kernels["dur_us"])):
        busy += max(0.0, s + d - max(s, reach))
        reach = max(reach, s + d)
    assert r["gpu_busy_us"] == pytest.approx(busy, rel=1e-9)


SHARED_STEPS = {  # trace -> (format, phase, requests, tokens, Σsk)
    "inference__sglang_decode__sglang_Qwen3-8B_decode.json.gz": ("vllm_detailed", "decode", 32, 32, 32785),
    "inference__vllm_decode_full__graph_execution.json.gz": ("vllm_detailed", "decode", 32, 32, 55086),
    "inference__vllm_prefilldecode_piecewise__graph_execution.json.gz": ("vllm_detailed", "mixed", 46, 8192, 8430 + 34489),
    "qwen3_30b_a3b__B300__1782799835.6885648-TP-0-DECODE.trace.json.gz": ("vllm_detailed", "decode", 16, 16, 8193),
    "qwen3_30b_a3b__MI300__1782859605.7198358-TP-0-DECODE.trace.json.gz": ("vllm_detailed", "decode", 16, 16, 8193),
    "deepseek_r1__B300__1782843274.7730265-TP-0-DECODE.trace.json.gz": ("vllm_detailed", "decode", 16, 16, 8209),
    "deepseek_r1__MI300__1782841132.2905657-TP-0-DECODE.trace.json.gz": ("vllm_detailed", "decode", 16, 16, 8209),
}


@needs_shared
@pytest.mark.parametrize("name", sorted(SHARED_STEPS), ids=lambda n: n[:40])
def test_shared_serving_traces(name):
    a = analyze(SHARED / "tracelens" / name)
    fmt, phase, req, tok, ctx = SHARED_STEPS[name]
    t = a.steps
    assert len(t) == 1  # TraceLens' splitter keeps one step per file; its GPU copies are not steps
    r = t.iloc[0]
    assert (r["format"], r["phase"], r["requests"], r["tokens"]) == (fmt, phase, req, tok)
    assert r["prefill_context_tokens"] + r["decode_context_tokens"] == ctx
    # every GPU event of these single-step files was launched inside the step (or ran inside its GPU copy)
    assert r["kernels"] == len(a.kernels) and a.summary["serving"]["kernels_outside_steps"] == 0
    assert 0 < r["gpu_busy_us"] <= r["gpu_wall_us"]
    if "DECODE" in name:  # SGLang 0.5.12: the GPU copies exist and a few kernels carry no launch
        assert r["mode"] == "DECODE" and r["kernels_by_gpu_time"] > 0


@needs_shared
def test_capture_trace_step():
    p = SHARED / "tracelens" / ("inference__vllm_prefilldecode_piecewise__capture_traces__graph_capture_rank_0"
                                ".1773709679453551615.pt.trace.json.gz")
    t = analyze(p).steps
    assert len(t) == 1 and (t.iloc[0]["format"], t.iloc[0]["phase"], t.iloc[0]["tokens"]) == ("vllm_capture", "capture", 8192)

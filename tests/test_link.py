"""Kernel → op link rates on real traces, over GPU activities launched inside the CPU window."""
import pytest

from traceflops.ingest import read_trace
from traceflops.link import link

from .conftest import SHARED, needs_shared

RATES = {
    "tracelens/h100__gaunernst_bert-small-uncased__1016001.json.gz": 1.0,
    "tracelens/mi300__gaunernst_bert-small-uncased__1016001.json.gz": 1.0,
    "tracelens/h100__google_owlv2-large-patch14-ensemble__1016001.json.gz": 1.0,
    "tracelens/mi300__google_owlv2-large-patch14-ensemble__1016001.json.gz": 1.0,
    "tracelens/attention__sdpa_01_long_seq_low_eff__sdpa_01_long_seq_low_eff.json": 1.0,
    "tracelens/attention__sdpa_04_large_head_dim__sdpa_04_large_head_dim.json": 1.0,
    "tracelens/elementwise__elem_01_add_poor_bw__elem_01_add_poor_bw.json": 1.0,
    "tracelens/gemm__gemm_01_compute_few_tiles__gemm_01_compute_few_tiles.json": 1.0,
    "tracelens/gemm__gemm_04_memory_tall_skinny__gemm_04_memory_tall_skinny.json": 1.0,
    "tracelens/moe__moe_01_many_experts_few_tokens__moe_01_many_experts_few_tokens.json.gz": 1.0,
    "tracelens/inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz": 1.0,
    "tracelens/h100__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz": 0.69,
    "tracelens/mi300__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz": 0.69,
    "hta/negative_queue_length_values_check__rank0.json.gz": 0.85,
    "kineto/resnet50_num_workers_0__worker0.pt.trace.json.gz": 0.90,
    "kineto/plugin__samples__resnet50_num_workers_0__worker0.pt.trace.json.gz": 0.90,
    **{f"param/worker{i}_step_12.{ts}.pt.trace.json": 0.79 for i, ts in enumerate(
        ["1694128201545", "1694128201556", "1694128201554", "1694128201557", "1694128201547", "1694128201549",
         "1694128201553", "1694128201553"])},
}


@needs_shared
@pytest.mark.parametrize("rel,floor", sorted(RATES.items()), ids=lambda x: str(x)[:50])
def test_link_rate(rel, floor):
    gpu, ops = link(read_trace(SHARED / rel))
    k = gpu[gpu["kind"] == "kernel"]
    in_window = ~k["link_reason"].fillna("").str.startswith("launched before the profiling window")
    rate = (k.loc[in_window, "link"] != "none").mean()
    assert rate >= floor, f"{rel}: {rate:.1%} < {floor:.0%}"
    # every unlinked kernel says why
    assert k.loc[k["link"] == "none", "link_reason"].notna().all()


@needs_shared
def test_whole_trace_rate_beats_plain_reader_on_qwen():
    gpu, _ = link(read_trace(SHARED / "tracelens/h100__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz"))
    k = gpu[gpu["kind"] == "kernel"]
    assert (k["link"] != "none").mean() >= 0.70  # INVENTORY's plain reader: 70%


def test_graph_launch_owns_many_kernels():
    import json
    import tempfile
    from pathlib import Path
    ev = [{"ph": "X", "cat": "cpu_op", "name": "run_graph", "pid": 1, "tid": 1, "ts": 0, "dur": 100, "args": {"External id": 5}},
          {"ph": "X", "cat": "cuda_runtime", "name": "cudaGraphLaunch", "pid": 1, "tid": 1, "ts": 10, "dur": 5, "args": {"correlation": 42}}]
    ev += [{"ph": "X", "cat": "kernel", "name": f"k{i}", "pid": 0, "tid": 7, "ts": 20 + i, "dur": 1,
            "args": {"correlation": 42, "device": 0, "stream": 7}} for i in range(5)]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "g.json"
        p.write_text(json.dumps({"traceEvents": ev}))
        gpu, ops = link(read_trace(p))
    assert (gpu["link"] == "graph").all()
    assert (ops["name"].to_numpy()[gpu["launch_op_row"].to_numpy()] == "run_graph").all()


def test_innermost_enclosing_op_and_module():
    import json
    import tempfile
    from pathlib import Path
    ev = [
        {"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#3", "pid": 1, "tid": 1, "ts": 0, "dur": 1000},
        {"ph": "X", "cat": "python_function", "name": "nn.Module: Net_0", "pid": 1, "tid": 1, "ts": 1, "dur": 900},
        {"ph": "X", "cat": "python_function", "name": "nn.Module: Linear_0", "pid": 1, "tid": 1, "ts": 5, "dur": 200},
        {"ph": "X", "cat": "cpu_op", "name": "aten::linear", "pid": 1, "tid": 1, "ts": 10, "dur": 100},
        {"ph": "X", "cat": "cpu_op", "name": "aten::addmm", "pid": 1, "tid": 1, "ts": 20, "dur": 50},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 30, "dur": 5, "args": {"correlation": 7}},
        {"ph": "X", "cat": "kernel", "name": "gemm", "pid": 0, "tid": 7, "ts": 40, "dur": 10, "args": {"correlation": 7, "device": 0, "stream": 7}},
    ]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.json"
        p.write_text(json.dumps({"traceEvents": ev}))
        gpu, ops = link(read_trace(p))
    assert ops["name"][gpu["launch_op_row"][0]] == "aten::addmm"
    assert gpu["module"][0] == "Net_0.Linear_0"
    assert gpu["step"][0] == 3
    assert gpu["link"][0] == "correlation"

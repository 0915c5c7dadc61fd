"""Kernel → op link rates on real traces, over GPU activities launched inside the CPU window; the window
exclusion itself checked against the raw events."""
import gzip
import json

import pytest

from traceflops.ingest import read_trace
from traceflops.ingest.tables import LAUNCH_CATS, OP_CATS
from traceflops.link import link

from .conftest import SHARED, needs_shared

EARLY = "launched before the profiling window"
PARAM = ["1694128201545", "1694128201556", "1694128201554", "1694128201557", "1694128201547", "1694128201549",
         "1694128201553", "1694128201553"]
# Kernels linked to an op among those launched inside the window, measured with the code of the stage-package
# tree (linked / in window): 100% everywhere but the two resnet50 traces (8700/8802, 8754/8856). The floors sit
# half a point under: a change that loses links fails here.
MEASURED = {
    "hta/amd_trace__mi250_minitoy_train_ROCm6_2_kineto.json.gz": 1.0,
    "hta/critical_path__alexnet__benchmark_result_2869224_1695835535_trace.json.gz": 1.0,
    "hta/df_index_resolver__df_index_resolver.json.gz": 1.0,
    "hta/nccl_parser_config__nccl_data.json.gz": 1.0,
    "hta/negative_queue_length_values_check__rank0.json.gz": 1.0,
    "hta/ns_resolution_trace__rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz": 1.0,
    "hta/trace_filter__sampled_rank-0.json.gz": 1.0,
    "hta/trace_filter__sampled_rank-1.json.gz": 1.0,
    "hta/with_gpu_user_annotation__step_based_trace_2543932.json.gz": 1.0,
    "kineto/resnet50_num_workers_0__worker0.pt.trace.json.gz": 8754 / 8856,
    "kineto/plugin__samples__resnet50_num_workers_0__worker0.pt.trace.json.gz": 8700 / 8802,
    "param/linear_kineto.json.gz": 1.0,
    **{f"param/worker{i}_step_12.{ts}.pt.trace.json": 1.0 for i, ts in enumerate(PARAM)},
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
    "tracelens/inference__sglang_decode__sglang_Qwen3-8B_decode.json.gz": 1.0,
    "tracelens/inference__vllm_decode_full__graph_execution.json.gz": 1.0,
    "tracelens/inference__vllm_prefilldecode_piecewise__graph_execution.json.gz": 1.0,
    "tracelens/inference__xdit_flux_aiter__profile_trace_rank_0.json.gz": 1.0,
    "tracelens/h100__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz": 1.0,
    "tracelens/mi300__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz": 1.0,
    "tracelens/mi300__ddp_resnet18_no_pool__train_resnet18.json.gz": 1.0,
    "tracelens/perf_model__normalization__normalization_layer_test.json.gz": 1.0,
    "tracelens/deepseek_r1__B300__1782843274.7730265-TP-0-DECODE.trace.json.gz": 1.0,
    "tracelens/qwen3_30b_a3b__MI300__1782859605.7198358-TP-0-DECODE.trace.json.gz": 1.0,
}
MARGIN = 0.005
# Kernels the tool leaves out of the denominator (no launch call in the trace, issued before the CPU window),
# as measured; more of them would quietly raise the rate above.
EXCLUDED = {
    "hta/negative_queue_length_values_check__rank0.json.gz": 705,
    "kineto/resnet50_num_workers_0__worker0.pt.trace.json.gz": 708,
    "kineto/plugin__samples__resnet50_num_workers_0__worker0.pt.trace.json.gz": 736,
    f"param/worker1_step_12.{PARAM[1]}.pt.trace.json": 64,
    f"param/worker3_step_12.{PARAM[3]}.pt.trace.json": 64,
    "tracelens/h100__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz": 436,
    "tracelens/mi300__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz": 463,
}


def _kernels(rel):
    gpu, _ = link(read_trace(SHARED / rel))
    return gpu[gpu["kind"] == "kernel"]


@needs_shared
@pytest.mark.parametrize("rel", sorted(MEASURED), ids=lambda x: str(x)[:50])
def test_link_rate(rel):
    k = _kernels(rel)
    early = k["link_reason"].fillna("").str.startswith(EARLY)
    rate = (k.loc[~early, "link"] != "none").mean()
    floor = MEASURED[rel] - MARGIN
    assert rate >= floor, f"{rel}: {rate:.2%} < {floor:.2%}"
    assert int(early.sum()) <= EXCLUDED.get(rel, 0), f"{rel}: {int(early.sum())} kernels left out of the rate"
    # every unlinked kernel says why
    assert k.loc[k["link"] == "none", "link_reason"].notna().all()


def _raw_events(path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        d = json.load(f)
    return d["traceEvents"] if isinstance(d, dict) else d


@needs_shared
@pytest.mark.parametrize("rel", sorted(EXCLUDED), ids=lambda x: str(x)[:50])
def test_window_exclusion_is_what_the_raw_events_say(rel):
    """The kernels left out of the rate have no launch call in the file and were issued before it opened:
    a correlation id below every launch call's, or a start before the first CPU op (the json module alone)."""
    ev = [e for e in _raw_events(SHARED / rel) if isinstance(e, dict) and e.get("ph") == "X"]
    cat = [str(e.get("cat", "")).lower() for e in ev]  # the 2020 format writes "Runtime", "Operator", "Kernel"
    launches = [e["args"]["correlation"] for e, c in zip(ev, cat) if c in LAUNCH_CATS
                and isinstance(e.get("args", {}).get("correlation"), int)]
    first_launch, launch_ids = min(launches), set(launches)
    first_op = min(float(e["ts"]) for e, c in zip(ev, cat) if c in OP_CATS)
    raw_kernels = {}
    for e, c in zip(ev, cat):
        if c == "kernel":
            raw_kernels.setdefault(e["args"]["correlation"], []).append(float(e["ts"]))
    k = _kernels(rel)
    early = k["link_reason"].fillna("").str.startswith(EARLY)
    assert int(early.sum()) == EXCLUDED[rel]
    for corr in k.loc[early, "correlation"].astype("int64"):
        assert corr not in launch_ids
        assert corr < first_launch or min(raw_kernels[corr]) < first_op, corr
    # and none of the kernels kept in the rate looks like that
    for corr in k.loc[~early & k["correlation"].notna(), "correlation"].astype("int64"):
        assert corr in launch_ids or not (corr < first_launch or min(raw_kernels[corr]) < first_op), corr


@needs_shared
def test_whole_trace_rate_beats_plain_reader_on_qwen():
    k = _kernels("tracelens/h100__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz")
    assert (k["link"] != "none").mean() >= 1029 / 1465 - MARGIN  # measured 70.2%; INVENTORY's plain reader: 70%


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

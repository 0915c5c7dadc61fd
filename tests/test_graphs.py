"""Graph replay attribution: eager_align, graph_node_id and capture_align on hand-built traces, and the
shared vLLM piecewise capture/execution pair."""
import json

import numpy as np

from traceflops import analyze

from .conftest import SHARED, needs_shared

GEMM = "ampere_sgemm_128x64_nn"
ADD = "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<float>, std::array<char*, 3ul>)"
M, K, N = 64, 32, 16


def _x(cat, name, ts, dur, pid=1, tid=1, **args):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": 1000.0 + ts, "dur": dur, "args": args}


def _kernel(name, ts, corr, grid=(4, 1, 1), node=None, graph=None):
    a = {"device": 0, "stream": 7, "correlation": corr, "block": [128, 1, 1]}
    if grid is not None:
        a["grid"] = list(grid)
    if node is not None:
        a["graph id"], a["graph node id"] = graph, node
    return _x("kernel", name, ts, 2, pid=0, tid=7, **a)


def _doc(ev):
    return {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}],
            "baseTimeNanoseconds": 1700000000000000000, "traceEvents": ev}


def _eager(t0, c0):
    mm = {"Input Dims": [[M, K], [K, N]], "Input type": ["float", "float"]}
    add = {"Input Dims": [[M, N], [M, N]], "Input type": ["float", "float"]}
    return [
        _x("cpu_op", "aten::mm", t0, 4, **mm), _x("cuda_runtime", "cudaLaunchKernel", t0 + 1, 1, correlation=c0),
        _x("cpu_op", "aten::add", t0 + 5, 4, **add), _x("cuda_runtime", "cudaLaunchKernel", t0 + 6, 1, correlation=c0 + 1),
        _kernel(GEMM, t0 + 10, c0), _kernel(ADD, t0 + 13, c0 + 1),
    ]


def _replay(t0, corr, grid=(4, 1, 1), nodes=None, order=(GEMM, ADD)):
    ev = [_x("cpu_op", "model_runner::replay", t0, 5), _x("cuda_runtime", "cudaGraphLaunch", t0 + 1, 2, correlation=corr)]
    for i, nm in enumerate(order):
        ev.append(_kernel(nm, t0 + 10 + 3 * i, corr, grid=grid, node=None if nodes is None else nodes[i], graph=5))
    return ev


def test_eager_align_gives_each_replay_full_flops(tmp_path):
    p = tmp_path / "eager.json"
    p.write_text(json.dumps(_doc(_eager(0, 10) + _replay(50, 20) + _replay(100, 21))))
    a = analyze(p)
    k = a.kernels
    rep = k[k["correlation"].isin([20, 21])]
    assert len(rep) == 4
    assert (rep["graph_match"] == "eager_align").all()
    assert (rep["graph_confidence"] == 1.0).all()
    assert (rep["link"] == "graph").all()
    g = rep[rep["name"] == GEMM]
    assert list(g["flops"]) == [2 * M * K * N] * 2  # per replay, not divided between replays
    assert (g["op"] == "aten::mm").all()
    assert (g["flops_source"].str.startswith("graph:")).all()
    assert g["flops_reason"].isna().all()
    assert g["input_dims"].iloc[0] == json.dumps([[M, K], [K, N]]).replace(" ", "")
    ad = rep[rep["name"] == ADD]
    assert (ad["op"] == "aten::add").all() and (ad["bytes"] > 0).all()
    assert a.summary["graphs"]["rate_op_and_cost"] == 1.0


def test_eager_align_rejects_other_grid(tmp_path):
    p = tmp_path / "eager_bad.json"
    p.write_text(json.dumps(_doc(_eager(0, 10) + _replay(50, 20, grid=(99, 1, 1)))))
    k = analyze(p).kernels
    rep = k[k["correlation"] == 20]
    assert rep["graph_match"].isna().all()
    assert rep["flops"].isna().all()


def test_graph_node_id_spreads_a_match(tmp_path):
    # replay 2 runs its nodes in another order (alignment fails) but carries the same node ids
    ev = _eager(0, 10) + _replay(50, 20, nodes=[1, 2]) + _replay(100, 21, nodes=[2, 1], order=(ADD, GEMM))
    p = tmp_path / "nodes.json"
    p.write_text(json.dumps(_doc(ev)))
    k = analyze(p).kernels
    r1, r2 = k[k["correlation"] == 20], k[k["correlation"] == 21]
    assert (r1["graph_match"] == "eager_align").all()
    assert (r2["graph_match"] == "graph_node_id").all() and (r2["graph_confidence"] == 1.0).all()
    g2, a2 = r2[r2["name"] == GEMM], r2[r2["name"] == ADD]
    assert list(g2["flops"]) == [2 * M * K * N] and list(g2["op"]) == ["aten::mm"]
    assert list(a2["flops"]) == [M * N] and list(a2["op"]) == ["aten::add"]
    assert list(r2["graph_node_id"]) == [2, 1]
    # the node ids are what matched it: the same reordered replay without them stays uncosted
    p.write_text(json.dumps(_doc(_eager(0, 10) + _replay(50, 20) + _replay(100, 21, order=(ADD, GEMM)))))
    k0 = analyze(p).kernels
    assert k0.loc[k0["correlation"] == 21, "graph_match"].isna().all()
    assert k0.loc[k0["correlation"] == 21, "flops"].isna().all()


def test_capture_align(tmp_path):
    """Capture trace (ROCm style: kernel/grid/block on launch calls, no GPU activity) + execution trace."""
    mm = {"Input Dims": [[M, K], [K, N]], "Input type": ["c10::BFloat16", "c10::BFloat16"]}
    launch = lambda ts, corr, name, grid: _x("cuda_runtime", "hipLaunchKernel", ts, 1, correlation=corr, kernel=name,
                                             grid=list(grid), block=[256, 1, 1])
    cap = [_x("cuda_runtime", "hipStreamBeginCapture", 0, 1, correlation=1),
           _x("cpu_op", "aten::mm", 2, 4, **mm), launch(3, 2, "Cijk_gemm", (8, 1, 1)),
           _x("cpu_op", "aten::mm", 8, 4, **{"Input Dims": [[2 * M, K], [K, N]], "Input type": mm["Input type"]}),
           launch(9, 3, "Cijk_gemm", (16, 1, 1)),
           _x("cuda_runtime", "hipStreamEndCapture", 20, 1, correlation=4)]
    cp = tmp_path / "capture.json"
    cp.write_text(json.dumps(_doc(cap)))
    ex = []
    for r in range(3):  # three replays; HIP replays carry no grid/block
        t = 100 + 50 * r
        ex += [_x("cpu_op", "replay", t, 5), _x("cuda_runtime", "hipGraphLaunch", t + 1, 2, correlation=100 + r)]
        ex += [_x("kernel", "Cijk_gemm", t + 10 + 3 * i, 2, pid=0, tid=0, device=0, stream=0, correlation=100 + r)
               for i in range(2)]
    ep = tmp_path / "exec.json"
    ep.write_text(json.dumps(_doc(ex)))
    k = analyze(ep, capture=cp).kernels
    rep = k[k["link"] == "graph"].sort_values("ts_us")
    assert len(rep) == 6
    assert (rep["graph_match"] == "capture_align").all()
    assert list(rep["flops"]) == [2 * M * K * N, 2 * 2 * M * K * N] * 3
    assert (rep["op"] == "aten::mm").all()
    # without the capture trace the same kernels stay without FLOPs
    k0 = analyze(ep).kernels
    assert k0["flops"].isna().all()


CAP = "tracelens/inference__vllm_prefilldecode_piecewise__capture_traces__graph_capture_rank_0.1773709679453551615.pt.trace.json.gz"
EXE = "tracelens/inference__vllm_prefilldecode_piecewise__graph_execution.json.gz"


@needs_shared
def test_vllm_piecewise_capture_pair():
    a = analyze(SHARED / EXE, capture=SHARED / CAP)
    k = a.kernels
    rep = k[k["link"] == "graph"]
    info = a.summary["graphs"]
    assert info["replayed_kernels"] == len(rep) > 300
    assert (rep["graph_match"] == "capture_align").mean() >= 0.9
    assert rep["graph_confidence"].min() > 0.9
    # every replayed GEMM gets 2*M*N*K of the addmm it replays, from that op's own input dims
    mm = rep[rep["op"] == "aten::addmm"]
    assert len(mm) >= 24
    for dims, fl in zip(mm["input_dims"], mm["flops"]):
        _, a_, b_ = json.loads(dims)[:3]
        assert fl == 2 * a_[0] * a_[1] * b_[1]
    assert (mm["flops_source"].str.startswith("graph:")).all()
    # costs reach the summary: more FLOPs than without the capture trace
    a0 = analyze(SHARED / EXE)
    assert a.summary["totals"]["flops"] > a0.summary["totals"]["flops"]
    assert np.isclose(info["with_op_and_cost"] / info["replayed_kernels"], info["rate_op_and_cost"])
    # MoE routing (triton_kernels TopK, SortTokens) gets bytes from its recorded inputs; the expert matmuls of
    # vllm::moe_forward get 2*rows*K*N from the weight views and output allocations recorded next to their
    # launches; what stays uncosted is exactly the finalize (scatter-reduce) kernel
    costed = (rep["flops"].fillna(0) > 0) | (rep["bytes"].fillna(0) > 0)
    assert costed[rep["op"].isin(["TopK", "SortTokens"])].all() and rep["op"].isin(["TopK", "SortTokens"]).sum() == 96
    ogs = rep[rep["name"].str.startswith("_matmul_ogs_")]
    assert len(ogs) == 48 and (ogs["flops_source"] == "graph:launch_shapes").all() and (ogs["op"] == "vllm::moe_forward").all()
    up = ogs["name"].str.endswith("_swiglu")
    assert (ogs.loc[up, "flops"] == 2 * 32768 * (1536 * 2) * 5888).all()  # w13 view [32, 1536, 5888] mxfp4
    assert (ogs.loc[~up, "flops"] == 2 * 32768 * (1472 * 2) * 3072).all()  # w2 view [32, 1472, 3072] mxfp4
    # the finalize (scatter-reduce) kernel has no formula: it carries a time-share of vllm::moe_forward's lower-bound
    # bytes (its recorded hidden states and router logits, issue 18), never FLOPs
    fin = rep["name"] == "_finalize_matmul_scatter_bf16"
    assert fin.sum() == 24 and rep.loc[fin, "flops"].isna().all()
    assert set(rep.loc[~costed, "name"]) == set()
    assert info["with_op_and_cost"] == costed.sum() == len(rep) and info["rate_op_and_cost"] >= 0.9

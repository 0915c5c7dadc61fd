"""Review fixes in traceflops/cost: bounded size expressions, paged attention from the serving step, the op row of
eager-aligned graph replays, capture windows picked per replay, module picking by GPU kernel names."""
import json
import time

import numpy as np
import pytest

from traceflops import analyze
from traceflops.cost.code_eval import evaluate


# ---- code_eval: nothing a crafted expression does may crash or hang ------------------------------------------

@pytest.mark.parametrize("expr", ["2**2**20", "9**9**9**9", "s0**(2**40)", "2**-1", "2.0**3",
                                  "*".join(["2**200"] * 6)])  # the last: an int too large for a float
def test_evaluate_refuses_runaway_powers(expr):
    t = time.perf_counter()
    assert evaluate(expr, {"s0": 3}) is None
    assert time.perf_counter() - t < 0.5


def test_evaluate_still_computes_sizes():
    env = {"s0": 7, "s1": 3, "arg3_1_size[0]": 5}
    assert evaluate("s0**2", env) == 49 and evaluate("s1**3", env) == 27 and evaluate("(-2)**3", env) == -8
    assert evaluate("2**62", env) == 2 ** 62 and evaluate("128*s0*s1", env) == 2688
    assert evaluate("(s0 + 1)//2", env) == 4 and evaluate("max(s0, 3)", env) == 7
    assert evaluate("arg3_1_size[0]", env) == 5 and evaluate("s0/2", env) is None


# ---- paged attention from the serving step -------------------------------------------------------------------

def _x(cat, name, ts, dur, pid=1, tid=1, **args):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": 1000.0 + ts, "dur": dur, "args": args}


S, HQ, HK, D, X, BS, NB = 2, 4, 2, 16, 8, 16, 10
KEY_CACHE, VALUE_CACHE = [NB, HK, D // X, BS, X], [NB, HK, D, BS]  # vLLM's paged layout: heads at 1
STEP = "execute_2_context_0(sq0sk0sqsq0sqsk0)_generation_2(sq2sk40sqsq2sqsk40)"  # two decodes, 40 keys in all


def _paged_trace(tmp_path, op, dims, types):
    ev = [_x("user_annotation", STEP, 0, 100),
          _x("cpu_op", op, 10, 50, **{"Input Dims": dims, "Input type": types}),
          _x("cuda_runtime", "cudaLaunchKernel", 20, 5, correlation=3),
          _x("kernel", "paged_attention_v1_kernel", 30, 10, pid=0, tid=7, correlation=3, device=0, stream=7)]
    p = tmp_path / "paged.json"
    p.write_text(json.dumps({"traceEvents": ev}))
    return p


PAGED = {  # op -> (Input Dims, Input type), positions as registered (kernels/serving.py)
    "_C::paged_attention_v1": (
        [[S, HQ, D], [S, HQ, D], KEY_CACHE, VALUE_CACHE, [], [], [S, 4], [S], [], [], [], [], [], []],
        ["c10::BFloat16"] * 4 + ["Scalar", "Scalar", "int", "int", "Scalar", "Scalar", "", "str", "float", "float"]),
    "aiter::paged_attention_rocm": (
        [[S, HQ, D], [S, HQ, 8], [S, HQ, 8], [S, HQ, 8, D], [S, HQ, D], KEY_CACHE, VALUE_CACHE, [], [], [S, 4], [S],
         [], [], [], [], [], [], [], []],
        ["c10::BFloat16", "float", "float", "c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "c10::BFloat16",
         "Scalar", "Scalar", "int", "int", "Scalar", "Scalar", "", "str", "Scalar", "Scalar", "", "Scalar"]),
}


@pytest.mark.parametrize("op", sorted(PAGED))
def test_paged_attention_costed_from_the_step(tmp_path, op):
    """Paged attention's formula gives no FLOPs (source `formula`): the step annotation's Σsk costs it, and the
    KV read counts the cache's kv heads (axis 1), not its block size (axis -2)."""
    o = analyze(_paged_trace(tmp_path, op, *PAGED[op])).ops.set_index("name").loc[op]
    assert o["flops_source"] == "step_annotation"
    assert o["flops"] == 2 * HQ * (D + D) * 40
    assert o["bytes"] == S * HQ * (D + D) * 2 + 40 * HK * (D + D) * 2


def test_paged_attention_outside_a_step_keeps_no_flops(tmp_path):
    op = "_C::paged_attention_v1"
    p = _paged_trace(tmp_path, op, *PAGED[op])
    doc = json.loads(p.read_text())
    doc["traceEvents"] = doc["traceEvents"][1:]
    p.write_text(json.dumps(doc))
    o = analyze(p).ops.set_index("name").loc[op]
    assert o["flops_source"] == "formula" and np.isnan(o["flops"])


# ---- graph replays -------------------------------------------------------------------------------------------

GEMM = "ampere_sgemm_128x64_nn"
M, K, N = 64, 32, 16


def _doc(ev):
    return {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}],
            "baseTimeNanoseconds": 1700000000000000000, "traceEvents": ev}


def _kernel(name, ts, corr, grid=(4, 1, 1)):
    return _x("kernel", name, ts, 2, pid=0, tid=7, device=0, stream=7, correlation=corr, grid=list(grid),
              block=[128, 1, 1])


def test_eager_aligned_replay_keeps_the_op_row(tmp_path):
    """The reference op of an eager-aligned replay is in this trace: op_row names it (the schema's -1 is for none
    or an op in a capture trace), so the replay's shapes and phase are that op's."""
    mm = {"Input Dims": [[M, K], [K, N]], "Input type": ["float", "float"]}
    ev = [_x("user_annotation", "decode_step", 0, 40),
          _x("cpu_op", "aten::mm", 1, 4, **mm), _x("cuda_runtime", "cudaLaunchKernel", 2, 1, correlation=10),
          _kernel(GEMM, 10, 10),
          _x("cpu_op", "model_runner::replay", 50, 5), _x("cuda_runtime", "cudaGraphLaunch", 51, 2, correlation=20),
          _kernel(GEMM, 60, 20)]
    p = tmp_path / "eager.json"
    p.write_text(json.dumps(_doc(ev)))
    a = analyze(p)
    k = a.kernels
    eager, rep = k[k["correlation"] == 10].iloc[0], k[k["correlation"] == 20].iloc[0]
    assert rep["graph_match"] == "eager_align" and rep["flops"] == 2 * M * K * N
    assert eager["op_row"] >= 0 and rep["op_row"] == eager["op_row"]
    assert a.ops.iloc[rep["op_row"]]["name"] == rep["op"] == "aten::mm"
    assert rep["input_dims"] == eager["input_dims"]


def test_capture_replays_with_one_sequence_take_their_own_windows(tmp_path):
    """Two captures launch the same kernel (other sizes); the HIP replays carry no grid, so both windows align
    equally: the k-th replay takes the k-th capture, also when an earlier replay had the same sequence."""
    bf = ["c10::BFloat16", "c10::BFloat16"]
    launch = lambda ts, corr, grid: _x("cuda_runtime", "hipLaunchKernel", ts, 1, correlation=corr, kernel="Cijk_gemm",
                                       grid=list(grid), block=[256, 1, 1])
    cap = []
    for w, rows in enumerate((M, 2 * M)):
        t = 100 * w
        cap += [_x("cuda_runtime", "hipStreamBeginCapture", t, 1, correlation=10 * w + 1),
                _x("cpu_op", "aten::mm", t + 2, 4, **{"Input Dims": [[rows, K], [K, N]], "Input type": bf}),
                launch(t + 3, 10 * w + 2, (8 * (w + 1), 1, 1)),
                _x("cuda_runtime", "hipStreamEndCapture", t + 20, 1, correlation=10 * w + 3)]
    cp = tmp_path / "capture.json"
    cp.write_text(json.dumps(_doc(cap)))
    ex = []
    for r in range(4):
        t = 100 + 50 * r
        ex += [_x("cpu_op", "replay", t, 5), _x("cuda_runtime", "hipGraphLaunch", t + 1, 2, correlation=100 + r),
               _x("kernel", "Cijk_gemm", t + 10, 2, pid=0, tid=0, device=0, stream=0, correlation=100 + r)]
    ep = tmp_path / "exec.json"
    ep.write_text(json.dumps(_doc(ex)))
    rep = analyze(ep, capture=cp).kernels.sort_values("ts_us")
    assert (rep["graph_match"] == "capture_align").all()
    assert list(rep["flops"]) == [2 * M * K * N, 2 * 2 * M * K * N] * 2
    assert (rep["graph_confidence"] == 0.5).all()  # two windows fit and give different costs


# ---- compiled replays with unique_kernel_names off -----------------------------------------------------------

FX = "f" + "q" * 51
NVJET = "nvjet_tst_128x64_64x4_1x2_h_bz_TNN"
SHARED_NAME = '''# hand-written for traceflops (not generated by torch): unique_kernel_names off, both functions `triton_`
# AOT ID: ['0_inference']
from torch._inductor.async_compile import AsyncCompile
async_compile = AsyncCompile()
triton_poi_fused_a_0 = async_compile.triton('triton_', """
@triton_heuristics.pointwise(size_hints={'x': 1024}, filename=__file__,
    triton_meta={'signature': {'in_ptr0': '*bf16', 'out_ptr0': '*bf16', 'xnumel': 'i32', 'XBLOCK': 'constexpr'}},
    inductor_meta={'kernel_name': 'triton_poi_fused_a_0', 'mutated_arg_names': []})
@triton.jit
def triton_(in_ptr0, out_ptr0, xnumel, XBLOCK : tl.constexpr):
    pass
""", device_str='cuda')
triton_poi_fused_b_1 = async_compile.triton('triton_', """
@triton_heuristics.pointwise(size_hints={'x': 1024}, filename=__file__,
    triton_meta={'signature': {'in_out_ptr0': '*bf16', 'xnumel': 'i32', 'XBLOCK': 'constexpr'}},
    inductor_meta={'kernel_name': 'triton_poi_fused_b_1', 'mutated_arg_names': ['in_out_ptr0']})
@triton.jit
def triton_(in_out_ptr0, xnumel, XBLOCK : tl.constexpr):
    pass
""", device_str='cuda')

def call(args):
    arg0_1, arg1_1 = args
    args.clear()
    assert_size_stride(arg0_1, (512, 64), (64, 1))
    assert_size_stride(arg1_1, (64, 64), (64, 1))
    with torch.cuda._DeviceGuard(0):
        buf0 = empty_strided_cuda((512, 64), (64, 1), torch.bfloat16)
        triton_poi_fused_a_0.run(arg0_1, buf0, 32768, stream=stream0)
        buf1 = empty_strided_cuda((512, 64), (64, 1), torch.bfloat16)
        extern_kernels.mm(buf0, reinterpret_tensor(arg1_1, (64, 64), (1, 64), 0), out=buf1)
        triton_poi_fused_b_1.run(buf1, 32768, stream=stream0)
    return (buf1, )
'''


def test_compiled_replay_picks_its_module_by_gpu_kernel_names(tmp_path):
    """With unique_kernel_names off every Triton GPU kernel is named `triton_` (the @triton.jit function) while
    the launch op keeps the descriptive name: a module found without its FX key (a debug folder's
    output_code.py) must be picked by the names the GPU shows."""
    d = tmp_path / "code"
    d.mkdir()
    (d / "output_code.py").write_text(SHARED_NAME)
    ev = [_x("cpu_op", f"## Call CompiledFxGraph {FX} ##", 0, 30),
          _x("cuda_runtime", "cudaGraphLaunch", 2, 3, correlation=50)]
    ev += [_x("kernel", n, 100 + 10 * i, 5, pid=0, tid=7, device=0, stream=7, correlation=50, grid=[8, 1, 1],
              block=[128, 1, 1]) for i, n in enumerate(["triton_", NVJET, "triton_"])]
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_doc(ev)))
    k = analyze(p, compiled=d).kernels.sort_values("ts_us")
    assert (k["graph_match"] == "compiled_order").all()
    assert k["flops"].tolist()[1] == 2 * 512 * 64 * 64
    assert k["bytes"].tolist() == [2 * 512 * 64 * 2, (512 * 64 + 64 * 64 + 512 * 64) * 2, 2 * 512 * 64 * 2]

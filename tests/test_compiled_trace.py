"""Compiled-code attribution on hand-built GPU traces of the hand-written output module
tests/data/inductor/synthetic_triton_v28plus_static.py: graph calls matched by FX key or by their kernels,
record_shapes on and off, the in-place (in_out_ptr0) bytes, kernel_hash outside a graph call, and cudagraph-tree
replays (from a warm-up costed through the code, and through the module's call order)."""
import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from traceflops import analyze
from traceflops.cli import main

FIXTURE = Path(__file__).parent / "data" / "inductor" / "synthetic_triton_v28plus_static.py"
KEY = "f" + "q" * 51
TEM, PER, POI = "triton_tem_fused_addmm_0", "triton_per_fused_native_layer_norm_relu_1", "triton_poi_fused_gelu_2"
GEMM = "nvjet_tst_128x64_64x4_1x2_h_bz_TNN"
BF = "c10::BFloat16"
# hand counts from the fixture (tests/test_compiled_output_code.py)
EXPECT = {TEM: (2 * 1024 * 512 * 256, (512 + 1024 * 256 + 512 * 256 + 1024 * 512) * 2),
          PER: (None, 2 * 1024 * 512 * 2 + 2 * 512 * 2 + 1024 * 4),
          GEMM: (2 * 1024 * 512 * 512, (1024 * 512 + 512 * 512 + 1024 * 512) * 2),
          POI: (None, 2 * 1024 * 512 * 2)}
SHAPES = {  # what record_shapes=True writes for each launch op
    TEM: ([[512], [1024, 256], [512, 256], [1024, 512], [], [], []], [BF] * 4 + ["Scalar"] * 3, [""] * 4 + ["128", "1", "1"]),
    PER: ([[1024, 512], [512], [512], [1024, 1], [], []], [BF] * 3 + ["float", "Scalar", "Scalar"], [""] * 4 + ["1024", "512"]),
    "aten::mm": ([[1024, 512], [512, 512], [1024, 512]], [BF] * 3, [""] * 3),
    POI: ([[1024, 512], [1024, 512], []], [BF, BF, "Scalar"], ["", "", "524288"]),
}


def _x(cat, name, ts, dur, pid=1, tid=1, **args):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": 1000.0 + ts, "dur": dur, "args": args}


def _kernel(name, ts, corr, dur=5):
    return _x("kernel", name, ts, dur, pid=0, tid=7, device=0, stream=7, correlation=corr, grid=[8, 1, 1],
              block=[128, 1, 1])


def _call(t0, c0, shapes=False, key=KEY, hashes=None):
    """One eager execution of the module: its launch ops inside the graph annotation, and their kernels."""
    ev = [_x("user_annotation" if shapes else "cpu_op", f"## Call CompiledFxGraph {key} ##", t0, 60)]
    gpu = []
    for i, (op, kern) in enumerate([(TEM, TEM), (PER, PER), ("aten::mm", GEMM), (POI, POI)]):
        args = {}
        if shapes:
            d, t, c = SHAPES[op]
            args = {"Input Dims": d, "Input type": t, "Concrete Inputs": c}
        if hashes and op in hashes:
            args["kernel_hash"] = hashes[op]
        ev.append(_x("cpu_op", op, t0 + 2 + 10 * i, 8, **args))
        launch = "cudaLaunchKernel" if op.startswith("aten") else "cuLaunchKernelEx"
        ev.append(_x("cuda_runtime" if op.startswith("aten") else "cuda_driver", launch, t0 + 3 + 10 * i, 2,
                     correlation=c0 + i))
        gpu.append(_kernel(kern, t0 + 100 + 10 * i, c0 + i))
    return ev + gpu


def _replay(t0, corr):
    ev = [_x("cpu_op", f"## Call CompiledFxGraph {KEY} ##", t0, 30),
          _x("cuda_runtime", "cudaGraphLaunch", t0 + 2, 3, correlation=corr)]
    return ev + [_kernel(n, t0 + 100 + 10 * i, corr) for i, n in enumerate([TEM, PER, GEMM, POI])]


def _write(tmp_path, events, name="t.json"):
    p = tmp_path / name
    p.write_text(json.dumps({"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}],
                             "traceEvents": events}))
    return p


def _code(tmp_path, name=f"{KEY}.py"):
    d = tmp_path / "code"
    d.mkdir(exist_ok=True)
    shutil.copy(FIXTURE, d / name)
    return d


def _check(k, names=(TEM, PER, GEMM, POI)):
    for n in names:
        row = k[k["name"] == n]
        assert len(row), n
        fl, by = EXPECT[n]
        assert (row["bytes"] == by).all(), (n, row["bytes"].tolist(), by)
        if fl is None:
            assert row["flops"].isna().all(), n
        else:
            assert (row["flops"] == fl).all(), n


def test_no_shapes_costed_from_the_output_code(tmp_path):
    """record_shapes=False: the launch ops record nothing; every kernel of the call is costed from the code."""
    trace = _write(tmp_path, _call(0, 1))
    before = analyze(trace)
    assert before.summary["compiled"]["costed_time_share"] == 0.0 and before.summary["compiled"]["path"] is None
    a = analyze(trace, compiled=_code(tmp_path))
    _check(a.kernels)
    c = a.summary["compiled"]
    assert c["graph_calls"] == c["graph_calls_matched"] == 1 and c["by"] == {"output_code": 4}
    assert c["costed_time_share"] == 1.0 and c["time_share_by_method"] == {"output_code": 1.0}
    ops = a.ops.set_index("name")
    assert ops.loc[TEM, "flops_source"] == "compiled" and ops.loc["aten::mm", "flops_source"] == "compiled"
    assert a.kernels.loc[a.kernels["name"] == TEM, "family"].iloc[0] == "gemm"


def test_in_place_argument_read_and_written(tmp_path):
    """record_shapes=True: without the code the in_out_ptr0 buffer is counted once (the trace cannot say which
    argument is in place); with it, read and written. The extern mm keeps its recorded-shape formula."""
    trace = _write(tmp_path, _call(0, 1, shapes=True))
    k0 = analyze(trace).kernels
    per0 = k0.loc[k0["name"] == PER, "bytes"].iloc[0]
    assert per0 == (1024 * 512 + 2 * 512) * 2 + 1024 * 4  # each argument once: the in-place write is missing
    a = analyze(trace, compiled=_code(tmp_path))
    _check(a.kernels)
    assert a.ops.set_index("name").loc["aten::mm", "flops_source"] == "formula"
    assert a.summary["compiled"]["by"] == {"output_code": 3}


def test_module_found_by_its_kernels_without_a_key(tmp_path):
    """A TORCH_COMPILE_DEBUG folder names no FX key: the call is matched by the kernels it launches; a call
    whose kernels no module defines is left alone."""
    d = _code(tmp_path, "output_code.py")
    a = analyze(_write(tmp_path, _call(0, 1)), compiled=d)
    _check(a.kernels)
    other = [e for e in _call(0, 1)]
    for e in other:
        if e["name"] == POI:
            e["name"] = "triton_poi_fused_gelu_9"
    k = analyze(_write(tmp_path, other, "o.json"), compiled=d).kernels
    assert k["bytes"].isna().all()


def test_kernel_hash_outside_a_graph_call(tmp_path):
    """torch < 2.9 has no graph annotation: a launch whose kernel_hash names a kernel under the folder takes its
    roles over the recorded shapes."""
    from traceflops.cost.output_code import OutputCode
    kd = OutputCode(FIXTURE.read_text()).kernels[PER]
    ev = [e for e in _call(0, 1, shapes=True, hashes={PER: kd.kernel_hash}) if not e["name"].startswith("## Call")]
    a = analyze(_write(tmp_path, ev), compiled=_code(tmp_path, "output_code.py"))
    k = a.kernels
    assert k.loc[k["name"] == PER, "bytes"].iloc[0] == EXPECT[PER][1]
    assert a.summary["compiled"]["by"] == {"kernel_hash": 1}


def test_cudagraph_replay_takes_warm_up_costed_from_code(tmp_path):
    """A cudagraph-tree replay (one cudaGraphLaunch) after a warm-up recorded without shapes: the warm-up is
    costed from the code and eager_align copies those costs to the replay."""
    a = analyze(_write(tmp_path, _call(0, 1) + _replay(300, 50)), compiled=_code(tmp_path))
    k = a.kernels
    rep = k[k["correlation"] == 50]
    assert len(rep) == 4 and (rep["graph_match"] == "eager_align").all()
    _check(rep)
    assert a.summary["compiled"]["costed_time_share"] == 1.0


def test_cudagraph_replay_through_the_call_order(tmp_path):
    """Only replays in the trace (warm-up and recording not profiled): the replay's kernels are aligned with the
    module's call sites; the extern mm's kernel is the one between its neighbours."""
    a = analyze(_write(tmp_path, _replay(0, 50) + _replay(200, 51)), compiled=_code(tmp_path))
    k = a.kernels
    assert (k["graph_match"] == "compiled_order").all() and (k["graph_confidence"] == 1.0).all()
    _check(k)
    assert a.summary["graphs"]["by"] == {"compiled_order": 8} and a.summary["graphs"]["rate_op_and_cost"] == 1.0
    assert a.summary["compiled"]["time_share_by_method"] == {"compiled_order": 1.0}
    assert analyze(_write(tmp_path, _replay(0, 50), "r.json")).kernels["bytes"].isna().all()  # no code: no costs


def test_cli_compiled_option(tmp_path):
    trace = _write(tmp_path, _call(0, 1))
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["analyze", str(trace), "--compiled", str(_code(tmp_path)), "-o", str(out), "-q",
                                  "--no-report"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["compiled"]["costed_time_share"] == 1.0
    r = CliRunner().invoke(main, ["analyze", str(trace), "--compiled", str(tmp_path / "nope"), "-q"])
    assert r.exit_code == 2 and "no such file" in r.output


MULTI = '''# hand-written for traceflops (not generated by torch): two pointwise kernels around three externs
# AOT ID: ['0_inference']
from torch._inductor.async_compile import AsyncCompile
async_compile = AsyncCompile()
triton_poi_fused_a_0 = async_compile.triton('triton_poi_fused_a_0', """
@triton_heuristics.pointwise(size_hints={'x': 1024}, filename=__file__,
    triton_meta={'signature': {'in_ptr0': '*bf16', 'out_ptr0': '*bf16', 'xnumel': 'i32', 'XBLOCK': 'constexpr'}},
    inductor_meta={'kernel_name': 'triton_poi_fused_a_0', 'mutated_arg_names': []})
@triton.jit
def triton_poi_fused_a_0(in_ptr0, out_ptr0, xnumel, XBLOCK : tl.constexpr):
    pass
""", device_str='cuda')
triton_poi_fused_b_1 = async_compile.triton('triton_poi_fused_b_1', """
@triton_heuristics.pointwise(size_hints={'x': 1024}, filename=__file__,
    triton_meta={'signature': {'in_out_ptr0': '*bf16', 'xnumel': 'i32', 'XBLOCK': 'constexpr'}},
    inductor_meta={'kernel_name': 'triton_poi_fused_b_1', 'mutated_arg_names': ['in_out_ptr0']})
@triton.jit
def triton_poi_fused_b_1(in_out_ptr0, xnumel, XBLOCK : tl.constexpr):
    pass
""", device_str='cuda')

def call(args):
    arg0_1, arg1_1, arg2_1 = args
    args.clear()
    assert_size_stride(arg0_1, (512, 64), (64, 1))
    assert_size_stride(arg1_1, (192, 64), (64, 1))
    assert_size_stride(arg2_1, (64, 64), (64, 1))
    with torch.cuda._DeviceGuard(0):
        buf0 = empty_strided_cuda((512, 64), (64, 1), torch.bfloat16)
        triton_poi_fused_a_0.run(arg0_1, buf0, 32768, stream=stream0)
        buf1 = empty_strided_cuda((512, 192), (192, 1), torch.bfloat16)
        extern_kernels.mm(buf0, reinterpret_tensor(arg1_1, (64, 192), (1, 64), 0), out=buf1)
        buf2 = torch.ops.aten._scaled_dot_product_cudnn_attention.default(reinterpret_tensor(buf1, (1, 4, 512, 16), (98304, 16, 192, 1), 0), reinterpret_tensor(buf1, (1, 4, 512, 16), (98304, 16, 192, 1), 64), reinterpret_tensor(buf1, (1, 4, 512, 16), (98304, 16, 192, 1), 128), None, False, 0.0, True)
        buf3 = buf2[0]
        assert_size_stride(buf3, (1, 4, 512, 16), (32768, 16, 64, 1), 'torch.ops.aten._scaled_dot_product_cudnn_attention.default')
        buf4 = empty_strided_cuda((512, 64), (64, 1), torch.bfloat16)
        extern_kernels.mm(reinterpret_tensor(buf3, (512, 64), (64, 1), 0), reinterpret_tensor(arg2_1, (64, 64), (1, 64), 0), out=buf4)
        triton_poi_fused_b_1.run(buf4, 32768, stream=stream0)
    return (buf4, )


def get_args():
    from torch._dynamo.testing import rand_strided
    arg0_1 = rand_strided((512, 64), (64, 1), device='cuda:0', dtype=torch.bfloat16)
    arg1_1 = rand_strided((192, 64), (64, 1), device='cuda:0', dtype=torch.bfloat16)
    arg2_1 = rand_strided((64, 64), (64, 1), device='cuda:0', dtype=torch.bfloat16)
    return [arg0_1, arg1_1, arg2_1]
'''
SDPA = "cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_3_64x64x128_4x1x1_kernel0_0"
SPLITK = "void cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16, float, __nv_bfloat16, false, false, false>(cublasLt::cublasSplitKParams<float>, float const*, __nv_bfloat16 const*, __nv_bfloat16*, float const*, float const*, __nv_bfloat16 const*, float const*, __nv_bfloat16*, void*, long, float*, int*, float*, float*, float const*, float const*, float const*, float const*, float const*)"


def test_replay_gap_with_several_externs(tmp_path):
    """Between two Triton anchors the replay ran mm (split-K: a GEMM kernel and its reduce), cudnn SDPA and mm:
    each extern takes the kernels from one of its family to the next, helpers included; FLOPs go to the GEMM
    and attention kernels, the reduce gets a share of its mm's bytes."""
    d = tmp_path / "code"
    d.mkdir()
    (d / f"{KEY}.py").write_text(MULTI)
    names = ["triton_poi_fused_a_0", GEMM, SPLITK, SDPA, GEMM, "triton_poi_fused_b_1"]
    ev = [_x("cpu_op", f"## Call CompiledFxGraph {KEY} ##", 0, 30),
          _x("cuda_runtime", "cudaGraphLaunch", 2, 3, correlation=50)]
    ev += [_kernel(n, 100 + 10 * i, 50) for i, n in enumerate(names)]
    k = analyze(_write(tmp_path, ev), compiled=d).kernels.sort_values("ts_us")
    assert (k["graph_match"] == "compiled_order").all()
    fl = k["flops"].tolist()
    assert fl[1] == 2 * 512 * 64 * 192 and np.isnan(fl[2]) and fl[4] == 2 * 512 * 64 * 64
    assert fl[3] > 0 and k["family"].tolist()[3] == "attention"
    mm1 = (512 * 64 + 192 * 64 + 512 * 192) * 2
    assert k["bytes"].iloc[1] + k["bytes"].iloc[2] == mm1  # the split-K reduce shares its mm's bytes
    assert k["bytes"].tolist()[5] == 2 * 512 * 64 * 2  # in_out_ptr0: read and written

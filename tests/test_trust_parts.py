"""Issue 17: the kernels of a multi-kernel op get their own work where their names say which part they do, the
time split is a flagged fallback, and a helper never takes an op's FLOPs."""
import json

import pytest

import traceflops
from traceflops.kernels.parts import kernel_part

CONV_BWD_ARGS = {"Input Dims": [[8, 64, 56, 56], [8, 32, 56, 56], [64, 32, 3, 3], [], [], [], [], [], [], [], []],
                 "Input type": ["float"] * 3 + ["ScalarList"] * 4 + ["Scalar", "ScalarList", "Scalar", ""],
                 "Concrete Inputs": ["", "", "", "[64]", "[1, 1]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "1",
                                     "[True, True, False]"]}
DGRAD = 2 * 8 * 56 * 56 * 9 * 64 * 32  # grad_input: the forward count
WGRAD = 2 * 8 * 56 * 56 * 9 * 32 * 64  # grad_weight


def _trace(tmp_path, op, args, kernels):
    ev = [{"ph": "X", "cat": "cpu_op", "name": op, "pid": 1, "tid": 1, "ts": 0, "dur": 500, "args": args}]
    for i, (name, dur) in enumerate(kernels):
        ev += [{"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 10 + 10 * i,
                "dur": 2, "args": {"correlation": 100 + i}},
               {"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": 7, "ts": 1000 + 100 * i, "dur": dur,
                "args": {"correlation": 100 + i, "device": 0, "stream": 7}}]
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"traceEvents": ev, "deviceProperties": [{"id": 0, "name": "NVIDIA A100-SXM4-80GB"}]}))
    return traceflops.analyze(p).kernels


@pytest.mark.parametrize("name,part", [
    ("void cudnn::detail::dgrad_engine<float, 512, 6, 5, 3, 3, 3, false>(int, int)", "dgrad"),
    ("void cudnn::cnn::wgrad_alg0_engine<float, 128, 6, 7, 3, 3, 5, false, 512>(int)", "wgrad"),
    ("sm80_xmma_dgrad_implicit_gemm_tf32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x16", "dgrad"),
    ("sm80_xmma_wgrad_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nhwc", "wgrad"),
    ("igemm_bwd_gtcx3_nhwc_bf16_bx0_ex1_bt256x64x32_wt32x32x8", "dgrad"),
    ("igemm_wrw_gtcx3_nhwc_bf16_bx0_ex1_bt64x256x32_wt32x32x8", "wgrad"),
    ("void cudnn::winograd_nonfused::winogradWgradData4x4<float, float>(cudnn::winograd_nonfused::WinogradWgradParams)", "wgrad"),
    ("naive_conv_wrw_nchw_float_double_float", "wgrad"), ("naive_conv_bwd_nchw_float_double_float", "dgrad"),
    ("void implicit_convolve_sgemm<float, float, 1024, 6, 7, 3, 3, 5, 1, false, true, true>(int)", None),
])
def test_part_from_the_kernel_name(name, part):
    assert kernel_part(name) == part


def test_dgrad_and_wgrad_kernels_get_their_own_flops(tmp_path):
    k = _trace(tmp_path, "aten::convolution_backward", CONV_BWD_ARGS,
               [("void cudnn::detail::dgrad_engine<float, 512>(int)", 10.0),
                ("void cudnn::cnn::wgrad_alg0_engine<float, 128>(int)", 30.0)])
    assert list(k["flops"]) == [DGRAD, WGRAD]  # not split 1:3 by time
    assert list(k["work_split"]) == ["part", "part"]


def test_an_unnamed_part_falls_back_to_the_time_split_and_says_so(tmp_path):
    k = _trace(tmp_path, "aten::convolution_backward", CONV_BWD_ARGS,
               [("void cudnn::detail::dgrad_engine<float, 512>(int)", 10.0),
                ("void implicit_convolve_sgemm<float, float, 1024>(int)", 30.0)])
    assert k["flops"].tolist() == pytest.approx([(DGRAD + WGRAD) / 4, 3 * (DGRAD + WGRAD) / 4])
    assert list(k["work_split"]) == ["time_share", "time_share"]


def test_a_helper_alone_never_takes_the_op_flops(tmp_path):
    """The GEMM kernel of this mm ran outside the trace: its split-K reduce does not get the GEMM's FLOPs."""
    args = {"Input Dims": [[200, 2048], [2048, 512]], "Input type": ["float", "float"]}
    k = _trace(tmp_path, "aten::mm", args,
               [("void splitKreduce_kernel<float, float, float, float, true, false, false>(cublasSplitKParams<float>)", 7.0)])
    assert not (k["flops"].fillna(0) > 0).any()
    assert k["bytes"].notna().all()  # it still moves the op's data


def test_split_kv_combine_is_a_helper_of_its_attention():
    from traceflops.kernels.names import classify_kernels
    import pandas as pd
    c = classify_kernels(pd.Series([
        "void flash::flash_fwd_splitkv_combine_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4, false, false, "
        "cutlass::bfloat16_t>, 4, 2, true>(Flash_fwd_params)",
        "void flash::flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4>, true>(Flash_fwd_params)"]))
    assert list(c["category"]) == ["attention", "attention"] and list(c["is_helper"]) == [True, False]

"""The math mode a kernel's name says is the peak its ceiling and MFU/HFU use: TF32 kernels on fp32 data carry the
TF32 peak, "fast" BF16/FP16 modes theirs, fp32 emulation (3xTF32, Blackwell BF16x9) the emulated rate, and a
CUDA-core kernel on half data stays on the vector peak. MFU (metrics/mfu.py) and the breakdown waterfall divide by
the kernel's own `peak_tflops`, the one `pct_of_ceiling` is measured against."""
import json

import numpy as np
import pandas as pd
import pytest

from traceflops import analyze
from traceflops.roofline import compute_dtype, roofline
from traceflops.roofline.catalog import load_catalog

A100 = {"id": 0, "name": "NVIDIA A100-SXM4-80GB", "computeMajor": 8, "computeMinor": 0, "numSms": 108,
        "totalGlobalMem": 85031714816, "maxThreadsPerMultiProcessor": 2048}
B200 = {"id": 0, "name": "NVIDIA B200", "computeMajor": 10, "computeMinor": 0, "numSms": 148,
        "totalGlobalMem": 191537856512, "maxThreadsPerMultiProcessor": 2048}
# cuBLAS's CUTLASS kernel for an fp32 mm with allow_tf32 (hta/negative_queue A100; a public A100 trace)
TF32_KERNEL = ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_128x128_32x3_nn_align4>(cutlass_80_tensorop_"
               "s1688gemm_128x128_32x3_nn_align4::Params)")
BF16X9_KERNEL = "cutlass3x_sm100_tensorop_s128x128x16_9xbf16gemm_f32_f32_f32_f32_f32_128x128x64_0_tnn_align4_2sm"


@pytest.mark.parametrize("op, name, cat, tc, want", [
    ("fp32", "tf32", "gemm", None, ("tf32", True)),     # the name's TF32 MMA wins over the op's fp32
    ("fp32", "tf32", "gemm", True, ("tf32", True)),
    ("fp32", "bf16", "gemm", True, ("bf16", True)),     # CUTLASS s1688bf16gemm: fp32 data, bf16 "fast" math
    ("fp32", "bf16x9", "gemm", True, ("bf16x9", True)),
    ("fp32", "tf32x3", "gemm", True, ("tf32x3", True)),
    ("fp16", "fp16", "gemm", False, ("fp16", False)),   # sgemm_fp16: fp16 data on CUDA cores
    ("fp32", "fp16", "gemm", False, ("fp32", False)),   # a SIMT kernel never takes a tensor-core mode from its name
    ("bf16", "fp32", "gemm", True, ("bf16", True)),     # an accumulator type in a name does not demote the op
    ("fp32", "bf16", "elementwise", False, ("fp32", False)),
    (None, "bf16", "gemm", True, ("bf16", True)),       # no op dtype: the name's
    ("bf16", "fp8", "gemm", True, ("fp8", True)),       # an fp8 kernel of a wider op
    ("fp32", None, "gemm", None, ("fp32", False)),      # nothing said: fp32 stays fp32 on CUDA cores
])
def test_compute_dtype_takes_the_math_mode_from_the_name(op, name, cat, tc, want):
    d, t = compute_dtype(np.array([op], dtype=object), np.array([name], dtype=object), np.array([cat], dtype=object),
                         np.array([tc], dtype=object))
    assert (d[0], bool(t[0])) == want


def _peak(spec, dtype, tc=True):
    k = pd.DataFrame({"name": ["k"], "kind": ["kernel"], "flops": [1e12], "bytes": [1e6], "dur_us": [1e6],
                      "device": [0], "dtype": [dtype], "tensor_core": [tc]})
    return float(roofline(k, {0: spec})["peak_tflops"][0])


def test_emulated_fp32_peaks():
    cat = load_catalog()
    a100, b200 = cat["a100-sxm4-80gb"], cat["b200"]
    assert _peak(a100, "tf32") == pytest.approx(a100.peak_tflops["tf32"])  # 156, not the 19.5 fp32 SIMT peak
    assert _peak(a100, "tf32x3") == pytest.approx(a100.peak_tflops["tf32"] / 3)
    assert _peak(b200, "bf16x9") == pytest.approx(b200.peak_tflops["bf16"] / 9)
    assert _peak(a100, "fp32") == pytest.approx(a100.peak_tflops["fp32"])


def _mm_trace(tmp_path, props, kernel, dur, n=2048):
    """Two fp32 `aten::mm` (n x n x n) kernels 100 µs apart: a hand-computable MFU."""
    ev = []
    for t0, corr in ((1000.0, 11), (1000.0 + dur + 100.0, 12)):
        ev += [
            {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": t0 - 50, "dur": 20,
             "args": {"External id": corr, "Input Dims": [[n, n], [n, n]], "Input type": ["float", "float"],
                      "Concrete Inputs": ["", ""]}},
            {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": t0 - 45, "dur": 5,
             "args": {"correlation": corr}},
            {"ph": "X", "cat": "kernel", "name": kernel, "pid": 0, "tid": 7, "ts": t0, "dur": dur,
             "args": {"correlation": corr, "device": 0, "stream": 7}},
        ]
    p = tmp_path / "mm.json"
    p.write_text(json.dumps({"deviceProperties": [props], "traceEvents": ev}))
    return p


def test_tf32_kernel_carries_the_tf32_peak_in_ceiling_and_mfu(tmp_path):
    # 2*2048^3 = 17.2 GFLOP in 300 µs = 57.3 TFLOP/s: 294% of the fp32 SIMT peak (19.5), 37% of TF32 (156)
    dur, flops = 300.0, 2 * 2048 ** 3
    a = analyze(_mm_trace(tmp_path, A100, TF32_KERNEL, dur))
    k = a.kernels
    assert list(k["dtype"]) == ["tf32", "tf32"] and list(k["tensor_core"]) == [True, True]
    assert list(k["peak_tflops"]) == [156.0, 156.0]
    assert k["pct_of_ceiling"][0] == pytest.approx(flops / dur / 1e6 / 156.0 * 100)
    assert k["roof_flag"].isna().all()
    assert (k["ceiling_tflops"] == k["peak_tflops"]).all()  # compute bound: the ceiling is that same peak
    wall = (2 * dur + 100.0) * 1e-6
    m = a.summary["mfu"]
    assert m["mfu"] == pytest.approx(2 * flops / (156e12 * wall))
    assert m["busy_mfu"] == pytest.approx(2 * flops / (156e12 * 2 * dur * 1e-6))
    achieved = [s for s in a.summary["breakdown"]["waterfall"] if s["stage"] == "achieved MFU"][0]["value"]
    assert achieved == pytest.approx(m["mfu"])


def test_bf16x9_kernel_is_judged_at_the_emulated_rate(tmp_path):
    dur, flops = 300.0, 2 * 2048 ** 3  # 57.3 TFLOP/s: 76% of the 75 fp32 peak, 23% of 2250/9 = 250
    a = analyze(_mm_trace(tmp_path, B200, BF16X9_KERNEL, dur))
    k = a.kernels
    assert list(k["dtype"]) == ["bf16x9", "bf16x9"]
    assert k["peak_tflops"][0] == pytest.approx(2250 / 9)
    assert a.summary["mfu"]["busy_mfu"] == pytest.approx(2 * flops / (2250e12 / 9 * 2 * dur * 1e-6))

"""Formulas added for issue 18, each under the names and layouts it is recorded with: FlopCounterMode where torch
counts the same math, hand counts otherwise, and a real torch 2.13 CPU profile for the op families whose
recording matters (index through its sub-ops, the upsample parent/child pair, RNG, sorting, LSTM)."""
import json

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from traceflops.kernels import cost_ops, op_cost

T = ["float", "float"]


def fcm(fn):
    with FlopCounterMode(display=False) as m:
        fn()
    return m.get_total_flops()


# ---- convolution under its old and backend names -----------------------------------------------------------

X, W = [2, 3, 16, 16], [8, 3, 3, 3]
CONV_FLOPS = fcm(lambda: F.conv2d(torch.randn(*X), torch.randn(*W), stride=2, padding=1))


@pytest.mark.parametrize("name,dims,types,conc", [
    # 1.7-2.13 (self, weight, padding, stride, dilation, groups, benchmark, deterministic, allow_tf32)
    ("aten::cudnn_convolution", [X, W, [], [], [], [], [], [], []], T + ["ScalarList"] * 3 + ["Scalar"] * 4,
     ["", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False", "True"]),
    # 1.4 / .deprecated: bias at 2, then padding, stride
    ("aten::cudnn_convolution", [X, W, [8], [], [], [], [], [], []], T + ["float"] + ["ScalarList"] * 3 + ["Scalar"] * 3,
     ["", "", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False"]),
    # cudnn_convolution_relu: stride before padding
    ("aten::cudnn_convolution_relu", [X, W, [8], [], [], [], []], T + ["float"] + ["ScalarList"] * 3 + ["Scalar"],
     ["", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "1"]),
    ("aten::thnn_conv2d", [X, W, [], [8], [], []], T + ["ScalarList", "float", "ScalarList", "ScalarList"],
     ["", "", "[3, 3]", "", "[2, 2]", "[1, 1]"]),
    ("aten::_slow_conv2d_forward", [X, W, [], [8], [], []], T + ["ScalarList", "float", "ScalarList", "ScalarList"],
     ["", "", "[3, 3]", "", "[2, 2]", "[1, 1]"]),
    ("aten::slow_conv_dilated2d", [X, W, [], [], [], [], []], T + ["ScalarList", ""] + ["ScalarList"] * 3,
     ["", "", "[3, 3]", "", "[2, 2]", "[1, 1]", "[1, 1]"]),
    ("aten::_convolution_nogroup", [X, W, [], [], [], [], [], []], T + ["", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList"],
     ["", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "False", "[0, 0]"]),
    ("aten::_nnpack_spatial_convolution", [X, W, [8], [], []], T + ["float", "ScalarList", "ScalarList"],
     ["", "", "", "[1, 1]", "[2, 2]"]),
    # CPU Inductor freezing: unary (10 inputs: padding, stride, dilation) and binary (13 inputs, other at 1)
    ("mkldnn::_convolution_pointwise", [X, W, [8]] + [[]] * 7, T + ["float"] + ["ScalarList"] * 3 + ["Scalar", "", "", ""],
     ["", "", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "none", "[]", ""]),
    ("mkldnn::_convolution_pointwise", [X, [2, 8, 8, 8], W, [8]] + [[]] * 9,
     ["float", "float", "float", "float"] + ["ScalarList"] * 3 + ["Scalar"] * 6,
     ["", "", "", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "add", "", "", "", ""]),
    # oneDNN int8 conv: stride, padding, dilation after the bias
    ("onednn::qconv2d_pointwise", [X, [], [], W, [8], [8], [8]] + [[]] * 10,
     ["unsigned char", "Scalar", "Scalar", "signed char", "float", "long int", "float"] + ["ScalarList"] * 3 + ["Scalar"] * 7,
     ["", "0.1", "0", "", "", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "1", "1.0", "0", "", "none", "[]", ""]),
])
def test_conv_names_match_flopcounter(name, dims, types, conc):
    assert op_cost(name, dims, types, conc).flops == CONV_FLOPS


def test_conv_transpose_names_match_flopcounter():
    x, w = [2, 4, 6, 6], [4, 3, 3, 3]
    want = fcm(lambda: F.conv_transpose2d(torch.randn(*x), torch.randn(*w), stride=2, padding=1, output_padding=1))
    c = op_cost("aten::slow_conv_transpose2d", [x, w, [], [3], [], [], [], []],
                T + ["ScalarList", "float"] + ["ScalarList"] * 4, ["", "", "[3, 3]", "", "[2, 2]", "[1, 1]", "[1, 1]", "[1, 1]"])
    assert c.flops == want
    # 1.5+ cudnn_convolution_transpose(self, weight, padding, output_padding, stride, dilation, groups, ...)
    c = op_cost("aten::cudnn_convolution_transpose", [x, w] + [[]] * 8, T + ["ScalarList"] * 4 + ["Scalar"] * 4,
                ["", "", "[1, 1]", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False", "True"])
    assert c.flops == want


def test_conv_backward_parts_match_flopcounter():
    x, w = torch.randn(2, 3, 16, 16, requires_grad=True), torch.randn(8, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, stride=2, padding=1)
    gy = torch.randn_like(y)
    full = fcm(lambda: torch.autograd.grad(F.conv2d(x, w, stride=2, padding=1), (x, w), gy))
    go = list(y.shape)
    gi = op_cost("aten::cudnn_convolution_backward_input", [[], go, W] + [[]] * 7,
                 ["ScalarList", "float", "float"] + ["ScalarList"] * 3 + ["Scalar"] * 4,
                 ["[2, 3, 16, 16]", "", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False", "True"])
    # torch <= 2.0: weight_size not recorded, the kernel size comes from the parent cudnn_convolution_backward
    ops = pd.DataFrame({"name": ["aten::cudnn_convolution_backward", "aten::cudnn_convolution_backward_weight"],
                        "input_dims": [json.dumps([X, go, W] + [[]] * 8), json.dumps([[], go, X] + [[]] * 7)],
                        "input_types": ["[]", "[]"], "parent": [-1, 0]})
    gw = cost_ops(ops).at[1, "flops"]
    assert gi.flops + gw == full - CONV_FLOPS  # FlopCounterMode also saw the forward


# ---- matrix multiplies in their other layouts and namespaces ------------------------------------------------

MM = 2 * 8 * 16 * 32  # [8, 32] @ [32, 16]


@pytest.mark.parametrize("name,dims,types,conc", [
    ("aten::_addmm_activation", [[16], [8, 32], [32, 16], [], [], []], ["float"] * 3 + ["Scalar"] * 3, [""] * 3 + ["1", "1", "True"]),
    # _scaled_mm 2.5+ (self, mat2, scale_a, scale_b, bias, scale_result, out_dtype, use_fast_accum)
    ("aten::_scaled_mm", [[8, 32], [32, 16], [], [], [], [], [], []], ["c10::Float8_e4m3fn"] * 2 + ["float"] * 2 + ["", "", "Scalar", "Scalar"],
     ["", "", "", "", "", "", "15", "False"]),
    # 2.1-2.4 (self, mat2, bias, out_dtype, scale_a, scale_b, scale_result, use_fast_accum)
    ("aten::_scaled_mm", [[8, 32], [32, 16], [], [], [], [], [], []], ["c10::Float8_e4m3fn"] * 2 + ["", "Scalar", "float", "float", "", "Scalar"],
     ["", "", "", "15", "", "", "", "False"]),
    ("aten::_weight_int8pack_mm", [[8, 32], [16, 32], [16]], ["c10::BFloat16", "signed char", "c10::BFloat16"], ["", "", ""]),
    ("aten::_weight_int4pack_mm_for_cpu", [[8, 32], [16, 16], [], [1, 16, 2]], ["c10::BFloat16", "unsigned char", "Scalar", "c10::BFloat16"], ["", "", "32", ""]),
    ("aten::_dyn_quant_matmul_4bit", [[8, 32], [100], [], [], []], ["float", "unsigned char", "Scalar", "Scalar", "Scalar"], ["", "", "32", "32", "16"]),
    ("mkldnn::_linear_pointwise", [[8, 32], [16, 32], [16], [], [], []], ["float"] * 3 + ["", "", ""], ["", "", "", "none", "[]", ""]),
    ("mkldnn::_linear_pointwise", [[8, 32], [8, 16], [16, 32], [16], []], ["float"] * 4 + [""], ["", "", "", "", "add"]),
    ("mkl::_mkl_linear", [[8, 32], [1459233, 1], [16, 32], [16], []], ["float"] * 4 + ["Scalar"], ["", "", "", "", "8"]),
    ("onednn::qlinear_pointwise", [[8, 32], [], [], [32, 16], [16], [16], [16]] + [[]] * 6,
     ["unsigned char", "Scalar", "Scalar", "signed char", "float", "long int", "float"] + ["Scalar"] * 6,
     ["", "0.1", "0", "", "", "", "", "1.0", "0", "", "none", "[]", ""]),
    ("fbgemm::f8f8bf16_rowwise", [[8, 32], [16, 32], [8], [16], [], []], ["c10::Float8_e4m3fn"] * 2 + ["float"] * 2 + ["", "Scalar"], [""] * 6),
    ("_C::cutlass_scaled_mm", [[8, 16], [8, 32], [32, 16], [8, 1], [1, 16], []], ["c10::BFloat16", "signed char", "signed char", "float", "float", ""], [""] * 6),
    ("sgl_kernel::fp8_scaled_mm", [[8, 32], [32, 16], [8, 1], [1, 16], [], []], ["c10::Float8_e4m3fn"] * 2 + ["float"] * 2 + ["Scalar", ""], ["", "", "", "", "15", ""]),
    # Marlin: (m, n, k) found among the concrete ints wherever a version put them
    ("_C::gptq_marlin_gemm", [[8, 32], [], [2, 64], [1, 16], [], [], [], [], [128], [], [], [], [], []],
     ["c10::Half", "", "int", "c10::Half", "", "", "", "", "int", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar"],
     ["", "", "", "", "", "", "", "", "", "4", "8", "16", "32", "True"]),
    ("_C::awq_gemm", [[8, 32], [32, 2], [1, 16], [1, 2], []], ["c10::Half", "int", "c10::Half", "int", "Scalar"], ["", "", "", "", "0"]),
    ("torchao::quant_llm_linear", [[], [], [8, 32], [16, 24], [16], []], ["Scalar", "Scalar", "c10::Half", "unsigned char", "c10::Half", "Scalar"], ["3", "2", "", "", "", "1"]),
])
def test_gemm_layouts(name, dims, types, conc):
    assert op_cost(name, dims, types, conc).flops == MM


def test_gemm_matches_flopcounter():
    assert MM == fcm(lambda: torch.randn(8, 32) @ torch.randn(32, 16))


# ---- the rest, by hand --------------------------------------------------------------------------------------


def test_fused_experts_and_serving_ops():
    t, h, e, i, k = 16, 64, 8, 32, 2
    c = op_cost("vllm::inplace_fused_experts", [[t, h], [e, 2 * i, h], [e, h, i], [t, k], [t, k]],
                ["c10::BFloat16"] * 3 + ["float", "int"], [""] * 5)
    assert c.flops == 2 * t * k * 2 * i * h + 2 * t * k * h * i and c.bytes_source == "lower_bound"
    # KV-cache writes: the T rows, never the cache
    c = op_cost("_C_cache_ops::reshape_and_cache_flash", [[t, 8, 64], [t, 8, 64], [1000, 16, 8, 64], [1000, 16, 8, 64], [t], [], [], []],
                ["c10::BFloat16"] * 4 + ["long int", "", "float", "float"], [""] * 8)
    assert c.bytes == 2 * t * 512 * 2 + t * 8 + 2 * t * 512 * 2 and c.flops == 0
    c = op_cost("_C::gelu_and_mul", [[t, 32], [t, 64]], ["c10::Half"] * 2, ["", ""])
    assert c.flops == 6 * t * 32 and c.bytes == (t * 64 + t * 32) * 2
    c = op_cost("_moe_C::topk_softmax", [[t, k], [t, k], [t, k], [t, e]], ["float", "int", "int", "c10::BFloat16"], [""] * 4)
    assert c.flops == 5 * t * e and c.bytes == t * e * 2 + 3 * t * k * 4
    c = op_cost("_C::paged_attention_v1", [[4, 8, 64], [4, 8, 64], [100, 8, 8, 16, 8], [100, 8, 64, 16], [], [], [4, 10], [4]] + [[]] * 6,
                ["c10::Half"] * 4 + ["Scalar", "Scalar", "int", "int"] + ["Scalar"] * 6, [""] * 14)
    assert c.flops is None and c.bytes_source == "lower_bound" and c.bytes == 4 * 512 * 2 * 2 + 40 * 4 + 16


def test_fbgemm_tbe_lower_bound():
    dims = [[0], [7722480160], [0], [0, 0], [9], [9], [10], [], [], [10], [], [30111429], [2359297], [], [], []]
    types = ["float", "c10::Half", "c10::Half", "c10::Half", "int", "long", "int", "Scalar", "Scalar", "long", "Scalar",
             "long", "long", "Scalar", "", ""]
    c = op_cost("fbgemm::split_embedding_codegen_lookup_rowwise_adagrad_function", dims, types, [""] * len(dims))
    b = 2359296 // 9
    # never the 15 GB of tables: indices, offsets, one element per index, a byte per output element
    assert c.flops is None and c.bytes == 30111429 * 8 + 2359297 * 8 + 30111429 * 2 + b * 9
    c = op_cost("fbgemm::permute_2D_sparse_data", [[24], [24, 16], [768], [], []], ["int", "int", "int", "", "Scalar"], [])
    assert c.bytes == 24 * 4 + 2 * (24 * 16 + 768) * 4 and c.family == "sparse"


def test_quantize_rnn_sync_bn_loss():
    c = op_cost("aten::quantize_per_tensor", [[64, 32], [], [], []], ["float", "Scalar", "Scalar", "Scalar"], ["", "0.1", "0", "12"])
    assert c.flops == 2 * 2048 and c.bytes == 2048 * 4 + 2048
    c = op_cost("aten::_thnn_fused_lstm_cell", [[4, 32], [4, 32], [4, 8], [32], [32]], ["float"] * 5, [""] * 5)
    assert c.flops == 19 * 32 and c.bytes == (2 * 128 + 32 + 64) * 4 + 6 * 32 * 4
    c = op_cost("aten::batch_norm_elemt", [[2, 4, 8, 8], [4], [4], [4], [4], []], ["float"] * 5 + ["Scalar"], [""] * 6)
    assert c.flops == 4 * 512 and c.bytes == 2 * 512 * 4 + 4 * 4 * 4
    c = op_cost("aten::binary_cross_entropy", [[10], [10], [], []], ["float", "float", "", "Scalar"], ["", "", "", "1"])
    assert c.flops == 70 and c.bytes == 2 * 40 + 4


def test_movement_ops():
    c = op_cost("aten::constant_pad_nd", [[2, 3, 8, 8], [], []], ["float", "ScalarList", "Scalar"], ["", "[1, 1, 2, 2]", "0"])
    assert c.bytes == (2 * 3 * 64 + 2 * 3 * 12 * 10) * 4
    c = op_cost("aten::im2col", [[2, 3, 8, 8], [], [], [], []], ["float"] + ["ScalarList"] * 4, ["", "[3, 3]", "[1, 1]", "[0, 0]", "[1, 1]"])
    assert c.bytes == (2 * 3 * 64 + 2 * 27 * 36) * 4
    c = op_cost("aten::topk", [[64, 32], [], [], [], []], ["float"] + ["Scalar"] * 4, ["", "5", "1", "True", "True"])
    assert c.flops == 0 and c.bytes == 2048 * 4 + 64 * 5 * 12
    c = op_cost("aten::sort", [[64, 32], [], [], []], ["float"] + ["Scalar"] * 3, ["", "False", "0", "False"])
    assert c.bytes == 2048 * 4 + 2048 * 12


# ---- a real profile ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    from torch.profiler import ProfilerActivity, profile
    x, idx, img = torch.randn(64, 32), torch.tensor([1, 5, 7]), torch.randn(2, 3, 8, 8)
    lstm = torch.nn.LSTM(16, 8, num_layers=2)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        x[idx]
        x[:, idx]
        F.interpolate(img, size=(5, 5))
        F.interpolate(img, scale_factor=2)
        torch.empty(100).uniform_()
        torch.topk(x, 5)
        lstm(torch.randn(5, 3, 16))
    path = tmp_path_factory.mktemp("prof") / "t.json"
    p.export_chrome_trace(str(path))
    from traceflops import analyze
    return analyze(path).ops


def test_profiled_index_reads_its_subops(profiled):
    ix = profiled[profiled["name"] == "aten::index"]
    # x[idx]: out [3, 32]; x[:, idx]: out [64, 3]; int64 index of 3; read the selected elements, write them
    assert sorted(ix["bytes"]) == [3 * 8 + 2 * 96 * 4, 3 * 8 + 2 * 192 * 4]


def test_profiled_upsample_counted_once(profiled):
    up = profiled[profiled["name"] == "aten::upsample_nearest2d"]
    assert len(up) == 4  # the .vec parent and the base child, twice
    assert up["bytes"].sum() == (384 + 150 + 384 + 1536) * 4


def test_profiled_rng_topk_lstm(profiled):
    assert profiled.loc[profiled["name"] == "aten::uniform_", "bytes"].sum() == 400
    assert profiled.loc[profiled["name"] == "aten::topk", "bytes"].sum() == 2048 * 4 + 64 * 5 * 12
    rnn = profiled[profiled["name"] == "aten::mkldnn_rnn_layer"]
    assert rnn["flops"].sum() == 2 * 15 * (32 * 16 + 32 * 8) + 2 * 15 * (32 * 8 + 32 * 8)

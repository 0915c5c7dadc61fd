"""kernels/quant_gemm.py: quantized, packed and library GEMMs.

FLOPs truth: FlopCounterMode's count of the plain matmul of the same M, N, K (torch.mm / torch.bmm on CPU
tensors); the quantized op does the model's math of that matmul. The CPU ops (int8/int4 weight-only, fbgemm
fp16/int8 weights, oneDNN and MKL linears) are recorded by the profiler; the CUDA and serving-stack ops are built
from their schemas (/work/research/ops.md §C-E). Bytes are hand counts: every tensor operand read once at its
recorded (packed) size, scalars and int lists move nothing, the M x N output written in the op's output dtype.
"""
import warnings

import pytest
import torch

from traceflops import op_cost

from .cov_profile import fcm_total, profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
M, N, K = 8, 16, 32
MM = fcm_total(lambda: torch.mm(torch.randn(M, K), torch.randn(K, N)))
BMM = fcm_total(lambda: torch.bmm(torch.randn(2, M, K), torch.randn(2, K, N)))
F8, BF, H = "c10::Float8_e4m3fn", "c10::BFloat16", "c10::Half"
OUT_BF = M * N * 2
OUT_F32 = M * N * 4


def _record():
    x, w, b = torch.randn(M, K), torch.randn(N, K), torch.randn(N)
    torch._weight_int8pack_mm(x, w.to(torch.int8), torch.rand(N))
    packed = torch._convert_weight_to_int4pack_for_cpu(torch.randint(0, 16, (N, K), dtype=torch.int32), 2)
    torch._weight_int4pack_mm_for_cpu(x.bfloat16(), packed, 32, torch.rand(1, N, 2).bfloat16())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fbgemm weight ops are deprecated
        torch.fbgemm_linear_fp16_weight(x, torch.fbgemm_pack_gemm_matrix_fp16(w), b)
        q, col, scale, zp = torch.fbgemm_linear_quantize_weight(w)
        torch.fbgemm_linear_int8_weight(x, q, torch.fbgemm_pack_quantized_matrix(q), col, scale, zp, b)
    torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
    torch.ops.mkldnn._linear_pointwise(x, torch.randn(M, N), w, b, "add")
    torch.ops.mkl._mkl_linear(x, torch.ops.mkl._mkl_reorder_linear_weight(w, M), w, b, M)


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("quant_gemm"))


def test_profiled_cpu_gemms(ops):
    x32, w32, b32 = M * K * 4, N * K * 4, N * 4
    want = {
        # int8 weight [N, K], fp32 scales [N]
        "aten::_weight_int8pack_mm": x32 + N * K + N * 4 + OUT_F32,
        # bf16 x, the packed uint8 [N, K/2] weight, bf16 qScaleAndZeros [1, N, 2]; bf16 out
        "aten::_weight_int4pack_mm_for_cpu": M * K * 2 + N * K // 2 + N * 2 * 2 + OUT_BF,
        # x, bias; the opaque packed blob not counted, the fp16 weight N*K*2 instead
        "aten::fbgemm_linear_fp16_weight": x32 + b32 + OUT_F32 + N * K * 2,
        # x, the int8 weight, int32 col_offsets [N], bias (the packed blob not read twice)
        "aten::fbgemm_linear_int8_weight": x32 + N * K + N * 4 + b32 + OUT_F32,
        "mkldnn::_linear_pointwise": x32 + w32 + b32 + OUT_F32,
        # MKL's packed weight is not counted: ORI_W is the weight read once
        "mkl::_mkl_linear": x32 + w32 + b32 + OUT_F32,
    }
    for name, nbytes in want.items():
        c = recorded_cost(ops, name)
        assert c.flops == MM and c.bytes == nbytes and c.family == "gemm", name
    c = recorded_cost(ops, "mkldnn::_linear_pointwise", 1)  # .binary reads `other` [M, N]
    assert c.flops == MM and c.bytes == want["mkldnn::_linear_pointwise"] + OUT_F32


CASES = [
    # (name, dims, types, concrete, flops, bytes)
    ("aten::_sparse_semi_structured_linear", [[M, K], [N, K // 2], [N, 2], [N], [], []], [H, H, "int", H, "", "Scalar"],
     ["", "", "", "", "", "15"], MM, M * K * 2 + N * K + N * 2 * 4 + N * 2 + OUT_BF),
    ("aten::_sparse_semi_structured_linear", [[M, K], [N, K // 2], [N, 2], [N], []], [H, H, "int", H, ""],
     ["", "", "", "", ""], MM, M * K * 2 + N * K + N * 2 * 4 + N * 2 + M * N * 2),  # no out_dtype: the input's
    ("aten::_mixed_dtypes_linear", [[M, K], [K, N], [N], [], []], [H, "signed char", H, "", ""], [""] * 5,
     MM, M * K * 2 + K * N + N * 2 + M * N * 2),
    ("aten::_weight_int4pack_mm", [[M, K], [2, 1, 32, 4], [], [1, N, 2]], [BF, "int", "Scalar", BF], ["", "", "32", ""],
     MM, M * K * 2 + 2 * 32 * 4 * 4 + N * 2 * 2 + OUT_BF),
    # fbgemm GenAI fp8 (XQ, WQ, x_scale, w_scale, bias?, use_fast_accum): bf16 out; the bool moves nothing
    ("fbgemm::f8f8bf16_rowwise", [[M, K], [N, K], [M], [N], [], []], [F8, F8, "float", "float", "", "Scalar"],
     ["", "", "", "", "", "True"], MM, M * K + N * K + M * 4 + N * 4 + OUT_BF),
    ("aiter::gemm_a8w8_blockscale", [[M, K], [N, K], [M, 1], [1, 1]], [F8, F8, "float", "float"], [""] * 4,
     MM, M * K + N * K + M * 4 + 4 + OUT_BF),
    ("fbgemm::f8f8bf16_rowwise_out", [[M, K], [N, K], [M], [N], [M, N], [], []],
     [F8, F8, "float", "float", BF, "", "Scalar"], [""] * 7, MM, M * K + N * K + M * 4 + N * 4 + OUT_BF),
    ("fbgemm::bf16i4bf16_rowwise", [[M, K], [N, K // 2], [N], [N]], [BF, "unsigned char", BF, BF], [""] * 4,
     MM, M * K * 2 + N * K // 2 + 2 * N * 2 + OUT_BF),
    # every token through one group: X [T, K], W [G, N, K], scales, M_sizes [G]
    ("fbgemm::f8f8bf16_rowwise_grouped_stacked", [[M, K], [4, N, K], [M], [4 * N], [4]],
     [F8, F8, "float", "float", "long int"], [""] * 5, MM, M * K + 4 * N * K + M * 4 + 4 * N * 4 + 4 * 8 + OUT_BF),
    # vLLM fp4: out [M, N], a [M, K/2], b [N, K/2], block scales, alpha
    ("_C::cutlass_scaled_fp4_mm", [[M, N], [M, K // 2], [N, K // 2], [M, 2], [N, 2], [1]],
     [BF, "unsigned char", "unsigned char", F8, F8, "float"], [""] * 6,
     MM, M * K // 2 + N * K // 2 + M * 2 + N * 2 + 4 + OUT_BF),
    ("sgl_kernel::bmm_fp8", [[2, M, K], [2, K, N], [2, M, N], [1], [1], [64]], [F8, F8, BF, "float", "float", "unsigned char"],
     [""] * 6, BMM, 2 * M * K + 2 * K * N + 4 + 4 + 2 * OUT_BF),
    ("_C::dsv3_fused_a_gemm", [[M, N], [M, K], [K, N]], [BF, BF, BF], [""] * 3, MM, M * K * 2 + K * N * 2 + OUT_BF),
    ("_C::awq_gemm", [[M, K], [K, N // 8], [1, N], [1, N // 8], []], [H, "int", H, "int", "Scalar"], ["", "", "", "", "0"],
     MM, M * K * 2 + K * N // 8 * 4 + N * 2 + N // 8 * 4 + M * N * 2),
    # gptq_gemm(a, b_q_weight [K*4/32, N], qzeros, scales [G, N], g_idx [K], use_exllama, bit)
    ("_C::gptq_gemm", [[M, K], [K * 4 // 32, N], [1, N // 8], [1, N], [K], [], []],
     [H, "int", "int", H, "int", "Scalar", "Scalar"], ["", "", "", "", "", "True", "4"],
     MM, M * K * 2 + 4 * N * 4 + N // 8 * 4 + N * 2 + K * 4 + M * N * 2),
    ("_C::machete_mm", [[M, K], [4, N], [], [], [1, N], [], [], [], [], []],
     [H, "int", "Scalar", "", H, "", "Scalar", "", "", ""], ["", "", "0", "", "", "", "32", "", "", ""],
     MM, M * K * 2 + 4 * N * 4 + N * 2 + M * N * 2),
    ("_C::machete_mm", [[M, K], [4, N], [], [], [], [], [], [N], [], []],  # channel scales only
     [H, "int", "Scalar", "", "", "", "Scalar", H, "", ""], ["", "", "0", "", "", "", "-1", "", "", ""],
     MM, M * K * 2 + 4 * N * 4 + N * 2 + M * N * 2),
    ("_C::ggml_mul_mat_a8", [[100], [M, K], [], []], ["unsigned char", H, "Scalar", "Scalar"], ["", "", "8", str(N)],
     MM, 100 + M * K * 2 + M * N * 2),
    ("_C::allspark_w8a16_gemm", [[M, K], [K, N], [N], [], [], []], [H, "unsigned char", H, "", "Scalar", "Scalar"],
     ["", "", "", "", str(N), "-1"], MM, M * K * 2 + K * N + N * 2 + M * N * 2),
    # Marlin (a, c?, b_q_weight, b_scales, ..., workspace, b_q_type, size_m, size_n, size_k, ...)
    ("_C::gptq_marlin_gemm", [[M, K], [], [2, 64], [1, N], [], [], [], [], [128], [], [], [], [], []],
     [H, "", "int", H, "", "", "", "", "int", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar"],
     ["", "", "", "", "", "", "", "", "", "4", str(M), str(N), str(K), "True"],
     MM, M * K * 2 + 128 * 4 + N * 2 + 128 * 4 + M * N * 2),
    # torchao: s4s4 packs K two a byte in both operands
    ("torchao::rowwise_scaled_linear_cutlass_s4s4", [[M, K // 2], [M], [N, K // 2], [N], [], []],
     ["signed char", H, "signed char", H, "", "Scalar"], ["", "", "", "", "", "15"],
     MM, M * K // 2 + M * 2 + N * K // 2 + N * 2 + OUT_BF),
    ("torchao::rowwise_scaled_linear_cutlass_s8s4", [[M, K], [M], [N, K // 2], [N], [], []],
     ["signed char", H, "signed char", H, "", ""], [""] * 6,
     MM, M * K + M * 2 + N * K // 2 + N * 2 + OUT_BF),
    ("torchao::mx_fp8_bf16", [[M, K], [K, N], [M, 1], [1, N]], [F8, F8, "c10::Float8_e8m0fnu", "c10::Float8_e8m0fnu"],
     [""] * 4, MM, M * K + K * N + M + N + OUT_BF),
    ("torchao::swizzle_mm", [[M, K], [K, N], [], []], [BF, BF, "Scalar", "Scalar"], ["", "", "False", "False"],
     MM, M * K * 2 + K * N * 2 + OUT_BF),
    ("symm_mem::fused_matmul_reduce_scatter", [[M, K], [K, N], [], [], []], [BF, BF, "", "Scalar", ""], ["", "", "", "0", ""],
     MM, M * K * 2 + K * N * 2 + OUT_BF),
    ("symm_mem::_async_input_mm", [[M, K], [K, N], [1], []], [BF, BF, "int", "Scalar"], ["", "", "", "0"],
     MM, M * K * 2 + K * N * 2 + OUT_BF),
]


@pytest.mark.parametrize("name,dims,types,conc,flops,nbytes", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_library_gemms(name, dims, types, conc, flops, nbytes):
    c = op_cost(name, dims, types, conc)
    assert c.flops == flops and c.bytes == nbytes and c.family == "gemm"


@pytest.mark.parametrize("name,dims,types,conc", [
    ("aten::_weight_int8pack_mm", [[], [N, K], [N]], ["", "signed char", "float"], []),   # no activation shape
    ("aten::_mixed_dtypes_linear", [[M, K], [K, N], []], [H, "signed char", ""], []),      # no scale: N unknown
    ("mkl::_mkl_linear", [[M, K], [100, 1], [], [N], []], ["float", "float", "", "float", "Scalar"], []),
    ("fbgemm::f8f8bf16_rowwise", [[M, K], [], [M], [N]], [F8, "", "float", "float"], []),
    ("sgl_kernel::fp8_scaled_mm", [[M, K], [2, K, N]], [F8, F8], []),
    ("fbgemm::bf16bf16bf16_grouped_stacked", [[M, K], [N, K]], [BF, BF], []),
    ("_C::cutlass_scaled_fp4_mm", [[M, N], [2, M, K // 2], [N, K // 2]], [BF, "unsigned char", "unsigned char"], []),
    ("flashinfer::bmm_fp8", [[M, K], [K, N], [M, N]], [F8, F8, BF], []),
    ("sgl_kernel::dsv3_router_gemm", [[], [M, K], [N, K]], ["", BF, BF], []),
    ("_C::gptq_marlin_gemm", [[M, K], [], [2, 64]], [H, "", "int"], []),                   # no size trio
    ("_C::marlin_gemm", [[], [], [2, 64]], ["", "", "int"], []),
    ("_C::ggml_mul_mat_a8", [[100], [], [], []], ["unsigned char", "", "Scalar", "Scalar"], []),
    ("_C::awq_gemm", [[M, K], [K, N // 8], [N]], [H, "int", H], []),                        # 1-d scales: N unknown
])
def test_inputs_not_recorded(name, dims, types, conc):
    c = op_cost(name, dims, types, conc)
    assert c.flops is None and c.note == NOT_RECORDED


def test_unknown_dtypes_keep_the_flops():
    # torch 1.8 records dims without types: M, N, K are known, the bytes are not
    c = op_cost("aten::fbgemm_linear_fp16_weight", [[M, K], [8], [N]], [], [])
    assert c.flops == MM and c.bytes is None
    c = op_cost("_C::gptq_marlin_gemm", [[M, K], [2, 64]] + [[]] * 5, [], ["", "", "", "", str(M), str(N), str(K)])
    assert c.flops == MM and c.bytes is None

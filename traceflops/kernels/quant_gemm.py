"""Quantized, packed and custom-namespace GEMMs: 2*M*N*K wherever M, N and K can be read, from the layouts
each library records (ops.md §C, §D, §E). Packed weights are recorded with their packed shape (int4: two
values a byte), so N and K come from the operand whose layout is plain: the activation's last dim for K,
and a scale / bias / unpacked dim (or a concrete size argument) for N.

bytes: every operand as recorded (packed weights at their packed size) + the output written (bf16/fp16/fp32
as the op returns). Where a prepacked weight is not recorded at all (`quantized::linear`'s packed params:
type "", dims []), N is unknown: no formula (the activation read stays the lower bound).
"""
from __future__ import annotations

from dataclasses import replace

from .args import numel
from .dtypes import NON_TENSOR, dtype_bytes, scalar_type
from .registry import OpCost, compute_name, register


def gemm(a, m, n, k, reads, out_type=None, xi=0, note=None, scale=1):
    """OpCost of an M x N x K GEMM reading tensor inputs `reads` and writing M x N of `out_type` (default:
    the activation's dtype); `scale` multiplies the FLOPs (a batch)."""
    if None in (m, n, k) or min(m, n, k) < 0:
        return None
    rb = a.nbytes_sum(reads)
    out_size = dtype_bytes(out_type or a.type(xi))
    nbytes = None if rb is None or out_size is None else float(rb + scale * m * n * out_size)
    return OpCost(flops=float(2 * scale * m * n * k), bytes=nbytes, dtype=compute_name(a.type(xi)), family="gemm",
                  note=note)


def _mk(a, xi=0):
    x = a.shape(xi)
    if not x:
        return None, None
    return numel(x[:-1]), x[-1]


@register("aten::_weight_int8pack_mm", family="gemm")
def weight_int8pack_mm_flop(a):
    """_weight_int8pack_mm(self [M, K], mat2 int8 [N, K], scales [N])."""
    m, k = _mk(a)
    w = a.shape(1)
    return gemm(a, m, w[0] if w else None, k, [0, 1, 2])


@register("aten::_weight_int4pack_mm", "aten::_weight_int4pack_mm_for_cpu", family="gemm")
def weight_int4pack_mm_flop(a):
    """_weight_int4pack_mm(self [M, K], mat2 (packed int32 4-d tiles, or uint8 [N, K/2] for the CPU form),
    qGroupSize, qScaleAndZeros [K/G, N, 2]): N = qScaleAndZeros[1]."""
    m, k = _mk(a)
    qsz = a.shape(3)
    n = qsz[1] if qsz and len(qsz) == 3 else None
    return gemm(a, m, n, k, [0, 1, 3])


@register("aten::_dyn_quant_matmul_4bit", family="gemm")
def dyn_quant_matmul_4bit_flop(a):
    """_dyn_quant_matmul_4bit(inp [M, K], packed_weights, block_size, in_features K, out_features N)."""
    m, _ = _mk(a)
    return gemm(a, m, a.int(4), a.int(3), [0, 1], out_type="float")


@register("aten::_sparse_semi_structured_linear", family="gemm")
def sparse_semi_structured_linear_flop(a):
    """_sparse_semi_structured_linear(input [.., K], weight 2:4-compressed [N, K/2], meta, bias, activation,
    out_dtype): dense 2*M*N*K (the model's math), N = weight[0]."""
    m, k = _mk(a)
    w = a.shape(1)
    return gemm(a, m, w[0] if w else None, k, [0, 1, 2, 3], out_type=scalar_type(a.raw(5)) if len(a.concrete) > 5 else None)


@register("aten::_mixed_dtypes_linear", family="gemm")
def mixed_dtypes_linear_flop(a):
    """_mixed_dtypes_linear(input [M, K], weight int8 / packed uint4 [K, N(/2)], scale [N], bias, activation)."""
    m, k = _mk(a)
    sc = a.shape(2)
    return gemm(a, m, sc[0] if sc else None, k, [0, 1, 2, 3])


@register("aten::fbgemm_linear_int8_weight", "aten::fbgemm_linear_int8_weight_fp32_activation", family="gemm")
def fbgemm_linear_int8_flop(a):
    """fbgemm_linear_int8_weight(input [M, K] f32, weight int8 [N, K], packed, col_offsets, weight_scale,
    weight_zero_point, bias [N]): N = weight[0]."""
    m, k = _mk(a)
    w = a.shape(1)
    return gemm(a, m, w[0] if w else None, k, [0, 1, 3, 6])


@register("aten::fbgemm_linear_fp16_weight", "aten::fbgemm_linear_fp16_weight_fp32_activation", family="gemm")
def fbgemm_linear_fp16_flop(a):
    """fbgemm_linear_fp16_weight(input [M, K], packed_weight (an opaque blob), bias [N]): N from the bias; the
    weight read is N*K fp16."""
    m, k = _mk(a)
    b = a.shape(2)
    res = gemm(a, m, b[0] if b else None, k, [0, 2])
    if res is None or res.bytes is None:
        return res
    return replace(res, bytes=res.bytes + b[0] * k * 2)


@register("mkldnn::_linear_pointwise", family="gemm")
def mkldnn_linear_pointwise_flop(a):
    """unary (X [.., K], W [N, K] (reordered but recorded with its [N, K] dims), B, attr, scalars, algorithm):
    6 inputs; `.binary` (X, other [.., N], W, B, attr): 5 inputs, reading `other` too."""
    m, k = _mk(a)
    binary = len(a.dims) == 5 or (a.shape(1) is not None and a.shape(2) is not None and len(a.shape(2)) == 2
                                  and len(a.shape(1)) >= 2 and a.shape(1)[-1] == a.shape(2)[0])
    w = a.shape(2 if binary else 1)
    return gemm(a, m, w[0] if w else None, k, [0, 1, 2, 3] if binary else [0, 1, 2])


@register("mkl::_mkl_linear", family="gemm")
def mkl_linear_flop(a):
    """_mkl_linear(X [.., K], MKL_W (packed blob: not counted), ORI_W [N, K], B, batch_size): N, K from ORI_W;
    bytes read X, the weight once (ORI_W's size) and B."""
    m, _ = _mk(a)
    w = a.shape(2)
    if not w or len(w) != 2:
        return None
    return gemm(a, m, w[0], w[1], [0, 2, 3])


@register("onednn::qlinear_pointwise", family="gemm")
def onednn_qlinear_flop(a):
    """qlinear_pointwise (qx [M, K], x_scale, x_zp, qw packed, recorded [K, N], w_scale [N], w_zp, bias, ...,
    output_dtype, ...): 13 inputs; `.binary` (18 inputs) adds `other` [.., N] (at 10 in 2.4, at 6 from 2.6).
    N = w_scale[0] (else qw[1]); output dtype: the recorded ScalarType, else uint8."""
    m, k = _mk(a)
    ws, qw = a.shape(4), a.shape(3)
    n = ws[0] if ws else (qw[1] if qw and len(qw) == 2 else None)
    binary = len(a.dims) >= 18
    # the old layout's position 6 is the 1-d bias; the new one's is `other`, shaped like the output (2-d or
    # more: a 3-d activation gives a 3-d `other`), and only the new one has a tensor (bias) at 7
    s6 = a.shape(6)
    new_layout = binary and (a.is_tensor(7) or (s6 is not None and len(s6) >= 2))
    out_i = (10 if new_layout else 9) if binary else 9
    reads = [0, 1, 2, 3, 4, 5, 6] + ([7] if new_layout else [10] if binary else [])
    # x_scale / x_zero_point are Scalars except in the `.tensor` overloads: scalars move no bytes
    reads = [i for i in reads if a.type(i) not in NON_TENSOR or a.type(i) == ""]
    return gemm(a, m, n, k, reads, out_type=scalar_type(a.raw(out_i)) or "unsigned char")


# ---- serving stacks and kernel libraries --------------------------------------------------------------------


def _weight_nk(a, xi, wi, reads=None, out_type=None):
    """x [.., K] @ weight [N, K].T"""
    m, k = _mk(a, xi)
    w = a.shape(wi)
    if not w or len(w) != 2:
        return None
    return gemm(a, m, w[0], k, reads if reads is not None else a.tensor_idx(), xi=xi, out_type=out_type)


def _weight_kn(a, xi, wi, reads=None, out_type=None):
    """x [M, K] @ b [K, N] (a column-major view recorded as [K, N])"""
    m, k = _mk(a, xi)
    w = a.shape(wi)
    if not w or len(w) != 2:
        return None
    return gemm(a, m, w[1], k, reads if reads is not None else a.tensor_idx(), xi=xi, out_type=out_type)


@register("fbgemm::f8f8bf16_rowwise", "fbgemm::f8f8bf16_blockwise", "fbgemm::f8f8bf16_tensorwise",
          "fbgemm::f8f8bf16", "fbgemm::f8f8bf16_cublas", "fbgemm::i8i8bf16", "mslk::f8f8bf16_rowwise",
          "aiter::gemm_a8w8_blockscale", "vllm::rocm_aiter_gemm_a8w8", "vllm::rocm_aiter_gemm_a8w8_blockscale",
          family="gemm")
def fp8_rowwise_flop(a):
    """fbgemm GenAI (XQ [M, K], WQ [N, K], x_scale, w_scale, ...) and aiter/vLLM a8w8 (A, B [N, K], As, Bs, ...):
    2*M*N*K with N = WQ[0]; output bf16 (the ops return bf16)."""
    return _weight_nk(a, 0, 1, out_type="c10::BFloat16")


@register("fbgemm::f8f8bf16_rowwise_out", family="gemm")
def fp8_rowwise_out_flop(a):
    """f8f8bf16_rowwise_out(XQ, WQ, x_scale, w_scale, output (written), bias, use_fast_accum)."""
    m, k = _mk(a)
    w = a.shape(1)
    return gemm(a, m, w[0] if w else None, k, [0, 1, 2, 3, 5], out_type=a.type(4) or "c10::BFloat16")


@register("fbgemm::bf16i4bf16_rowwise", "fbgemm::f8i4bf16_rowwise", family="gemm")
def int4_rowwise_flop(a):
    """bf16i4bf16_rowwise(X [M, K], WQ int4 [N, K/2], w_scale, w_zp) / f8i4bf16_rowwise(XQ, WQ, x_scale,
    w_scale, w_zp): N = WQ[0], K = X[-1]."""
    return _weight_nk(a, 0, 1, out_type="c10::BFloat16")


@register("fbgemm::f8f8bf16_rowwise_grouped_stacked", "fbgemm::bf16bf16bf16_grouped_stacked", family="gemm")
def grouped_stacked_flop(a):
    """(X [T, K], W [G, N, K], ...): every token through one group: 2*T*N*K."""
    x, w = a.shape(0), a.shape(1)
    if not x or not w or len(w) != 3:
        return None
    return gemm(a, numel(x[:-1]), w[1], x[-1], a.tensor_idx(), out_type="c10::BFloat16")


@register("_C::cutlass_scaled_mm", "_C::cutlass_scaled_mm_azp", "_C::cutlass_scaled_mm_dq", family="gemm")
def cutlass_scaled_mm_flop(a):
    """vLLM cutlass_scaled_mm(out [M, N], a [M, K] int8/fp8, b [K, N] (column-major), a_scales, b_scales,
    [azp_adj, azp,] bias): M = a[0], K = a[1], N = b[1]; the out tensor is written, not read."""
    out = a.shape(0)
    reads = [i for i in range(1, len(a.dims))]
    return _weight_kn(a, 1, 2, reads, out_type=a.type(0) if out is not None else None)


@register("_C::cutlass_scaled_fp4_mm", family="gemm")
def cutlass_scaled_fp4_mm_flop(a):
    """cutlass_scaled_fp4_mm(out [M, N], a [M, K/2] packed, b [N, K/2], block_scale_a, block_scale_b, alpha):
    K = 2 * a[1]."""
    x, w = a.shape(1), a.shape(2)
    if not x or not w or len(x) != 2 or len(w) != 2:
        return None
    return gemm(a, x[0], w[0], 2 * x[1], list(range(1, len(a.dims))), xi=1, out_type=a.type(0))


@register("sgl_kernel::fp8_scaled_mm", "sgl_kernel::int8_scaled_mm", "sgl_kernel::fp8_blockwise_scaled_mm",
          family="gemm")
def sgl_scaled_mm_flop(a):
    """(mat_a [M, K], mat_b [K, N] (weight.t()), scales_a, scales_b, out_dtype, bias): N = mat_b[1]."""
    return _weight_kn(a, 0, 1, [0, 1, 2, 3, 5], out_type=scalar_type(a.raw(4)))


@register("sgl_kernel::bmm_fp8", "flashinfer::bmm_fp8", family="gemm")
def bmm_fp8_flop(a):
    """bmm_fp8(A [B, M, K], B [B, K, N], D (out) [B, M, N], A_scale, B_scale, ...): 2*B*M*N*K."""
    x, w, d = a.shape(0), a.shape(1), a.shape(2)
    if not x or not w or len(x) != 3 or len(w) != 3:
        return None
    return gemm(a, x[1], w[2], x[2], [0, 1, 3, 4], out_type=a.type(2) if d is not None else None, scale=x[0])


@register("_C::dsv3_fused_a_gemm", "sgl_kernel::dsv3_fused_a_gemm", "sgl_kernel::dsv3_router_gemm", family="gemm")
def out_a_b_gemm_flop(a):
    """(output [M, N], mat_a [M, K], mat_b): M, K from mat_a, N from the output."""
    out, x = a.shape(0), a.shape(1)
    if not out or not x:
        return None
    return gemm(a, numel(x[:-1]), out[-1], x[-1], [1, 2], xi=1, out_type=a.type(0))


def _size_trio(a, start=4):
    """(m, n, k) from the first three consecutive concrete ints whose m and k match the activation
    (Marlin-family ops moved size_m/n/k between versions)."""
    x = a.shape(0)
    if not x:
        return None
    m0, k0 = numel(x[:-1]), x[-1]
    ints = [a.int(i) for i in range(len(a.concrete))]
    for i in range(start, len(ints) - 2):
        m, n, k = ints[i:i + 3]
        if m == m0 and k == k0 and n:
            return m, n, k
    return None


@register("_C::gptq_marlin_gemm", "_C::marlin_gemm", "_C::gptq_marlin_24_gemm", "_C::fp8_marlin_gemm",
          "_C::awq_marlin_gemm", "sgl_kernel::gptq_marlin_gemm", "torchao::marlin_24_gemm", "torchao::marlin_qqq_gemm",
          family="gemm")
def marlin_gemm_flop(a):
    """Marlin GEMMs (a [M, K], packed weights, scales, ..., size_m, size_n, size_k, ...): 2*m*n*k from the
    concrete (m, n, k) whose m and k match the activation, wherever a version put them."""
    trio = _size_trio(a)
    if trio is None:
        return None
    m, n, k = trio
    return gemm(a, m, n, k, a.tensor_idx())


@register("_C::awq_gemm", family="gemm")
def awq_gemm_flop(a):
    """awq_gemm(in [M, K], kernel int32 [K, N/8], scaling_factors [K/G, N], zeros, split_k_iters): N = scales[1]."""
    m, k = _mk(a)
    sc = a.shape(2)
    return gemm(a, m, sc[1] if sc and len(sc) == 2 else None, k, [0, 1, 2, 3])


@register("_C::gptq_gemm", family="gemm")
def gptq_gemm_flop(a):
    """gptq_gemm(a [M, K], b_q_weight [K*bit/32, N], b_gptq_qzeros, b_gptq_scales [G, N], b_g_idx, ...)."""
    m, k = _mk(a)
    sc = a.shape(3)
    return gemm(a, m, sc[1] if sc and len(sc) == 2 else None, k, [0, 1, 2, 3, 4])


@register("_C::machete_mm", family="gemm")
def machete_mm_flop(a):
    """machete_mm(A [M, K], B prepacked, b_type, out_type, group_scales [K/G, N], group_zeros, group_size,
    channel_scales [N], token_scales, schedule): N from group_scales[-1] or channel_scales[0]."""
    m, k = _mk(a)
    gs, cs = a.shape(4), a.shape(7)
    n = gs[-1] if gs else (cs[0] if cs else None)
    return gemm(a, m, n, k, a.tensor_idx())


@register("_C::ggml_mul_mat_a8", "_C::ggml_mul_mat_vec_a8", family="gemm")
def ggml_mul_mat_flop(a):
    """ggml_mul_mat_a8(W (quantized blob), X [M, K], type, row N)."""
    x = a.shape(1)
    if not x:
        return None
    return gemm(a, numel(x[:-1]), a.int(3), x[-1], [0, 1], xi=1)


@register("_C::allspark_w8a16_gemm", family="gemm")
def allspark_gemm_flop(a):
    """allspark_w8a16_gemm(a [M, K], b_qweight, b_scales, b_qzeros, n, group_size, ...): N concrete at 4."""
    m, k = _mk(a)
    return gemm(a, m, a.int(4), k, [0, 1, 2, 3])


@register("torchao::quant_llm_linear", family="gemm")
def quant_llm_linear_flop(a):
    """quant_llm_linear(EXPONENT, MANTISSA, in [M, K], weights [N, K*bits/8], scales [N], splitK): N = weights[0]."""
    m, k = _mk(a, 2)
    w = a.shape(3)
    return gemm(a, m, w[0] if w else None, k, [2, 3, 4], xi=2)


@register("torchao::rowwise_scaled_linear_cutlass_s8s4", "torchao::rowwise_scaled_linear_cutlass_s4s4",
          family="gemm")
def torchao_rowwise_flop(a):
    """(input [M, K'], input_scale, weight [N, K'], weight_scale, bias, out_dtype): K' is packed for int4
    inputs (s4s4: K = 2 * K')."""
    m, k = _mk(a)
    w = a.shape(2)
    if k is not None and (a.extra.get("name") or "").endswith("s4s4"):
        k *= 2
    return gemm(a, m, w[0] if w else None, k, [0, 1, 2, 3, 4], out_type=scalar_type(a.raw(5)) or "c10::BFloat16")


@register("torchao::mx_fp8_bf16", "torchao::swizzle_mm", family="gemm")
def torchao_mm_flop(a):
    """mx_fp8_bf16(a [M, K], b [K, N], a_scale, b_scale) (returns bf16) / swizzle_mm(mat1, mat2, ...): 2*M*N*K."""
    bf16 = (a.extra.get("name") or "").endswith("bf16")
    return _weight_kn(a, 0, 1, a.tensor_idx(), out_type="c10::BFloat16" if bf16 else None)


@register("symm_mem::fused_matmul_reduce_scatter", "symm_mem::_async_input_mm", family="gemm")
def fused_matmul_rs_flop(a):
    """fused_matmul_reduce_scatter(A [M, K], B [K, N], reduce_op, scatter_dim, group_name) and the micro-
    pipeline's _async_input_mm(a, b, ...): the local 2*M*N*K (the reduce-scatter's traffic is not DRAM)."""
    return _weight_kn(a, 0, 1, [0, 1])

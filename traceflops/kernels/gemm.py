"""Matrix-multiply formulas: 2*M*N*K FLOPs, counted on the matmul only (bias adds and
alpha/beta scaling are ignored, as torch.utils.flop_counter does).

bytes = read A and B (and the bias/self tensor when one is given) + write the output.
Out-variants from compiled graphs carry the `out` tensor as a trailing input; it is the
output, so it is not counted as a read.
"""
from __future__ import annotations

from dataclasses import replace

from .dtypes import dtype_bytes, scalar_type
from .registry import OpCost, compute_name, numel, register


def _matmul_cost(flops, a, ia, ib, out_elems, extra_reads=(), out_type=None, source="formula", note=None):
    ta = a.type(ia)
    reads = [a.nbytes(ia), a.nbytes(ib), a.nbytes_sum(extra_reads)]
    out_size = dtype_bytes(out_type or ta)
    if any(r is None for r in reads) or out_size is None:
        nbytes = None
    else:
        nbytes = sum(reads) + out_elems * out_size
    return OpCost(flops=float(flops), bytes=None if nbytes is None else float(nbytes),
                  dtype=compute_name(ta), source=source, note=note)


@register("aten::mm", "aten::_int_mm", "aten::matmul_out_mm", family="gemm")
def mm_flop(a):
    """[M,K] @ [K,N]: 2*M*N*K. (`out=` variant: a trailing tensor that is not read.)"""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None or len(x) != 2 or len(w) != 2:
        return None
    m, k = x
    n = w[1]
    # int8 x int8 (_int_mm) accumulates into int32
    out_type = "int" if a.type(0) in ("signed char", "unsigned char") else None
    return _matmul_cost(2 * m * n * k, a, 0, 1, m * n, out_type=out_type)


@register("aten::addmm", "aten::_addmm_activation", family="gemm")
def addmm_flop(a):
    """bias + [M,K] @ [K,N]: 2*M*N*K (the bias add is not counted); bias is read once."""
    x, w = a.shape(1), a.shape(2)
    if x is None or w is None or len(x) != 2 or len(w) != 2:
        return None
    m, k = x
    n = w[1]
    return _matmul_cost(2 * m * n * k, a, 1, 2, m * n, extra_reads=(0,))


@register("aten::bmm", family="gemm")
def bmm_flop(a):
    """[B,M,K] @ [B,K,N]: 2*B*M*N*K."""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None or len(x) != 3 or len(w) != 3:
        return None
    b, m, k = x
    n = w[2]
    return _matmul_cost(2 * b * m * n * k, a, 0, 1, b * m * n)


@register("aten::baddbmm", family="gemm")
def baddbmm_flop(a):
    """self + [B,M,K] @ [B,K,N]: 2*B*M*N*K."""
    x, w = a.shape(1), a.shape(2)
    if x is None or w is None or len(x) != 3 or len(w) != 3:
        return None
    b, m, k = x
    n = w[2]
    return _matmul_cost(2 * b * m * n * k, a, 1, 2, b * m * n, extra_reads=(0,))


@register("aten::addbmm", family="gemm")
def addbmm_flop(a):
    """self + sum_b [B,M,K] @ [B,K,N] -> [M,N]: 2*B*M*N*K (the batch sum is the K loop continued)."""
    x, w = a.shape(1), a.shape(2)
    if x is None or w is None or len(x) != 3 or len(w) != 3:
        return None
    b, m, k = x
    n = w[2]
    return _matmul_cost(2 * b * m * n * k, a, 1, 2, m * n, extra_reads=(0,))


@register("aten::mv", family="gemm")
def mv_flop(a):
    """[M,K] @ [K]: 2*M*K."""
    x = a.shape(0)
    if x is None or len(x) != 2 or a.shape(1) is None:
        return None
    m, k = x
    return _matmul_cost(2 * m * k, a, 0, 1, m)


@register("aten::addmv", family="gemm")
def addmv_flop(a):
    """self + [M,K] @ [K]: 2*M*K."""
    x = a.shape(1)
    if x is None or len(x) != 2 or a.shape(2) is None:
        return None
    m, k = x
    return _matmul_cost(2 * m * k, a, 1, 2, m, extra_reads=(0,))


@register("aten::dot", "aten::vdot", family="gemm")
def dot_flop(a):
    """[K] . [K]: 2*K."""
    x = a.shape(0)
    if x is None or len(x) != 1 or a.shape(1) is None:
        return None
    return _matmul_cost(2 * x[0], a, 0, 1, 1)


def _out_dtype(a, i, default):
    return scalar_type(a.raw(i)) or default


@register("aten::_scaled_mm", family="gemm")
def scaled_mm_flop(a):
    """fp8 [M,K] @ [K,N] with scales: 2*M*N*K; reads the scales and bias. Two layouts (ops.md §0.2): torch >= 2.5
    (self, mat2, scale_a, scale_b, bias, scale_result, out_dtype, use_fast_accum); 2.1-2.4 (self, mat2, *, bias,
    out_dtype, scale_a, scale_b, scale_result[, use_fast_accum]), where position 3 is a ScalarType (never a
    tensor). The output dtype is out_dtype, else the input dtype as torch does."""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None or len(x) != 2 or len(w) != 2:
        return None
    m, k = x
    n = w[1]
    if a.shape(3) is None and len(a.dims) > 4 and a.shape(4) is not None:  # 2.1-2.4
        return _matmul_cost(2 * m * n * k, a, 0, 1, m * n, extra_reads=(2, 4, 5, 6),
                            out_type=_out_dtype(a, 3, a.type(0)))
    return _matmul_cost(2 * m * n * k, a, 0, 1, m * n, extra_reads=(2, 3, 4),
                        out_type=_out_dtype(a, 6, a.type(0)))


@register("aten::_scaled_mm_v2", family="gemm")
def scaled_mm_v2_flop(a):
    """_scaled_mm_v2(self, mat2, scale_a Tensor[], recipe_a, swizzle_a, scale_b Tensor[], recipe_b, swizzle_b,
    bias, out_dtype, contraction_dim, use_fast_accum) (2.10+): 2*M*N*K; scale lists are read (1 byte per
    element: their dtype is not recorded)."""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None or len(x) != 2 or len(w) != 2:
        return None
    m, k = x
    n = w[1]
    res = _matmul_cost(2 * m * n * k, a, 0, 1, m * n, extra_reads=(8,), out_type=_out_dtype(a, 9, a.type(0)))
    scales = sum(numel(s) for i in (2, 5) for s in (a.tensor_list(i) or []))
    return res if res.bytes is None else replace(res, bytes=res.bytes + scales)


@register("aten::_grouped_mm", "aten::_scaled_grouped_mm", family="gemm")
def grouped_mm_flop(a):
    """Grouped GEMM (MoE). Shapes: 3d x 3d = batched [G,M,K]@[G,K,N]; 2d x 3d = tokens [T,K]
    split by `offs` over G experts [G,K,N] -> 2*T*K*N whatever the split (each token row goes
    through exactly one group); 3d x 2d and 2d x 2d split the K or N dimension and are exact
    as 2*M*N*K_total. Without offsets the 2d x 3d count still holds when the groups cover all
    rows, which torch requires, so it is a formula; a ragged `offs` that stops early is not
    visible here (noted)."""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None:
        return None
    note = None
    if len(x) == 3 and len(w) == 3:
        g, m, k = x
        flops, out = 2 * g * m * k * w[2], g * m * w[2]
    elif len(x) == 2 and len(w) == 3:
        t, k = x
        n = w[2]
        flops, out = 2 * t * k * n, t * n
        note = "assumes offs covers all rows"
    elif len(x) == 3 and len(w) == 2:  # offs splits N: group g's columns meet only x[g] -> [M, N_total]
        _, m, k = x
        n = w[1]
        flops, out = 2 * m * k * n, m * n
    elif len(x) == 2 and len(w) == 2:
        m, k = x
        n = w[1]
        flops, out = 2 * m * k * n, m * n
        note = "2d x 2d: K split in groups; output groups not visible"
    else:
        return None
    # _grouped_mm(self, mat2, offs, bias, out_dtype); _scaled_grouped_mm(self, mat2, scale_a, scale_b, offs,
    # bias, scale_result, out_dtype, use_fast_accum): every optional tensor is read
    scaled = (a.extra.get("name") or "").endswith("_scaled_grouped_mm")
    reads, out_i = ((2, 3, 4, 5, 6), 7) if scaled else ((2, 3), 4)
    return _matmul_cost(flops, a, 0, 1, out, extra_reads=reads, source="estimate" if note else "formula",
                        note=note, out_type=_out_dtype(a, out_i, a.type(0)))


@register("aiter::gemm_a16w16", "vllm::rocm_unquantized_gemm", "aiter::gemm_a8w8",
          "aiter::gemm_a8w8_bpreshuffle", family="gemm")
def linear_weight_nk_flop(a):
    """Custom linear kernels taking x [..., K] and weight [N, K] (F.linear layout): 2*M*N*K."""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None or len(x) < 1 or len(w) != 2 or x[-1] != w[1]:
        return None
    m = numel(x[:-1])
    n, k = w
    return _matmul_cost(2 * m * n * k, a, 0, 1, m * n)

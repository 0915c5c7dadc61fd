"""Serving-stack ops (vLLM `_C` / `_C_cache_ops` / `_moe_C`, SGLang `sgl_kernel` / `sglang`, aiter, FlashInfer)
and quantize / dequantize: positional schemas from their registration source (ops.md §D, §E).

* KV-cache writes touch T slots of a cache tensor many times larger: bytes = the key/value rows and the slot
  indices read + as many cache elements written (never the whole cache). 0 FLOPs.
* paged attention reads an unrecorded number of cached tokens (the per-sequence lengths are tensor values):
  FLOPs unknown; bytes a lower bound (query, block tables and lengths read, output written).
* fused gated activations `(out [.., d], input [.., 2d])`: per output element silu_and_mul 5, gelu_and_mul and
  gelu_tanh_and_mul 6 (gelu 5 + the product), mul_and_silu 5, fatrelu_and_mul 2, swigluoai_and_mul 9 (two
  clamps, sigmoid of alpha*x 4, two products, the +1).
* quantization per element: static scale 2 (scale, clamp; the cast is free), dynamic 3 (+ the amax),
  dequantize 2 (zero point, scale).
* MoE: topk_softmax 5 per router logit (softmax); moe_sum (k - 1) adds per output element; fused experts
  2*T*k*N1*H + 2*T*k*H*I (gate/up then down projections of the k experts each token picks).
"""
from __future__ import annotations

from .args import numel
from .dtypes import dtype_bytes, scalar_type
from .pointwise import rope_cost
from .registry import OpCost, compute_name, mark_sparse, register

# ---- KV caches -------------------------------------------------------------------------------------------


def _cache_write(a, srcs, caches, slots):
    """Read the source rows and the slot indices, write as many elements of the caches (their dtype)."""
    reads = a.nbytes_sum(srcs + [slots], tensors_only=True)
    if reads is None:
        return None
    written = 0.0
    for s, c in zip(srcs, caches):
        if a.shape(s) is None or a.itemsize(c) is None:
            return None
        written += numel(a.shape(s)) * a.itemsize(c)
    return OpCost(flops=0.0, bytes=reads + written, dtype=compute_name(a.type(srcs[0])), family="kv_cache")


@register("_C_cache_ops::reshape_and_cache", "_C_cache_ops::reshape_and_cache_flash", "_C::reshape_and_cache",
          "_C::reshape_and_cache_flash", "sglang::store_cache", family="kv_cache", sparse=True)
def reshape_and_cache_flop(a):
    """(key [T, Hk, D], value, key_cache, value_cache, slot_mapping [T], ...): T slots written per cache."""
    return _cache_write(a, [0, 1], [2, 3], 4)


@register("_C_cache_ops::concat_and_cache_mla", "_C::concat_and_cache_mla", family="kv_cache", sparse=True)
def concat_and_cache_mla_flop(a):
    """concat_and_cache_mla(kv_c [T, Lc], k_pe [T, R], kv_cache [NB, bs, Lc + R], slot_mapping, ...)."""
    return _cache_write(a, [0, 1], [2, 2], 3)


# block copies: the block_mapping values (which blocks) are not recorded
mark_sparse("_C_cache_ops::swap_blocks", "_C_cache_ops::copy_blocks", "_C_cache_ops::copy_blocks_mla",
            "_C_cache_ops::gather_cache", "_C_cache_ops::gather_and_maybe_dequant_cache")


def _paged(q_i, out_i, small):
    def paged_attention_bytes(a):
        q = a.shape(q_i)
        reads = a.nbytes_sum([q_i] + small, tensors_only=True)
        if q is None or reads is None or a.itemsize(q_i) is None:
            return None
        return OpCost(flops=None, bytes=reads + numel(q) * a.itemsize(q_i), dtype=compute_name(a.type(q_i)),
                      family="attention", bytes_source="lower_bound",
                      note="cached tokens per sequence not recorded: FLOPs unknown, bytes without the KV reads")
    paged_attention_bytes.__doc__ = (f"paged attention (query at {q_i}, out at {out_i}): the KV tokens read are "
                                     "tensor values; bytes a lower bound, FLOPs unknown.")
    return paged_attention_bytes


register("_C::paged_attention_v1", family="attention", sparse=True)(_paged(1, 0, [6, 7]))
register("_C::paged_attention_v2", family="attention", sparse=True)(_paged(4, 0, [9, 10]))
register("_rocm_C::paged_attention", family="attention", sparse=True)(_paged(4, 0, [9, 10]))
register("aiter::paged_attention_rocm", family="attention", sparse=True)(_paged(4, 0, [9, 10]))
register("aiter::pa_fwd_asm", family="attention", sparse=True)(_paged(0, 9, [3, 4]))


# ---- activations, norms, rope -------------------------------------------------------------------------------

GATED = {"silu_and_mul": 5, "gelu_and_mul": 6, "gelu_tanh_and_mul": 6, "mul_and_silu": 5, "fatrelu_and_mul": 2,
         "swigluoai_and_mul": 9}


def _gated(per):
    def gated_activation_flop(a):
        out, x = a.shape(0), a.shape(1)
        if out is None or x is None or a.itemsize(1) is None or a.itemsize(0) is None:
            return None
        n = numel(out)
        return OpCost(flops=float(per * n), bytes=float(numel(x) * a.itemsize(1) + n * a.itemsize(0)),
                      dtype=compute_name(a.type(1)), family="elementwise")
    gated_activation_flop.__doc__ = f"(out [.., d], input [.., 2d], ...): {per} per output element."
    return gated_activation_flop


for _op, _per in GATED.items():
    register(*[f"{ns}::{_op}" for ns in ("_C", "vllm", "sgl_kernel", "flashinfer", "aiter")],
             family="elementwise")(_gated(_per))


@register("_C::gelu_new", "_C::gelu_fast", "_C::gelu_quick", family="elementwise")
def gelu_out_flop(a):
    """(out, input): gelu 5 per element; reads input, writes out."""
    out, x = a.shape(0), a.shape(1)
    if out is None or x is None or a.itemsize(1) is None:
        return None
    return OpCost(flops=5.0 * numel(x), bytes=float(a.nbytes(1) + numel(out) * (a.itemsize(0) or 0)),
                  dtype=compute_name(a.type(1)), family="elementwise")


@register("sgl_kernel::apply_rope_pos_ids_cos_sin_cache", "flashinfer::apply_rope_pos_ids_cos_sin_cache",
          family="elementwise")
def apply_rope_flop(a):
    """(q [T, Hq, D], k [T, Hk, D], q_rope, k_rope, cos_sin_cache [P, R], pos_ids [T], ...): rotates R of every
    head's D dims (pointwise.rope_cost), reading q and k and writing q_rope, k_rope (as large as q, k)."""
    q = a.shape(0)
    if not q:
        return None
    return rope_cost(a, pos_i=5, q_i=0, k_i=1, cache_i=4, head=q[-1])


# ---- quantization -------------------------------------------------------------------------------------------


def _quant(out_i, in_i, per, scale_outs=()):
    def quant_flop(a):
        x, o = a.shape(in_i), a.shape(out_i)
        if x is None or o is None or a.itemsize(in_i) is None or a.itemsize(out_i) is None:
            return None
        extra = sum(a.nbytes(i) or 0 for i in scale_outs if i < len(a.dims))
        return OpCost(flops=float(per * numel(x)), bytes=float(a.nbytes(in_i) + numel(o) * a.itemsize(out_i) + extra),
                      dtype=compute_name(a.type(in_i)), family="quantize")
    quant_flop.__doc__ = f"(out {out_i}, input {in_i}, scales...): {per} per element; reads input, writes out."
    return quant_flop


register("_C::static_scaled_fp8_quant", "_C::static_scaled_int8_quant", family="quantize")(_quant(0, 1, 2, (2,)))
register("_C::dynamic_scaled_fp8_quant", "_C::dynamic_per_token_scaled_fp8_quant", "_C::dynamic_scaled_int8_quant",
         family="quantize")(_quant(0, 1, 3, (2,)))
register("_C::per_token_group_fp8_quant", "_C::per_token_group_quant_fp8", "sgl_kernel::sgl_per_token_group_quant_fp8",
         "sgl_kernel::sgl_per_token_group_quant_int8", "sgl_kernel::sgl_per_tensor_quant_fp8",
         "sgl_kernel::sgl_per_token_quant_fp8", family="quantize")(_quant(1, 0, 3, (2,)))


@register("aten::quantize_per_tensor", "aten::quantize_per_channel", "aten::quantize_per_tensor_dynamic",
          family="quantize")
def quantize_flop(a):
    """quantize_per_tensor(self, scale, zero_point, dtype) / _per_channel(self, scales, zero_points, axis, dtype)
    / _dynamic(self, dtype, reduce_range): 2 per element (3 dynamic: + the min/max); writes qint8/quint8 (1 B)
    or qint32 (4 B)."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    name = a.extra.get("name") or ""
    dyn = name.endswith("dynamic")
    code_i = 1 if dyn else (4 if name.endswith("channel") else 3)
    out = dtype_bytes(scalar_type(a.raw(code_i)) or "c10::qint8")
    reads = a.nbytes_sum([0, 1, 2] if not dyn else [0], tensors_only=True)
    n = numel(x)
    return OpCost(flops=float((3 if dyn else 2) * n), bytes=None if reads is None else reads + n * out,
                  dtype=compute_name(a.type(0)), family="quantize")


@register("aten::dequantize", "aten::int_repr", family="quantize")
def dequantize_flop(a):
    """dequantize(self quantized): (q - zero_point) * scale, 2 per element; writes float32 (int_repr: a copy to
    the integer type, 0 FLOPs)."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    rep = (a.extra.get("name") or "").endswith("int_repr")
    return OpCost(flops=0.0 if rep else 2.0 * n, bytes=float(n * a.itemsize(0) + n * (a.itemsize(0) if rep else 4)),
                  dtype=compute_name(a.type(0)), family="quantize")


# ---- MoE routing and experts --------------------------------------------------------------------------------


@register("_moe_C::topk_softmax", "sgl_kernel::topk_softmax", "aiter::topk_softmax", "vllm::rocm_aiter_topk_softmax",
          family="routing")
def topk_softmax_flop(a):
    """topk_softmax(topk_weights [T, k], topk_indices [T, k], [token_expert_indices [T, k],] gating_output
    [T, E][, renormalize]): the router logits are the widest [T, *] tensor; 5 per logit (softmax); reads them,
    writes every [T, k] output."""
    shapes = [(i, a.shape(i)) for i in range(len(a.dims)) if a.shape(i) is not None and len(a.shape(i)) == 2]
    if len(shapes) < 2:
        return None
    g = max(shapes, key=lambda s: s[1][1])
    outs = [i for i, s in shapes if i != g[0]]
    nbytes = a.nbytes_sum([g[0]] + outs, tensors_only=True)
    return OpCost(flops=5.0 * numel(g[1]), bytes=nbytes, dtype=compute_name(a.type(g[0])), family="routing")


@register("_moe_C::moe_sum", family="elementwise")
def moe_sum_flop(a):
    """moe_sum(input [T, k, H], output [T, H]): (k - 1) adds per output element."""
    x, o = a.shape(0), a.shape(1)
    if x is None or o is None or len(x) != 3:
        return None
    return OpCost(flops=float((x[1] - 1) * numel(o)), bytes=a.nbytes_sum([0, 1], tensors_only=True),
                  dtype=compute_name(a.type(0)), family="elementwise")


@register("vllm::inplace_fused_experts", "vllm::outplace_fused_experts", "vllm::fused_moe", "vllm::rocm_aiter_fused_moe",
          "vllm::rocm_aiter_asm_moe", family="gemm", sparse=True)
def fused_experts_flop(a):
    """(hidden_states [T, H], w1 [E, N1, H'], w2 [E, H, I'], topk_weights [T, k], topk_ids [T, k], ...): each
    token through k experts: 2*T*k*N1*H + 2*T*k*H*I, with H from the activations and I = I' x the packing
    H / H' (int4 packs two values a byte). bytes: activations, routing, output, and the weights of at least k
    experts (each token picks k distinct ones) — a lower bound."""
    x, w1, w2, ids = a.shape(0), a.shape(1), a.shape(2), a.shape(4)
    if None in (x, w1, w2, ids) or len(w1) != 3 or len(w2) != 3 or len(ids) != 2 or not x or not w1[2]:
        return None
    t, h = numel(x[:-1]), x[-1]
    k, e = ids[1], w1[0]
    pack = max(h // w1[2], 1)
    i_dim = w2[2] * pack
    flops = 2 * t * k * w1[1] * h + 2 * t * k * h * i_dim
    act = a.nbytes_sum([0, 3, 4], tensors_only=True)
    wsz = a.itemsize(1)
    if act is None or wsz is None or a.itemsize(0) is None or e <= 0:
        return OpCost(flops=float(flops), dtype=compute_name(a.type(0)), family="gemm")
    weights = min(k, e) * (numel(w1) + numel(w2)) / e * wsz
    return OpCost(flops=float(flops), bytes=act + numel(x) * a.itemsize(0) + weights, dtype=compute_name(a.type(0)),
                  family="gemm", bytes_source="lower_bound", note="weights of k experts (at least that many are read)")


@register("aiter::ck_moe_stage1", family="gemm", sparse=True)
def ck_moe_stage1_flop(a):
    """ck_moe_stage1(hidden [T, H], w1 [E, N1, H], w2, sorted_token_ids, sorted_expert_ids, num_valid_ids, out
    [T, k, I], topk, ...): 2*T*k*N1*H."""
    x, w1, out = a.shape(0), a.shape(1), a.shape(6)
    k = a.int(7) or (out[1] if out and len(out) == 3 else None)
    if x is None or w1 is None or len(w1) != 3 or not k:
        return None
    return OpCost(flops=float(2 * numel(x[:-1]) * k * w1[1] * x[-1]), dtype=compute_name(a.type(0)), family="gemm")


@register("aiter::ck_moe_stage2", family="gemm", sparse=True)
def ck_moe_stage2_flop(a):
    """ck_moe_stage2(inter [T, k, I], w1, w2 [E, H, I], ..., out [T, H], topk, ...): 2*T*k*H*I."""
    x, w2 = a.shape(0), a.shape(2)
    if x is None or w2 is None or len(x) != 3 or len(w2) != 3:
        return None
    return OpCost(flops=float(2 * x[0] * x[1] * w2[1] * x[2]), dtype=compute_name(a.type(0)), family="gemm")

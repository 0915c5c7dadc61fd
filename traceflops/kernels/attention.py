"""Attention formulas, counted exactly under the mask.

forward  = 2*B*Hq*P*(Dqk + Dv): QK^T and PV, 2 flops per MAC, P = attended (q, k) pairs per
           (batch, head). GQA: FLOPs follow the query heads.
backward = 2 x forward (dV, dP, dQ, dK); the QK^T recompute inside flash/efficient/cudnn
           backward kernels (2*B*Hq*P*Dqk) goes to `recompute_flops`.
Mask alignment: torch's SDPA `is_causal` is TOP-LEFT (query i sees keys 0..i, checked against
torch 2.13: it equals `tril(ones(L, S))`); flash-attn semantics (`_flash_attention_forward`
called directly, flash_attn::* ops, paged/varlen kernels) are BOTTOM-RIGHT (query i sees keys
0..Lk-Lq+i); `_efficient_attention_*` follows custom_mask_type (1 top-left, 2 bottom-right).
An explicit attn_mask/bias tensor is opaque: counted dense, noted.
Varlen batches whose cu_seqlens values are not in the trace are estimated with equal-length
sequences (source='estimate') unless every sequence must be max_seqlen long.
bytes = read q, k, v (+ out, grad_out, logsumexp in backward) + write outputs.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .registry import OpCost, compute_name, register

INF = float("inf")


def attended_pairs(lq, lk, causal, bottom_right, left=None, right=None) -> int:
    """Number of (query, key) pairs a mask lets through for one (batch, head).

    Query i (0-based) sees keys j with i+off-left <= j <= i+off+right, off = lk-lq when
    bottom-right aligned else 0; causal caps `right` at 0; None or negative window = unlimited.
    """
    lq, lk = int(lq), int(lk)
    if lq <= 0 or lk <= 0:
        return 0
    l = INF if left is None or left < 0 else left
    r = INF if right is None or right < 0 else right
    if causal:
        r = min(r, 0)
    if l == INF and r == INF:
        return lq * lk
    off = lk - lq if bottom_right else 0
    i = np.arange(lq, dtype=np.int64) + off
    lo = np.zeros(lq, dtype=np.int64) if l == INF else np.maximum(0, i - int(l))
    hi = np.full(lq, lk - 1, dtype=np.int64) if r == INF else np.minimum(lk - 1, i + int(r))
    return int(np.clip(hi - lo + 1, 0, None).sum())


def attention_cost(a, b, hq, lq, lk, dqk, dv, causal, bottom_right, left=None, right=None,
                   backward=False, io_bytes=None, source="formula", note=None, qi=0):
    pairs = attended_pairs(lq, lk, causal, bottom_right, left, right)
    fwd = 2 * b * hq * pairs * (dqk + dv)
    if backward:
        return OpCost(flops=float(2 * fwd), recompute_flops=float(2 * b * hq * pairs * dqk), bytes=io_bytes,
                      dtype=compute_name(a.type(qi)), source=source, note=note)
    return OpCost(flops=float(fwd), recompute_flops=0.0, bytes=io_bytes, dtype=compute_name(a.type(qi)),
                  source=source, note=note)


def _io(a, reads, out_elems):
    """Bytes of the given tensor inputs + `out_elems` elements written in the query's dtype."""
    vals = [a.nbytes(i) for i in reads]
    size = a.itemsize(reads[0])
    if None in vals or size is None:
        return None
    return float(sum(vals) + out_elems * size)


def _bhld(a, iq, ik, iv):
    q, k, v = a.shape(iq), a.shape(ik), a.shape(iv)
    if q is None or k is None or v is None or len(q) != 4 or len(k) != 4 or len(v) != 4:
        return None
    return q, k, v


def _mask_note(a, i):
    return "attn_mask counted dense" if i is not None and a.shape(i) not in (None, []) else None


def _sdpa(a, causal_i, mask_i=None, backward=False, lse_i=None, go=0):
    off = 1 if backward else 0
    s = _bhld(a, off, off + 1, off + 2)
    if s is None:
        return None
    (b, hq, lq, dqk), k, v = s
    note = masked = _mask_note(a, mask_i)
    causal = bool(a.bool(causal_i, False)) and note is None
    source = "formula"
    if a.bool(causal_i) is None and not any(a.raw(i) for i in range(len(a.concrete))) and lq > 1:
        # torch <= 2.0 recorded no Concrete Inputs: is_causal unknown, the dense count is an upper bound
        note, source = "is_causal not recorded: counted dense (an upper bound)", "estimate"
    if backward:
        # read grad_out, q, k, v, out, logsumexp; write dq, dk, dv (same shapes as q, k, v)
        io = _io(a, [go, 1, 2, 3, 4, lse_i, 1, 2, 3], 0)
    else:
        io = _io(a, [0, 1, 2] + ([mask_i] if masked else []), b * hq * lq * v[3])
    return attention_cost(a, b, hq, lq, k[2], dqk, v[3], causal, False, backward=backward, io_bytes=io,
                          note=note, qi=off, source=source)


@register("aten::_scaled_dot_product_flash_attention", family="attention")
def sdpa_flash_flop(a):
    """(query, key, value, dropout_p, is_causal, return_debug_mask, *, scale); [B,H,L,E]."""
    return _sdpa(a, 4)


@register("aten::_scaled_dot_product_flash_attention_for_cpu", family="attention")
def sdpa_flash_cpu_flop(a):
    """(query, key, value, dropout_p, is_causal, *, attn_mask, scale)."""
    return _sdpa(a, 4, mask_i=5)


@register("aten::_scaled_dot_product_efficient_attention", family="attention")
def sdpa_efficient_flop(a):
    """(query, key, value, attn_bias, compute_log_sumexp, dropout_p, is_causal, *, scale)."""
    return _sdpa(a, 6, mask_i=3)


@register("aten::_scaled_dot_product_cudnn_attention", family="attention")
def sdpa_cudnn_flop(a):
    """(query, key, value, attn_bias, compute_log_sumexp, dropout_p, is_causal, return_debug_mask, *, scale)."""
    return _sdpa(a, 6, mask_i=3)


@register("aten::_scaled_dot_product_flash_attention_backward", family="attention")
def sdpa_flash_backward_flop(a):
    """(grad_out, query, key, value, out, logsumexp, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, ...)."""
    return _sdpa(a, 11, backward=True, lse_i=5)


@register("aten::_scaled_dot_product_flash_attention_for_cpu_backward", family="attention")
def sdpa_flash_cpu_backward_flop(a):
    """(grad_out, query, key, value, out, logsumexp, dropout_p, is_causal, *, attn_mask, scale)."""
    return _sdpa(a, 7, mask_i=8, backward=True, lse_i=5)


@register("aten::_scaled_dot_product_efficient_attention_backward", family="attention")
def sdpa_efficient_backward_flop(a):
    """(grad_out, query, key, value, attn_bias, out, logsumexp, philox_seed, philox_offset,
    dropout_p, grad_input_mask, is_causal, *, scale). `out` is input 5 here."""
    return _sdpa_eff_bwd(a)


def _sdpa_eff_bwd(a):
    # `out` sits at input 5 (attn_bias is input 4), so the generic read list is shifted
    res = _sdpa(a, 11, mask_i=4, backward=True, lse_i=6)
    if res is None:
        return None
    io = _io(a, [0, 1, 2, 3, 5, 6, 1, 2, 3], 0)
    return replace(res, bytes=io)


@register("aten::_scaled_dot_product_cudnn_attention_backward", family="attention")
def sdpa_cudnn_backward_flop(a):
    """(grad_out, query, key, value, out, logsumexp, philox_seed, philox_offset, attn_bias,
    cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, *, scale)."""
    return _sdpa(a, 14, mask_i=8, backward=True, lse_i=5)


def _varlen(a, iq, ik, iv, icq, ick, imq, imk):
    """Per-sequence lengths for [B,L,H,D] or varlen [T,H,D] inputs -> (b, lq, lk, hq, dqk, dv, exact)."""
    q, k, v = a.shape(iq), a.shape(ik), a.shape(iv)
    if q is None or k is None or v is None or len(q) != len(k) or len(v) != len(k):
        return None
    if len(q) == 4:
        return q[0], q[1], k[1], q[2], q[3], v[3], True
    if len(q) != 3:
        return None
    cq = a.shape(icq) if icq is not None else None
    if not cq or len(cq) != 1 or cq[0] < 2:
        return None
    b = cq[0] - 1
    max_q, max_k = a.int(imq), a.int(imk)
    tq, tk = q[0], k[0]
    lq, lk = tq / b, tk / b
    exact = max_q is not None and tq == b * max_q and (max_k is not None and tk == b * max_k)
    return b, lq, lk, q[1], q[2], v[2], exact


def _window(a, il, ir):
    wl = a.int(il) if il is not None else None
    wr = a.int(ir) if ir is not None else None
    return wl, wr


def _flash(a, off, icq, ick, imq, imk, icausal, il, ir, backward=False, bottom_right=True, mask_type=None, iout=4):
    s = _varlen(a, off, off + 1, off + 2, icq, ick, imq, imk)
    if s is None:
        return None
    b, lq, lk, hq, dqk, dv, exact = s
    if mask_type is not None:
        mt = a.int(mask_type, 0)
        causal, bottom_right = mt in (1, 2), mt == 2
    else:
        causal = bool(a.bool(icausal, False))
    wl, wr = _window(a, il, ir)
    if not exact:
        lq_i, lk_i = int(round(lq)), int(round(lk))
    else:
        lq_i, lk_i = int(lq), int(lk)
    if backward:
        # read grad_out, out, q, k, v; write dq, dk, dv
        io = _io(a, [0, iout, off, off + 1, off + 2, off, off + 1, off + 2], 0)
    else:
        io = _io(a, [off, off + 1, off + 2], int(round(b * lq)) * hq * dv)
    note = None if exact else "varlen lengths not recorded: equal-length sequences assumed"
    return attention_cost(a, b, hq, lq_i, lk_i, dqk, dv, causal, bottom_right, wl, wr, backward=backward,
                          io_bytes=io, source="formula" if exact else "estimate", note=note, qi=off)


@register("aten::_flash_attention_forward", family="attention")
def flash_attention_forward_flop(a):
    """(query, key, value, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, return_debug_mask,
    *, scale, window_size_left, window_size_right, ...); [B,L,H,D] or varlen [T,H,D]; bottom-right."""
    return _flash(a, 0, 3, 4, 5, 6, 8, 11, 12)


@register("aten::_flash_attention_backward", family="attention")
def flash_attention_backward_flop(a):
    """(grad_out, query, key, value, out, logsumexp, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p,
    is_causal, rng_state, unused, *, scale, window_size_left, window_size_right)."""
    return _flash(a, 1, 6, 7, 8, 9, 11, 15, 16, backward=True)


@register("aten::_efficient_attention_forward", family="attention")
def efficient_attention_forward_flop(a):
    """(query, key, value, bias, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p,
    custom_mask_type, compute_log_sumexp, *, scale, seqlen_k, window_size); [B,M,H,K]."""
    res = _flash(a, 0, 4, 5, 6, 7, None, 13, None, mask_type=9)
    return _with_bias_note(a, res, 3)


@register("aten::_efficient_attention_backward", family="attention")
def efficient_attention_backward_flop(a):
    """(grad_out, query, key, value, bias, out, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
    logsumexp, dropout_p, philox_seed, philox_offset, custom_mask_type, bias_requires_grad, *, scale,
    num_splits_key, window_size, shared_storage_dqdkdv)."""
    res = _flash(a, 1, 6, 7, 8, 9, None, 18, None, backward=True, mask_type=14, iout=5)
    return _with_bias_note(a, res, 4)


def _with_bias_note(a, res, ib):
    if res is None or a.shape(ib) in (None, []):
        return res
    return replace(res, note="attn bias counted as given mask type")


@register("flash_attn::_flash_attn_forward", family="attention")
def flash_attn_forward_flop(a):
    """flash-attn 2: (q, k, v, dropout_p, softmax_scale, causal, window_size_left, window_size_right, ...)
    [B,L,H,D], bottom-right. flash-attn <= 2.5 passes window_size as one '[l, r]' list at input 6."""
    wl, wr = _lib_window(a, 6, 7)
    s = _varlen(a, 0, 1, 2, None, None, None, None)
    if s is None:
        return None
    b, lq, lk, hq, dqk, dv, _ = s
    io = _io(a, [0, 1, 2], b * lq * hq * dv)
    return attention_cost(a, b, hq, lq, lk, dqk, dv, bool(a.bool(5, False)), True, wl, wr, io_bytes=io)


@register("flash_attn::_flash_attn_varlen_forward", family="attention")
def flash_attn_varlen_forward_flop(a):
    """(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p, softmax_scale,
    causal, window_size_left, window_size_right, ...); [T,H,D]."""
    wl, wr = _lib_window(a, 10, 11)
    return _flash_lib(a, 0, 3, 4, 5, 6, 9, wl, wr)


@register("flash_attn::_flash_attn_backward", family="attention")
def flash_attn_backward_flop(a):
    """(dout, q, k, v, out, softmax_lse, dq, dk, dv, dropout_p, softmax_scale, causal,
    window_size_left, window_size_right, ...)."""
    wl, wr = _lib_window(a, 12, 13)
    s = _varlen(a, 1, 2, 3, None, None, None, None)
    if s is None:
        return None
    b, lq, lk, hq, dqk, dv, _ = s
    io = _io(a, [0, 1, 2, 3, 4, 5, 1, 2, 3], 0)
    return attention_cost(a, b, hq, lq, lk, dqk, dv, bool(a.bool(11, False)), True, wl, wr, backward=True,
                          io_bytes=io, qi=1)


@register("flash_attn::_flash_attn_varlen_backward", family="attention")
def flash_attn_varlen_backward_flop(a):
    """(dout, q, k, v, out, softmax_lse, dq, dk, dv, cu_seqlens_q, cu_seqlens_k, max_seqlen_q,
    max_seqlen_k, dropout_p, softmax_scale, causal, window_size_left, window_size_right, ...)."""
    wl, wr = _lib_window(a, 16, 17)
    return _flash_lib(a, 1, 9, 10, 11, 12, 15, wl, wr, backward=True)


def _lib_window(a, il, ir):
    both = a.ints(il)
    if both is not None and len(both) == 2 and a.raw(il).startswith("["):
        return both[0], both[1]
    return a.int(il), a.int(ir)


def _flash_lib(a, off, icq, ick, imq, imk, icausal, wl, wr, backward=False):
    s = _varlen(a, off, off + 1, off + 2, icq, ick, imq, imk)
    if s is None:
        return None
    b, lq, lk, hq, dqk, dv, exact = s
    reads = [off, off + 1, off + 2] + ([0, 4, 5, 1, 2, 3] if backward else [])  # + dout, out, lse; dq, dk, dv
    io = _io(a, reads, 0 if backward else int(round(b * lq)) * hq * dv)
    return attention_cost(a, b, hq, int(round(lq)), int(round(lk)), dqk, dv, bool(a.bool(icausal, False)), True,
                          wl, wr, backward=backward, io_bytes=io, source="formula" if exact else "estimate",
                          note=None if exact else "varlen lengths not recorded: equal-length sequences assumed",
                          qi=off)


@register("aiter::mha_batch_prefill", family="attention")
def aiter_batch_prefill_flop(a):
    """aiter paged prefill: (q [T,Hq,D], k_cache, v_cache, cu_seqlens_q, kv_indptr, kv_page_indices,
    max_seqlen_q, max_seqlen_k, dropout_p, softmax_scale, logits_soft_cap, zero_tensors, is_causal,
    window_size_left, window_size_right, ...). Sequence lengths are not recorded: estimate with
    B = len(cu_seqlens_q)-1 sequences of T/B queries each attending max_seqlen_k keys, bottom-right."""
    q, kc, vc, cq = a.shape(0), a.shape(1), a.shape(2), a.shape(3)
    mk = a.int(7)
    if q is None or kc is None or vc is None or not cq or len(q) != 3 or mk is None or cq[0] < 2:
        return None
    b = cq[0] - 1
    lq = int(round(q[0] / b))
    io = None
    if a.itemsize(0) is not None:
        io = float((2 * q[0] * q[1] * q[2] + 2 * b * mk * kc[-2] * kc[-1]) * a.itemsize(0))
    return attention_cost(a, b, q[1], lq, mk, q[2], vc[-1], bool(a.bool(12, False)), True, a.int(13), a.int(14),
                          io_bytes=io, source="estimate",
                          note="paged prefill: equal-length sequences, Lk=max_seqlen_k assumed")


@register("vllm::unified_attention_with_output", "vllm::unified_attention", family="attention")
def vllm_unified_attention_flop(a):
    """vLLM (query [T,Hq,D], key [T,Hkv,D], value, output, layer_name, ...): context lengths live in
    the forward context, not in the trace. Estimate: the T new tokens form one causal sequence with
    no cached prefix (a lower bound for decode and chunked prefill)."""
    q, k, v = a.shape(0), a.shape(1), a.shape(2)
    if q is None or k is None or v is None or len(q) != 3 or len(v) != 3:
        return None
    io = _io(a, [0, 1, 2], q[0] * q[1] * v[2])
    return attention_cost(a, 1, q[1], q[0], q[0], q[2], v[2], True, True, io_bytes=io, source="estimate",
                          note="context lengths not recorded: one causal sequence of T tokens assumed")

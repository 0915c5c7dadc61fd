"""MoE routing ops of triton_kernels (vLLM's gpt-oss path): top-k expert selection and token sorting.

They are custom autograd Functions recorded as `TopK` and `SortTokens` with their tensor inputs; they move a
few bytes per token and do no matrix math (a softmax over k values), so FLOPs are 0 and bytes are the
minimum traffic. Expert ids are int16 (SortTokens receives them as `short int`).
"""
from __future__ import annotations

from .registry import OpCost, compute_name, register

EXPERT_ID_BYTES = 2
ROUTING_INDEX_BYTES = 4  # gather/scatter indices and the per-expert histogram are int32


@register("TopK", family="routing")
def topk_routing(a):
    """TopK(x [T, E], k, apply_softmax, dim, return_bitmatrix, y_indx, n_rows): reads the router logits,
    writes k values (x's dtype) and k expert ids per token, and a [T, ceil(E/32)] uint32 bitmatrix when
    return_bitmatrix is set."""
    x, k, size = a.shape(0), a.int(1), a.itemsize(0)
    if x is None or len(x) != 2 or k is None or size is None:
        return None
    t, e = x
    bitmatrix = t * -(-e // 32) * 4 if a.bool(4, False) else 0
    nbytes = t * e * size + t * k * (size + EXPERT_ID_BYTES) + bitmatrix
    return OpCost(flops=0.0, bytes=float(nbytes), dtype=compute_name(a.type(0)))


@register("SortTokens", family="routing")
def sort_tokens_routing(a):
    """SortTokens(expt_scal [T, k], expt_indx [T, k], n_expts_tot): reads the gate values and expert ids,
    writes the gate values in expert order, the gather and scatter indices (int32) and the per-expert
    histogram."""
    s, i = a.shape(0), a.shape(1)
    n_expts = a.int(2)
    if s is None or i is None or s != i or n_expts is None or a.itemsize(0) is None or a.itemsize(1) is None:
        return None
    n = s[0] * s[1] if len(s) == 2 else None
    if n is None:
        return None
    reads = n * (a.itemsize(0) + a.itemsize(1))
    writes = n * (a.itemsize(0) + 2 * ROUTING_INDEX_BYTES) + n_expts * ROUTING_INDEX_BYTES
    return OpCost(flops=0.0, bytes=float(reads + writes), dtype=compute_name(a.type(0)))

"""fbgemm (RecSys) ops: table-batched embedding (TBE) lookups, sparse-feature permutes, jagged tensors, rowwise
quantization. Schemas: fbgemm-gpu-cpu 1.9.0 defs and source (ops.md §E1).

A TBE lookup gathers L rows from T tables into [B, total_D] pooled outputs; its weight tensors are whole
embedding tables (GBs) of which a step touches a few rows, and the per-table row widths sit in D_offsets'
values (not recorded). So bytes are a lower bound: indices, offsets and per-sample weights read, at least
one element gathered per index, at least one byte written per output element (B x total_D, total_D where
recorded, else one per table); FLOPs unknown (sum pooling adds L x D_t elements, D_t not recorded).
The optimizer step of training TBE runs in the autograd node's backward (`CppNode<SplitLookupFunction_*>`),
which reads the output gradient: its own lower bound.
"""
from __future__ import annotations

from .args import numel
from .registry import OpCost, compute_name, mark_sparse, register

INT_TYPES = ("int64", "int32")
# layout -> positions of (weights, D_offsets, total_D, indices, offsets, indice_weights)
TBE_LAYOUTS = {
    "function": (1, 6, 7, 11, 12, 14),       # split_embedding_codegen_lookup_<optim>_function (CUDA)
    "function_pt2": (1, 2, 3, 7, 8, 10),     # ..._function_pt2 (weights a TensorList)
    "int_nbit": (0, 5, 6, 12, 13, 15),       # int_nbit_split_embedding_codegen_lookup_function (inference)
}
OPTIMIZERS = ("sgd", "adagrad", "rowwise_adagrad", "rowwise_adagrad_with_counter", "adam", "partial_rowwise_adam",
              "lamb", "partial_rowwise_lamb", "lars_sgd", "none", "rowwise_weighted_adagrad", "approx_sgd",
              "approx_rowwise_adagrad", "approx_rowwise_adagrad_with_counter", "dense", "ensemble_rowwise_adagrad")


def _int_vector(a, i):
    s = a.shape(i)
    return s is not None and len(s) == 1 and compute_name(a.type(i)) in INT_TYPES


def _tbe(layout):
    w_i, d_i, td_i, idx_i, off_i, iw_i = TBE_LAYOUTS[layout]

    def tbe_lookup_bytes(a):
        if not (_int_vector(a, idx_i) and _int_vector(a, off_i) and _int_vector(a, d_i)):
            return None
        tables = max(a.shape(d_i)[0] - 1, 1)
        L, bags = a.shape(idx_i)[0], a.shape(off_i)[0] - 1
        b = bags // tables if tables else bags
        w_size = a.itemsize(w_i) or 1
        total_d = a.int(td_i) or tables
        reads = a.nbytes(idx_i) + a.nbytes(off_i) + (a.nbytes(iw_i) or 0 if iw_i < len(a.dims) else 0)
        return OpCost(flops=None, bytes=float(reads + L * w_size + b * total_d), dtype=compute_name(a.type(w_i)),
                      family="embedding", bytes_source="lower_bound",
                      note="per-table row widths not recorded: one element per index, one byte per output element")
    tbe_lookup_bytes.__doc__ = (f"TBE lookup ({layout} layout: indices {idx_i}, offsets {off_i}, D_offsets {d_i}, "
                                f"total_D {td_i}): lower-bound bytes, FLOPs unknown.")
    return tbe_lookup_bytes


register(*[f"fbgemm::split_embedding_codegen_lookup_{o}_function" for o in OPTIMIZERS], family="embedding",
         sparse=True)(_tbe("function"))
register(*[f"fbgemm::split_embedding_codegen_lookup_{o}_function_pt2" for o in OPTIMIZERS], family="embedding",
         sparse=True)(_tbe("function_pt2"))
register("fbgemm::int_nbit_split_embedding_codegen_lookup_function", "fbgemm::int_nbit_split_embedding_uvm_caching_codegen_lookup_function",
         family="embedding", sparse=True)(_tbe("int_nbit"))
# gathers whose rows are tensor values
mark_sparse("fbgemm::jagged_index_select", "fbgemm::jagged_index_select_2d_forward",
            "fbgemm::jagged_index_select_2d_forward_v2", "fbgemm::keyed_jagged_index_select_dim1",
            "fbgemm::keyed_jagged_index_select_dim1_forward", "fbgemm::group_index_select_dim0",
            "fbgemm::group_index_select_dim0_gpu_impl", "fbgemm::jagged_dense_elementwise_add",
            "fbgemm::jagged_dense_elementwise_mul", "fbgemm::jagged_dense_elementwise_add_jagged_output",
            "fbgemm::split_embedding_codegen_forward_unweighted_cuda", "fbgemm::split_embedding_codegen_forward_weighted_cuda",
            "fbgemm::split_embedding_codegen_forward_unweighted_pt2_cuda", "fbgemm::split_embedding_codegen_forward_weighted_pt2_cuda",
            "fbgemm::lxu_cache_lookup", "fbgemm::lru_cache_populate", "fbgemm::lfu_cache_populate",
            "fbgemm::linearize_cache_indices", "fbgemm::reorder_batched_ad_indices", "fbgemm::cat_reorder_batched_ad_indices")


@register("fbgemm::permute_2D_sparse_data", "fbgemm::permute_1D_sparse_data", "fbgemm::permute_sparse_data",
          "fbgemm::permute_2D_sparse_data_input1D", family="sparse")
def permute_sparse_data_flop(a):
    """(permute [T], lengths, values, [stride,] weights, permuted_lengths_sum): reads the permutation and reads
    and writes lengths, values (and weights) once. 0 FLOPs."""
    tensors = a.tensor_idx()
    if len(tensors) < 3:
        return None
    rest = [a.nbytes(i) for i in tensors[1:]]
    return OpCost(flops=0.0, bytes=float(a.nbytes(tensors[0]) + 2 * sum(rest)), dtype=compute_name(a.type(2)),
                  family="sparse")


@register("fbgemm::permute_pooled_embs", "fbgemm::permute_pooled_embs_auto_grad", "fbgemm::permute_duplicate_pooled_embs",
          "fbgemm::permute_pooled_embs_auto_grad_split", "fbgemm::permute_pooled_embs_split", family="sparse")
def permute_pooled_embs_flop(a):
    """(pooled_embs [B, D_total], offset_dim_list, permute_list, inv_offset_dim_list, inv_permute_list): a
    permuted copy of pooled_embs (+ the small lists read)."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    small = sum(a.nbytes(i) or 0 for i in range(1, len(a.dims)) if a.shape(i) is not None)
    return OpCost(flops=0.0, bytes=float(2 * a.nbytes(0) + small), dtype=compute_name(a.type(0)), family="sparse")


@register("fbgemm::asynchronous_complete_cumsum", "fbgemm::asynchronous_exclusive_cumsum",
          "fbgemm::asynchronous_inclusive_cumsum", family="sparse")
def async_cumsum_flop(a):
    """asynchronous_*_cumsum(t_in [N]): 1 add per element; reads t_in, writes N (+1 complete) elements."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    out = n + 1 if (a.extra.get("name") or "").endswith("complete_cumsum") else n
    return OpCost(flops=float(n), bytes=float((n + out) * a.itemsize(0)), dtype=compute_name(a.type(0)))


@register("fbgemm::jagged_to_padded_dense", "fbgemm::jagged_to_padded_dense_forward", family="sparse")
def jagged_to_padded_dense_flop(a):
    """jagged_to_padded_dense(values [L, D...], offsets Tensor[], max_lengths, padding_value): out
    [B, max_lengths..., D...] with B = numel(offsets[0]) - 1; reads values and offsets, writes out."""
    v, offs, maxl = a.shape(0), a.tensor_list(1), a.ints(2)
    if v is None or not offs or not maxl or a.itemsize(0) is None:
        return None
    b = numel(offs[0]) - 1
    out = b * numel(maxl) * numel(v[1:])
    return OpCost(flops=0.0, bytes=float(a.nbytes(0) + sum(numel(o) for o in offs) * 8 + out * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="sparse")


@register("fbgemm::jagged_2d_to_dense", "fbgemm::jagged_1d_to_dense", family="sparse")
def jagged_2d_to_dense_flop(a):
    """jagged_2d_to_dense(values [L, D], offsets [B + 1], max_sequence_length[, padding_value]): out
    [B, max_len(, D)]."""
    v, off, maxl = a.shape(0), a.shape(1), a.int(2)
    if v is None or off is None or maxl is None or a.itemsize(0) is None:
        return None
    out = (numel(off) - 1) * maxl * numel(v[1:])
    return OpCost(flops=0.0, bytes=float(a.nbytes(0) + a.nbytes(1) + out * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="sparse")


@register("fbgemm::dense_to_jagged", "fbgemm::dense_to_jagged_forward", family="sparse", sparse=True)
def dense_to_jagged_flop(a):
    """dense_to_jagged(dense [B, max_len, D], x_offsets Tensor[], total_L): out [total_L, D]: reads total_L rows of
    the dense tensor and writes them (total_L concrete; else unknown)."""
    d, total = a.shape(0), a.int(2)
    if d is None or total is None or len(d) < 2 or a.itemsize(0) is None:
        return None
    rows = total * numel(d[2:])
    offs = sum(numel(o) for o in (a.tensor_list(1) or [])) * 8
    return OpCost(flops=0.0, bytes=float(2 * rows * a.itemsize(0) + offs), dtype=compute_name(a.type(0)), family="sparse")


@register("fbgemm::FloatToFused8BitRowwiseQuantized", "fbgemm::HalfToFused8BitRowwiseQuantized",
          "fbgemm::FloatOrHalfToFused8BitRowwiseQuantized", family="quantize")
def to_fused8bit_flop(a):
    """(t [R, C]): out uint8 [R, C + 8] (a scale and a bias per row); 3 per element (min/max, scale, round)."""
    x = a.shape(0)
    if x is None or not x or a.itemsize(0) is None:
        return None
    rows = numel(x[:-1])
    return OpCost(flops=3.0 * numel(x), bytes=float(a.nbytes(0) + rows * (x[-1] + 8)), dtype=compute_name(a.type(0)),
                  family="elementwise")


@register("fbgemm::Fused8BitRowwiseQuantizedToFloat", "fbgemm::Fused8BitRowwiseQuantizedToHalf",
          "fbgemm::Fused8BitRowwiseQuantizedToFloatOrHalf", family="quantize")
def from_fused8bit_flop(a):
    """(input uint8 [R, C + 8][, output_dtype]): out [R, C] float (half for ToHalf; ToFloatOrHalf: the
    output_dtype SparseType code, 0 fp32, 1 fp16, 5 bf16); 2 per element."""
    x = a.shape(0)
    if x is None or not x or x[-1] < 8:
        return None
    n_out = numel(x[:-1]) * (x[-1] - 8)
    name = a.extra.get("name") or ""
    out = 2 if name.endswith("ToHalf") or (name.endswith("OrHalf") and a.int(1) in (1, 5)) else 4
    return OpCost(flops=2.0 * n_out, bytes=float(numel(x) + n_out * out), dtype="int8", family="elementwise")

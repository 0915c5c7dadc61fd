"""Embedding, gather/scatter and indexing: no arithmetic (flops 0) except accumulating
scatters (1 add per written element) and embedding backward (1 add per grad element).
bytes = indices read + the gathered source elements read + the output written; a scatter
into an existing tensor writes only the indexed elements (an out-of-place variant also
copies `self`).
"""
from __future__ import annotations

from .pointwise import broadcast
from .registry import OpCost, compute_name, numel, register


def _nb(*parts):
    return None if any(p is None for p in parts) else float(sum(parts))


@register("aten::embedding", family="embedding")
def embedding_flop(a):
    """embedding(weight [V,D], indices, ...): out = indices.shape + [D]; read indices, the rows, write out."""
    w, idx = a.shape(0), a.shape(1)
    if w is None or idx is None or len(w) != 2 or a.itemsize(0) is None:
        return None
    out = numel(idx) * w[1]
    return OpCost(flops=0.0, bytes=_nb(a.nbytes(1), 2 * out * a.itemsize(0)), dtype=compute_name(a.type(0)))


@register("aten::embedding_dense_backward", family="embedding")
def embedding_backward_flop(a):
    """embedding_dense_backward(grad_output [..., D], indices, num_weights, padding_idx, scale):
    1 add per grad element; read grad and indices, write the [num_weights, D] gradient."""
    g, idx = a.shape(0), a.shape(1)
    nw = a.int(2)
    if g is None or idx is None or nw is None or not g or a.itemsize(0) is None:
        return None
    return OpCost(flops=float(numel(g)), bytes=_nb(a.nbytes(0), a.nbytes(1), nw * g[-1] * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::_embedding_bag", "aten::_embedding_bag_forward_only", family="embedding")
def embedding_bag_flop(a):
    """_embedding_bag(weight, indices, offsets, scale_grad_by_freq, mode, sparse, per_sample_weights,
    include_last_offset, padding_idx): 1 add per gathered element (+1 mul with per-sample weights);
    reads indices, offsets, rows; writes [bags, D]."""
    w, idx, off = a.shape(0), a.shape(1), a.shape(2)
    if w is None or idx is None or off is None or len(w) != 2 or len(off) != 1 or a.itemsize(0) is None:
        return None
    bags = off[0] - (1 if a.bool(7, False) else 0)
    gathered = numel(idx) * w[1]
    psw = a.shape(6) not in (None, [])
    return OpCost(flops=float(gathered * (2 if psw else 1)),
                  bytes=_nb(a.nbytes(1), a.nbytes(2), a.nbytes(6) if psw else 0,
                            (gathered + bags * w[1]) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::index_select", family="index")
def index_select_flop(a):
    """index_select(self, dim, index): out = self.shape with dim -> len(index)."""
    x, idx, dim = a.shape(0), a.shape(2), a.int(1)
    if x is None or idx is None or a.itemsize(0) is None:
        return None
    if not x:
        out = 1
    else:
        if dim is None:
            return None
        out = numel(x) // max(x[dim], 1) * numel(idx) if x[dim] else 0
    return OpCost(flops=0.0, bytes=_nb(a.nbytes(2), 2 * out * a.itemsize(0)), dtype=compute_name(a.type(0)))


@register("aten::gather", family="index")
def gather_flop(a):
    """gather(self, dim, index): out = index.shape; read index + gathered elements, write out."""
    x, idx = a.shape(0), a.shape(2)
    if x is None or idx is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=0.0, bytes=_nb(a.nbytes(2), 2 * numel(idx) * a.itemsize(0)), dtype=compute_name(a.type(0)))


def _scatter(a, accumulate, inplace):
    x, idx = a.shape(0), a.shape(2)
    if x is None or idx is None or a.itemsize(0) is None:
        return None
    n = numel(idx)
    size = a.itemsize(0)
    src = a.shape(3)
    src_read = n * (a.itemsize(3) or size) if src not in (None, []) else 0
    # accumulate reads the destination element before writing it
    nbytes = a.nbytes(2) + src_read + n * size * (2 if accumulate else 1)
    if not inplace:
        nbytes += 2 * numel(x) * size
    return OpCost(flops=float(n if accumulate else 0), bytes=float(nbytes), dtype=compute_name(a.type(0)))


@register("aten::scatter_", family="index")
def scatter_inplace_flop(a):
    """scatter_(self, dim, index, src|value): writes index.numel elements."""
    return _scatter(a, False, True)


@register("aten::scatter", family="index")
def scatter_flop(a):
    """scatter(self, dim, index, src|value): copies self, then writes index.numel elements."""
    return _scatter(a, False, False)


@register("aten::scatter_add_", "aten::scatter_reduce_", family="index")
def scatter_add_inplace_flop(a):
    """scatter_add_(self, dim, index, src): 1 add per index element."""
    return _scatter(a, True, True)


@register("aten::scatter_add", "aten::scatter_reduce", family="index")
def scatter_add_flop(a):
    """scatter_add(self, dim, index, src): copy of self + 1 add per index element."""
    return _scatter(a, True, False)


def _index_result(a, x, il):
    """Elements selected by advanced indexing with index tensors at input `il` (leading dims, no
    bool masks, no None gaps); None when not decidable from the trace."""
    shapes = a.tensor_list(il) if a.type(il) == "TensorList" else None
    if not shapes:
        return None
    if any(s == [] for s in shapes) or len(shapes) > len(x):
        return None
    b = broadcast(shapes)
    if b is None:
        return None
    return numel(b) * numel(x[len(shapes):])


@register("aten::index", family="index")
def index_flop(a):
    """index(self, indices): read the index tensors + selected elements, write them. The index
    dtypes are not recorded (TensorList); they are counted as int64. Bool masks -> unknown."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = _index_result(a, x, 1)
    if n is None:
        return None
    n_idx = sum(numel(s) for s in a.tensor_list(1))
    return OpCost(flops=0.0, bytes=float(8 * n_idx + 2 * n * a.itemsize(0)), dtype=compute_name(a.type(0)),
                  note="index dtype assumed int64")


@register("aten::_index_put_impl_", "aten::_unsafe_index_put", family="index")
def index_put_flop(a):
    """_index_put_impl_(self, indices, values, accumulate, unsafe): writes as many elements as
    `values` holds after broadcasting to the indexed shape (values.numel when the index shapes
    are not recorded); accumulate reads them first and adds (1 flop each)."""
    x, v = a.shape(0), a.shape(2)
    if x is None or v is None or a.itemsize(0) is None:
        return None
    n = _index_result(a, x, 1)
    if n is None:
        n = numel(v)
    acc = bool(a.bool(3, False))
    shapes = a.tensor_list(1) or []
    nbytes = 8 * sum(numel(s) for s in shapes) + a.nbytes(2) + n * a.itemsize(0) * (2 if acc else 1)
    return OpCost(flops=float(n if acc else 0), bytes=float(nbytes), dtype=compute_name(a.type(0)))

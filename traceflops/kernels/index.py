"""Embedding, gather/scatter and indexing: no arithmetic (flops 0) except accumulating
scatters (1 add per written element) and embedding backward (1 add per grad element).
bytes = indices read + the gathered source elements read + the output written; a scatter
into an existing tensor writes only the indexed elements (an out-of-place variant also
copies `self`).
"""
from __future__ import annotations

from .args import Args
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
    shapes = a.tensor_list(il)
    if not shapes:
        return None
    if any(s == [] for s in shapes) or len(shapes) > len(x):
        return None
    b = broadcast(shapes)
    if b is None:
        return None
    return numel(b) * numel(x[len(shapes):])


VIEWS = {"aten::reshape", "aten::view", "aten::_reshape_alias", "aten::expand", "aten::unsqueeze",
         "aten::_unsafe_view", "aten::contiguous"}


def _restrided(a):
    """aten::index's output shape and its index-broadcast size from the `as_strided` it calls on self
    (TensorAdvancedIndexing.cpp restride_src: self's view with the indexed dims replaced by the index shape,
    stride 0): (output shape, index elements) or None."""
    x = a.shape(0)
    for name, dims, types, conc in a.extra.get("children") or ():
        if name != "aten::as_strided" or not dims or dims[0] != x:
            continue
        c = Args(dims, types, conc)
        size, stride = c.ints(1), c.ints(2)
        if size and stride and len(size) == len(stride):
            return size, numel([s for s, st in zip(size, stride) if st == 0])
    return None


def _index_tensors(a):
    """(count, bytes per element) of the index tensors, from the int/bool views aten::index makes of them."""
    n, size = 0, None
    for name, dims, types, conc in a.extra.get("children") or ():
        if name not in VIEWS or name == "aten::expand":
            continue
        c = Args(dims, types, conc)
        if c.shape(0) is not None and compute_name(c.type(0)) in ("int64", "int32", "bool", "int8"):
            n, size = n + 1, size or c.itemsize(0)
    return n, size


@register("aten::index", family="index", context="children", sparse=True)
def index_flop(a):
    """index(self, indices): reads the index tensors and the selected elements of self, writes them.
    The `Tensor?[]` indices are not recorded by torch >= 1.13 (ops.md §0.1), so the output shape comes from the
    `as_strided` view aten::index makes of self (its size is the output shape; stride-0 dims are the index
    shape) and the index tensors from the int views it makes of them; a torch 1.10-1.12 flattened list gives
    them directly. Index elements are read once per index tensor (int64 where their dtype is not seen); the
    selected elements are read once each, at most all of self. 0 FLOPs."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    size = a.itemsize(0)
    n = _index_result(a, x, 1)
    if n is not None:
        n_idx = sum(numel(s) for s in a.tensor_list(1))
        return OpCost(flops=0.0, bytes=float(8 * n_idx + (min(n, numel(x)) + n) * size),
                      dtype=compute_name(a.type(0)), note="index dtype assumed int64")
    r = _restrided(a)
    if r is None:
        return OpCost(flops=0.0, dtype=compute_name(a.type(0)),
                      note="index tensors (Tensor?[]) not recorded and no as_strided sub-op: output size unknown")
    out, idx_elems = r
    n = numel(out)
    count, isz = _index_tensors(a)
    idx_bytes = max(count, 1) * idx_elems * (isz or 8)
    return OpCost(flops=0.0, bytes=float(idx_bytes + (min(n, numel(x)) + n) * size), dtype=compute_name(a.type(0)),
                  note=None if count else "index tensors not seen: one int64 index assumed")


@register("aten::_index_put_impl_", "aten::_unsafe_index_put", family="index", sparse=True)
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


def _dim(a, i, x, default=-1):
    d = a.int(i, default)
    return d % len(x) if x and d is not None and -len(x) <= d < len(x) else None


@register("aten::topk", family="index")
def topk_flop(a):
    """topk(self, k, dim=-1, largest, sorted): reads self, writes values (self's dtype) and int64 indices of
    self's shape with [dim] = k. A selection, not arithmetic: 0 FLOPs (comparisons are not counted)."""
    x, k = a.shape(0), a.int(1)
    if x is None or k is None or a.itemsize(0) is None:
        return None
    d = _dim(a, 2, x)
    if x and d is None:
        return None
    out = numel(x) // x[d] * k if x and x[d] else (k if not x else 0)
    return OpCost(flops=0.0, bytes=float(numel(x) * a.itemsize(0) + out * (a.itemsize(0) + 8)),
                  dtype=compute_name(a.type(0)))


@register("aten::sort", family="index")
def sort_flop(a):
    """sort(self, dim, descending) or sort.stable(self, stable, dim, descending) (4 inputs: `stable` recorded at
    position 1): reads self, writes sorted values and int64 indices (self's shape). The minimum traffic of one
    pass (radix sorts make several); 0 FLOPs."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    return OpCost(flops=0.0, bytes=float(n * a.itemsize(0) + n * (a.itemsize(0) + 8)), dtype=compute_name(a.type(0)))


@register("aten::index_add_", family="index")
def index_add_flop(a):
    """index_add_(self, dim, index, source, alpha): self rows at `index` += alpha * source: 1 add per source
    element (2 with alpha != 1); reads index, source and the touched self elements, writes them."""
    x, idx, src = a.shape(0), a.shape(2), a.shape(3)
    if x is None or idx is None or src is None or a.itemsize(0) is None:
        return None
    n = numel(src)
    alpha = a.num(4, 1.0)
    return OpCost(flops=float(n * (1 if alpha in (None, 1.0) else 2)),
                  bytes=float(a.nbytes(2) + a.nbytes(3) + 2 * n * a.itemsize(0)), dtype=compute_name(a.type(0)))


@register("aten::index_copy_", family="index")
def index_copy_flop(a):
    """index_copy_(self, dim, index, source): reads index and source, writes as many self elements. 0 FLOPs."""
    x, idx, src = a.shape(0), a.shape(2), a.shape(3)
    if x is None or idx is None or src is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=0.0, bytes=float(a.nbytes(2) + a.nbytes(3) + numel(src) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::index_fill_", family="index")
def index_fill_flop(a):
    """index_fill_(self, dim, index, value): reads index, writes len(index) slices of self along dim. 0 FLOPs."""
    x, idx = a.shape(0), a.shape(2)
    if x is None or idx is None or a.itemsize(0) is None:
        return None
    d = _dim(a, 1, x, None)
    if x and d is None:
        return None
    slice_elems = numel(x) // x[d] if x and x[d] else 1
    return OpCost(flops=0.0, bytes=float(a.nbytes(2) + numel(idx) * slice_elems * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::masked_scatter_", family="index", sparse=True)
def masked_scatter_flop(a):
    """masked_scatter_(self, mask, source): reads the mask; the number of elements written is data-dependent
    (at most numel(self)): the mask read is the bytes' lower bound. 0 FLOPs."""
    m = a.shape(1)
    if m is None or a.itemsize(1) is None:
        return None
    return OpCost(flops=0.0, bytes=float(a.nbytes(1)), dtype=compute_name(a.type(0)), bytes_source="lower_bound",
                  note="elements written depend on the mask: bytes are the mask read")

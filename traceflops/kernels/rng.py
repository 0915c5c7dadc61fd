"""Random number generation and factory fills: 0 FLOPs (drawing a number is not model arithmetic, as copies and
fills are not); bytes = the elements written (+ a probability tensor read).

Schemas (ops.md §B): uniform_(self, from, to, generator), normal_(self, mean, std, generator),
bernoulli_.float(self, p, generator) / bernoulli_.Tensor(self, p Tensor, generator), random_(self[, from][, to],
generator), exponential_/geometric_/cauchy_/log_normal_(self, a[, b], generator), bernoulli(self[, p],
generator), randperm(n, ...), multinomial(self [B, V], num_samples, replacement, generator),
arange(start, end, step, dtype, ...) and its out form arange.start_out(start, end, step, out).
"""
from __future__ import annotations

import math

from .dtypes import dtype_bytes, scalar_type
from .registry import OpCost, compute_name, numel, register


def _write_self(a):
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    p = a.nbytes(1) if a.shape(1) not in (None, []) else 0  # bernoulli_.Tensor reads its probabilities
    return OpCost(flops=0.0, bytes=float(numel(x) * a.itemsize(0) + p), dtype=compute_name(a.type(0)),
                  family="random")


@register("aten::uniform_", "aten::normal_", "aten::bernoulli_", "aten::random_", "aten::exponential_",
          "aten::geometric_", "aten::cauchy_", "aten::log_normal_", family="random")
def fill_random_flop(a):
    """In-place draws: write self (numel x element size), reading a probability tensor where one is given."""
    return _write_self(a)


@register("aten::bernoulli", family="random")
def bernoulli_flop(a):
    """bernoulli(self) reads the probabilities in self and writes a same-shape sample; bernoulli.p(self, p)
    only writes."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    reads = numel(x) * a.itemsize(0) if a.num(1) is None else 0
    return OpCost(flops=0.0, bytes=float(reads + numel(x) * a.itemsize(0)), dtype=compute_name(a.type(0)),
                  family="random")


@register("aten::randperm", family="random")
def randperm_flop(a):
    """randperm(n, [generator,] dtype, ...): writes n int64 (the out form records the out tensor; its dtype
    is used). The random keys and the sort a GPU randperm uses are not counted (a lower bound)."""
    n = a.int(0)
    if n is None or n < 0:
        return None
    size = next((a.itemsize(i) for i in range(1, len(a.dims)) if a.shape(i) is not None), None) or 8
    return OpCost(flops=0.0, bytes=float(n * size), dtype="int64", family="random", bytes_source="lower_bound")


@register("aten::multinomial", family="random")
def multinomial_flop(a):
    """multinomial(self [B, V], num_samples, replacement, generator): reads the probabilities, writes
    B x num_samples int64."""
    x, k = a.shape(0), a.int(1)
    if x is None or k is None or not x or a.itemsize(0) is None:
        return None
    rows = numel(x[:-1])
    return OpCost(flops=0.0, bytes=float(numel(x) * a.itemsize(0) + rows * k * 8), dtype=compute_name(a.type(0)),
                  family="random")


# arange overloads by input count: (end, dtype, layout, device, pin) 5; .start (start, end, dtype, ...) 6;
# .start_step (start, end, step, dtype, ...) 7; .out (end, out) 2; .start_out (start, end, step, out) 4
_ARANGE = {5: (None, 0, None, 1), 6: (0, 1, None, 2), 7: (0, 1, 2, 3), 2: (None, 0, None, None),
           4: (0, 1, 2, None)}


@register("aten::arange", family="copy")
def arange_flop(a):
    """arange in all its overloads (told apart by input count): writes ceil((end - start) / step) elements of
    the out tensor's dtype, else the `dtype` arg, else int64 for integral arguments and float32 otherwise (as
    torch picks). 0 FLOPs."""
    spec = _ARANGE.get(len(a.concrete) or len(a.dims))
    if spec is None:
        return None
    i_start, i_end, i_step, i_dtype = spec
    start = a.num(i_start) if i_start is not None else 0.0
    end = a.num(i_end)
    step = a.num(i_step) if i_step is not None else 1.0
    if start is None or end is None or not step:
        return None
    n = max(math.ceil((end - start) / step), 0)
    out = next(iter(a.tensor_idx()), None)
    t = a.type(out) if out is not None else scalar_type(a.raw(i_dtype)) if i_dtype is not None else None
    if t is None:
        used = [i for i in (i_start, i_end, i_step) if i is not None]
        t = "long int" if all("." not in a.raw(i) and "e" not in a.raw(i) for i in used) else "float"
    size = dtype_bytes(t)
    return OpCost(flops=0.0, bytes=None if size is None else float(n * size), dtype=compute_name(t))

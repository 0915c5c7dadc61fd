"""Reductions: FLOPs per INPUT element (sum/mean/max/min/amax/amin/prod/argmax/all/any/cumsum 1,
norm 2, var/std 3, logsumexp 4); bytes = input read + output written. The output size needs the
reduced dims from `Concrete Inputs`; without them bytes are None."""
from __future__ import annotations

from .registry import OpCost, compute_name, numel, register

REDUCE_FLOPS = {"sum": 1, "mean": 1, "amax": 1, "amin": 1, "prod": 1, "nansum": 1, "nanmean": 1,
                "argmax": 1, "argmin": 1, "all": 1, "any": 1, "cumsum": 1, "cumprod": 1,
                "linalg_vector_norm": 2, "norm": 2, "var": 3, "std": 3, "var_mean": 3, "std_mean": 3,
                "logsumexp": 4, "max": 1, "min": 1}
INDEX_OUT = {"argmax", "argmin"}
BOOL_OUT = {"all", "any"}
SCAN = {"cumsum", "cumprod"}
DIM_ARG = {"linalg_vector_norm": 2, "norm": 2}  # (self, ord, dim, ...)


def _out_elems(op, a, x):
    if op in SCAN:
        return numel(x)
    if len(a) <= 1 or (a.type(1) == "" and a.raw(1) == "" and len(a) <= 2):
        return 1  # full reduction: op(self) or op(self, dtype)
    i = DIM_ARG.get(op, 1)
    dims = a.ints(i)
    if dims is None:
        if a.type(i) == "" and a.raw(i) == "" and len(a.concrete) > i:
            return 1  # dim=None recorded as '' alongside other concrete args
        return None
    if not dims:
        return 1
    keep = set(d % len(x) for d in dims) if x else set()
    return numel([s for j, s in enumerate(x) if j not in keep])


def _make(op, per):
    def reduction_flop(a):
        x = a.shape(0)
        if x is None:
            return None
        if op in ("max", "min") and a.shape(1) is not None and a.shape(1) != []:
            return None  # binary max/min is handled as pointwise below
        n = numel(x)
        out = _out_elems(op, a, x)
        size = a.itemsize(0)
        out_size = 8 if op in INDEX_OUT else 1 if op in BOOL_OUT else size
        if op in ("sum", "prod", "cumsum", "cumprod") and a.type(0) in ("bool", "int", "signed char",
                                                                         "unsigned char", "short int"):
            out_size = 8  # integer sums accumulate into int64
        if op in ("max", "min") and out is not None and out < n and len(a) > 1:
            out_size = size + 8  # values and indices
        nbytes = None if out is None or size is None else float(n * size + out * out_size)
        return OpCost(flops=float(per * n), bytes=nbytes, dtype=compute_name(a.type(0)),
                      note=None if nbytes is not None or size is None else "reduced dims not recorded")
    reduction_flop.__doc__ = f"{op}: {per} flop(s) per input element."
    return reduction_flop


for _op, _per in REDUCE_FLOPS.items():
    if _op not in ("max", "min"):  # registered below: they are reductions or pointwise by their inputs
        register(f"aten::{_op}", family="reduction")(_make(_op, _per))


def _minmax_binary(op):
    from .pointwise import elementwise_cost
    red = _make(op, 1)

    def max_min_flop(a):
        """max/min: reduction when input 1 is a dim or absent, pointwise maximum/minimum when a tensor."""
        if a.shape(1) is not None and a.shape(1) != []:
            return elementwise_cost(a, 1)
        return red(a)
    return max_min_flop


for _op in ("max", "min"):
    register(f"aten::{_op}", family="reduction")(_minmax_binary(_op))


"""The FLOP/byte registry: op name -> tiny formula, modelled on torch/utils/flop_counter.py.

A formula takes an `Args` view of one op's recorded inputs (`Input Dims`, `Input type`,
`Concrete Inputs`, extra op args) and returns an `OpCost`, or None when the op's inputs do
not allow a count. `op_cost` never raises: odd input gives an OpCost with None fields.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable

from .args import Args, numel  # noqa: F401  (numel: formulas import it from here)
from .dtypes import compute_dtype

FORMULAS: dict[str, Callable] = {}
FAMILY: dict[str, str] = {}


@dataclass(frozen=True)
class OpCost:
    """Cost of one op instance.

    flops: useful model FLOPs (2 per multiply-accumulate); recompute_flops: extra work a
    kernel redoes (flash backward recomputing QK^T); bytes: minimal DRAM traffic, every
    input read once and every output written once. For collectives `comm_bytes` is the
    NCCL-tests message size S, algbw = S * algbw_factor / time, busbw = algbw * busbw_factor.
    bytes_source: how the bytes are known when it differs from `source` (`lower_bound`: a formula that knows the
    FLOPs but only a bound on the traffic, e.g. gathers whose index tensors are not recorded).
    """
    flops: float | None = None
    recompute_flops: float | None = None
    bytes: float | None = None
    dtype: str | None = None
    source: str = "formula"
    family: str = "other"
    note: str | None = None
    comm_bytes: float | None = None
    algbw_factor: float | None = None
    busbw_factor: float | None = None
    bytes_source: str | None = None
    # an op whose kernels do distinguishable parts of its work (a conv backward's dgrad and wgrad): (label, FLOPs)
    # per part, labels as kernels/parts.py reads them from kernel names
    flops_parts: tuple | None = None


CONTEXT: dict[str, str] = {}  # op name -> "parent" / "children": the formula also reads those ops' inputs
SPARSE: set[str] = set()  # ops that touch part of their arguments: never given the every-argument lower bound
PATTERNS: list = []  # (compiled regex, name the formula is registered under) for generated op names


def register(*names: str, family: str, override: bool = False, context: str | None = None, sparse: bool = False,
             patterns: tuple = ()):
    """Register a formula under every op name it serves (a decorator). A name that already has a formula
    raises ValueError unless `override=True`: two formulas for one op would silently disagree.

    context="parent"/"children": the formula's Args get extra["parent"] = (name, dims, types, concrete) of the
    enclosing op, or extra["children"] = a tuple of those of its direct sub-ops (an old op whose int-list args
    were not recorded finds the kernel size in its parent's tensors; `aten::index` finds its output shape in the
    `as_strided` it calls). context="ancestors": extra["ancestors"] = those of up to frame.ANCESTORS enclosing
    ops, nearest first, each with a dict of its recorded collective fields (group_size, ...) appended (a
    backend's `nccl:all_reduce` or `record_param_comms` finds its message in the c10d op it serves). sparse=True: the op may touch only part of its tensor arguments, so when the formula
    cannot cost it, no lower bound from its arguments is put on it either. patterns: regexes of generated op
    names (FlashInfer's `flashinfer::<uri>_run`) that resolve to the first name."""
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("register: give the op name(s) the formula serves, e.g. 'fbgemm::my_op'")
    taken = [n for n in names if n in FORMULAS and not override]
    if taken:
        raise ValueError(f"register: {', '.join(taken)} already has a formula "
                         f"({FORMULAS[taken[0]].__module__}.{FORMULAS[taken[0]].__name__}); pass override=True to replace it")
    if len(set(names)) != len(names):
        raise ValueError(f"register: duplicate names in {names}")

    def deco(fn):
        for n in names:
            FORMULAS[n] = fn
            FAMILY[n] = family
            if context:
                CONTEXT[n] = context
            if sparse:
                SPARSE.add(n)
        for p in patterns:
            PATTERNS.append((re.compile(p), names[0]))
        fn.family = family
        return fn
    return deco


def mark_sparse(*names: str):
    """Ops without a formula that touch only part of their arguments (caches, tables): no lower bound."""
    SPARSE.update(names)


def resolve(name):
    """The registered name a recorded op name resolves to (overload and ' <peer>' suffixes stripped, generated
    names matched), or None."""
    return _lookup(name)[0] if isinstance(name, str) and _lookup(name)[1] is not None else None


def is_sparse(name) -> bool:
    if not isinstance(name, str):
        return False
    key = resolve(name) or name
    return key in SPARSE or name in SPARSE


def context_of(name):
    key = resolve(name)
    return CONTEXT.get(key) if key else None


def compute_name(type_str):
    return compute_dtype(type_str)


def _lookup(name: str):
    fn = FORMULAS.get(name)
    if fn is not None:
        return name, fn
    # some traces carry the overload ('aten::add.Tensor', 'aten::softmax.int')
    head, sep, tail = name.rpartition(".")
    if sep and "::" in head and "(" not in tail:
        fn = FORMULAS.get(head)
        if fn is not None:
            return head, fn
    if name.startswith("triton_"):
        return name, FORMULAS.get("triton_")
    if " " in name:  # 'nccl:send 0->1', 'nccl:recv 1<-0': the peer ranks follow a space
        fn = FORMULAS.get(name.split(" ", 1)[0])
        if fn is not None:
            return name.split(" ", 1)[0], fn
    for rx, key in PATTERNS:
        if rx.fullmatch(name):
            return key, FORMULAS[key]
    return name, None


# Inductor kernel-name prefixes: pointwise, reduction, persistent reduction, template (GEMM)
_TRITON_FAMILY = {"poi_": "elementwise", "red_": "reduction", "per_": "reduction", "tem_": "gemm"}


def has_formula(name) -> bool:
    return isinstance(name, str) and _lookup(name)[1] is not None


def op_cost(name, dims, types, concrete, extra=None) -> OpCost | None:
    """Cost of one op; None when no formula is registered for `name`. Never raises."""
    if not isinstance(name, str):
        return None
    key, fn = _lookup(name)
    if fn is None:
        return None
    family = FAMILY.get(key, getattr(fn, "family", "other"))
    if name.startswith("triton_"):
        family = _TRITON_FAMILY.get(name[7:11], "other")
    try:
        res = fn(Args(dims, types, concrete, {**(extra or {}), "name": key}))
    except Exception as e:  # a malformed trace must not stop the analysis
        return OpCost(family=family, note=f"formula failed: {type(e).__name__}: {e}"[:200])
    if res is None:
        return OpCost(family=family, note="inputs not recorded or not understood")
    if res.family == "other" and family != "other":
        res = replace(res, family=family)
    return res

"""Inductor Triton launches: the cpu_op `CachingAutotuner.run` records around each launch of a generated kernel
(`triton_poi_/red_/per_/tem_/for_/spl_…`, named after the kernel).

The launch op records one input per positional argument of `.run()`, in the kernel's parameter order: the
pointers (`in_out_ptr*`, then `in_ptr*`, then `out_ptr*`; templates name theirs `arg_A`, `arg_B`, …), then the
size arguments and numels (Scalars; templates add trailing grid ints). It never records which pointer is
which: that is in the kernel's definition (its `triton_meta` signature and `mutated_arg_names`), which the
output code holds (traceflops/cost/compiled.py passes those roles in).

bytes of a launch, with roles: Σ over the distinct pointer arguments of their bytes (`Args.nbytes`: numel ×
element size, a stride-0 broadcast dimension counted once): read for `in`, written for `out`, read AND written
for `in_out` (an in-place update). That is the traffic of a kernel that touches each element of each argument
once; it is high for an input read only in part (a gather from an embedding table).

Without roles (the trace alone): each tensor argument counted once, as a read or a write. That is not an upper
bound: it is low by the size of every in-place argument (read and written) and high for inputs read only in
part. Its source is `estimate`.

`kernel_flop` / `kernel_num_gb` (torch >= 2.8 with `config.benchmark_kernel`) are Inductor's compile-time
estimates at the size hints: used when recorded (source `inductor`), with `kernel_flop == 0` read as unknown
(Inductor counts FLOPs of mm/conv origins only, so a pointwise kernel reports 0).
"""
from __future__ import annotations

import math

from ..numbers import finite_or_none
from .dtypes import compute_dtype
from .registry import OpCost, register

READS = {"in", "in_out"}
WRITES = {"out", "in_out"}

# Triton signature element types and torch dtype names -> the `Input type` strings Kineto records
TRITON_TYPES = {
    "fp64": "double", "fp32": "float", "fp16": "c10::Half", "bf16": "c10::BFloat16",
    "fp8e4nv": "c10::Float8_e4m3fn", "fp8e5": "c10::Float8_e5m2", "fp8e4b8": "c10::Float8_e4m3fnuz",
    "fp8e5b16": "c10::Float8_e5m2fnuz", "i64": "long int", "i32": "int", "i16": "short int", "i8": "signed char",
    "u64": "long int", "u32": "int", "u16": "short int", "u8": "unsigned char", "i1": "bool", "u1": "bool",
}
TORCH_TYPES = {
    "float64": "double", "double": "double", "float32": "float", "float": "float", "float16": "c10::Half",
    "half": "c10::Half", "bfloat16": "c10::BFloat16", "float8_e4m3fn": "c10::Float8_e4m3fn",
    "float8_e5m2": "c10::Float8_e5m2", "float8_e4m3fnuz": "c10::Float8_e4m3fnuz",
    "float8_e5m2fnuz": "c10::Float8_e5m2fnuz", "int64": "long int", "long": "long int", "int32": "int",
    "int": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
    "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
}
# kernel kind (the triton_heuristics decorator) -> op family
KIND_FAMILY = {"pointwise": "elementwise", "reduction": "reduction", "persistent_reduction": "reduction",
               "split_scan": "reduction", "foreach": "elementwise", "template": "other", "user_autotune": "other"}


def trace_type(t):
    """A Triton signature type ('*bf16') or torch dtype name ('bfloat16', 'torch.bfloat16') as an Input type."""
    if not isinstance(t, str):
        return None
    t = t.lstrip("*").removeprefix("torch.")
    return TRITON_TYPES.get(t) or TORCH_TYPES.get(t)


def launch_bytes(a, roles, same=None):
    """(read, written) bytes of one launch; `roles[i]` is 'in', 'out', 'in_out' or None (not a pointer) for
    positional argument i; `same[i]`, when given, is the index of the first argument that is the same view as
    argument i (one buffer passed twice is one buffer: its roles are merged). None when a pointer's size is
    unknown."""
    merged = {}
    for i, role in enumerate(roles):
        if role not in READS | WRITES:
            continue
        j = same[i] if same is not None and same[i] is not None else i
        merged.setdefault(j, set()).add(role)
    read = written = 0.0
    space = iteration_space(a)
    for j, rs in merged.items():
        b = touched(a, j, space)
        if b is None:
            return None
        read += b if rs & READS else 0.0
        written += b if rs & WRITES else 0.0
    return read, written


POINTWISE_OR_REDUCTION = ("triton_poi_", "triton_red_", "triton_per_")


def iteration_space(a):
    """Points of a pointwise or reduction kernel's iteration space: the product of the launch's trailing int
    arguments (xnumel, and ynumel / rnumel / r0_numel where the kernel has them); None when they are not recorded
    or the kernel is a template (whose trailing ints are grid sizes)."""
    if not str(a.extra.get("name", "")).startswith(POINTWISE_OR_REDUCTION):
        return None
    n, dims = len(a), []
    for i in range(n - 1, -1, -1):
        if a.shape(i) is not None:  # the sizes follow the last pointer
            break
        v = a.int(i)
        if v is None or v <= 0:
            break
        dims.append(v)
    return float(math.prod(dims)) if dims else None


def touched(a, i, space):
    """Bytes of argument i the kernel can touch: each pointer is loaded or stored at most once per point of the
    iteration space, so a table gathered from (an embedding) counts the rows read, not the whole table."""
    b = a.nbytes(i)
    size = a.itemsize(i)
    if b is None or space is None or size is None:
        return b
    return min(b, space * size)


def first_type(a, roles=None):
    """The element type of the first pointer argument (what the kernel computes in, for the dtype column)."""
    for i in a.tensor_idx():
        if roles is None or (i < len(roles) and roles[i] is not None):
            return a.type(i)
    return None


@register("triton_", family="other")
def inductor_launch_cost(a):
    """Inductor Triton launch from the trace alone: kernel_flop (> 0) / kernel_num_gb (GB = 1e9 bytes) when
    recorded (source `inductor`); else bytes = each tensor argument counted once (source `estimate`: low by
    the size of each in-place argument, high for partly read inputs; see the module docstring), FLOPs unknown."""
    e = a.extra
    flop, gb = finite_or_none(e.get("kernel_flop")), finite_or_none(e.get("kernel_num_gb"))
    flop = flop if flop else None  # Inductor's 0 means "not counted", not "no FLOPs"
    t = first_type(a)
    if gb is not None:
        return OpCost(flops=flop, bytes=gb * 1e9, dtype=compute_dtype(t), source="inductor")
    idx = a.tensor_idx()
    if not idx:
        return OpCost(flops=flop, dtype=compute_dtype(t), source="inductor") if flop else None
    space = iteration_space(a)
    nbytes = [touched(a, i, space) for i in idx]
    total = None if any(b is None for b in nbytes) else float(sum(nbytes))
    return OpCost(flops=flop, bytes=total, dtype=compute_dtype(t), source="inductor" if flop else "estimate",
                  note="Inductor launch without its output code: each tensor argument counted once, at most once per "
                       "point of the kernel's iteration space (an in-place argument is read and written; pass "
                       "--compiled for exact bytes)")

"""FLOP and byte registry for profiler ops, and GPU kernel-name classification.

Importing this package never imports torch.
"""
from . import attention, comm, conv, gemm, index, norm, pointwise, pooling, reduction, routing  # noqa: F401  (register formulas)
from .dtypes import compute_dtype, dtype_bytes
from .names import classify_kernels
from .registry import FORMULAS, OpCost, cost_ops, op_cost

__all__ = ["OpCost", "op_cost", "cost_ops", "FORMULAS", "classify_kernels", "dtype_bytes", "compute_dtype"]

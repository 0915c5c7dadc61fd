"""kernels: the pure FLOP/byte registry (op name + recorded inputs → OpCost) and kernel-name classes.

Importing this package never imports torch.
"""
from . import (attention, collectives, comm, conv, conv_legacy, fbgemm, gemm, index, inductor, loss,  # noqa: F401
               movement, norm, pointwise, pooling, quant_gemm, reduction, rng, rnn, routing, serving)  # (register formulas)
from .args import Args
from .dtypes import compute_dtype, dtype_bytes
from .frame import cost_ops
from .names import classify_kernels
from .registry import FORMULAS, OpCost, op_cost, register

__all__ = ["Args", "OpCost", "op_cost", "cost_ops", "register", "FORMULAS", "classify_kernels", "dtype_bytes",
           "compute_dtype"]

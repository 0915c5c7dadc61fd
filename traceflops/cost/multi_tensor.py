"""Bytes of multi_tensor_apply kernels (fused and foreach optimizers, AMP unscale, grad norms) from their launch.

PyTorch's foreach ops and apex's fused optimizers (FusedAdam, FusedLAMB, FusedSGD, `multi_tensor_scale`, ...)
run `multi_tensor_apply_kernel<TensorListMetadata<depth>, Functor<...>>`: each block of the grid processes one
chunk of at most 65536 elements of one tensor (`kChunkSize` in ATen/native/cuda/MultiTensorApply.cuh; apex's
`MultiTensorApply(2048 * 32)`), over `depth` parallel tensor lists. apex launches them from Python with no
dispatcher op, and old PyTorch versions record their TensorLists without shapes, so nothing else says how much
they move. From the grid, the elements a launch processes are at most blocks × 65536 (the last chunk of each
tensor is partial), and each element is read from the lists the functor reads and written to the ones it
writes: an upper bound (`bytes_source='upper_bound'`), never FLOPs. Many tensors smaller than a chunk make it
loose; where it would put the kernel above its memory roof it says nothing and the pipeline drops it
(kernels/fallback.reject_false_bounds).

Lists read and written, from the functor's template arguments:
* ATen's `*Functor<scalar_t, depth, r_args_depth, res_arg_index>`: r_args_depth lists read, one written;
* Adam/AdamW/LAMB-style optimizer functors (params, grads, exp_avg, exp_avg_sq[, max_exp_avg_sq]): every list
  read, all but the gradient written;
* anything else: every list read, none written (the least it can do).
"""
import re

import numpy as np
import pandas as pd

CHUNK = 65536
KERNEL = re.compile(r"multi_tensor_apply_kernel<(?:[\w:() ]*::)?\w*TensorListMetadata<(\d+)>\s*,\s*"
                    r"(?:[\w:() ]*::)?(\w+)<\s*([\w:]+(?: [\w:]+)?)\s*(?:,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+))?")
SIZES = {"float": 4, "double": 8, "c10::Half": 2, "at::Half": 2, "c10::BFloat16": 2, "at::BFloat16": 2, "__half": 2,
         "long": 8, "int64_t": 8, "int": 4, "short": 2, "signed char": 1, "unsigned char": 1, "bool": 1,
         "c10::complex<float>": 8}
OPTIMIZER = re.compile(r"Adam|Lamb|LAMB|Adagrad|Novograd", re.I)
NOTE = "multi_tensor_apply: at most 65536 elements per block of its grid (an upper bound)"
UPPER_BOUND = "upper_bound"


def lists(m):
    """(lists read, lists written) per element of one kernel-name match."""
    depth, functor = int(m.group(1)), m.group(2)
    if m.group(4) is not None:
        return int(m.group(5)), 1
    if OPTIMIZER.search(functor):
        return depth, depth - 1
    return depth, 0


def multi_tensor_bytes(k):
    """Fill bytes of multi_tensor_apply kernels that have none, in place; returns how many were costed."""
    names = k["name"].astype(object).to_numpy(object)
    codes, uniq = pd.factorize(pd.Series(names, dtype=object), use_na_sentinel=True)
    per_elem = np.array([_per_element(u) for u in uniq] + [np.nan], dtype=float)[codes]
    todo = np.isfinite(per_elem) & np.isnan(k["bytes"].to_numpy(float)) & (k["kind"] == "kernel").to_numpy(bool)
    blocks = k["blocks"].to_numpy(float) if "blocks" in k else np.full(len(k), np.nan)
    todo &= blocks > 0
    if not todo.any():
        return 0
    k.loc[todo, "bytes"] = blocks[todo] * CHUNK * per_elem[todo]
    if "bytes_source" in k:
        k.loc[todo, "bytes_source"] = UPPER_BOUND
    reason = k["flops_reason"].to_numpy(object)[todo]
    k.loc[todo, "flops_reason"] = [f"{r}; bytes: {NOTE}" if isinstance(r, str) else NOTE for r in reason]
    return int(todo.sum())


def _per_element(name):
    m = KERNEL.search(name) if isinstance(name, str) else None
    if m is None:
        return np.nan
    size = SIZES.get(m.group(3).strip())
    rw = lists(m)
    if size is None:
        return np.nan
    return float((rw[0] + rw[1]) * size)

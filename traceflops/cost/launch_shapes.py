"""launch_shapes: cost kernels whose op records no operands, from the shapes recorded next to their launch.

A custom op such as vLLM's `vllm::moe_forward` records only its activations (`[T, H]` hidden states and
`[T, E]` router logits). The expert weights are module state, so the op has no FLOP formula. But inside the op,
on the launching thread and between the previous launch and this one, the profiler does record the
operands the kernel is handed:
* the `aten::view` of the expert weights, `[E, K', N]` (uint8 for mxfp4, with 2 values per byte along K);
* the `aten::empty` that allocates the kernel's output, `[..., rows, N]` (`N/2` after a fused SwiGLU).

Kernel names say what the kernel computes (`_matmul_ogs_NNT_bf16xbf16xmxfp4_128x128x128x1_swiglu`:
activations x weights, and the fused activation). Only kernels named by a rule here are costed, only when
both operands are found in that window, and the result is labelled `flops_source='launch_shapes'`.
Nothing is guessed: a kernel without both operands keeps no cost and its reason.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..kernels.args import Args

# triton_kernels' grouped (ragged) matmul: rows gathered per expert, weights [E, K, N]
MATMUL_OGS = re.compile(r"_matmul_ogs_\w*?_(?P<x>bf16|fp16|fp32|fp8\w*?)x(?P<y>bf16|fp16|fp32|fp8\w*?)"
                        r"x(?P<w>mxfp4|bf16|fp16|fp8\w*?)_[\dx]+(?P<swiglu>_swiglu)?")
ACT_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
# recorded type of the weight view, values one stored element holds along K, bytes per stored element
WEIGHT_STORAGE = {"mxfp4": ("unsigned char", 2, 1), "bf16": ("c10::BFloat16", 1, 2), "fp16": ("c10::Half", 1, 2)}
ALLOC = {"aten::empty", "aten::empty_strided"}


def cost_from_launch_shapes(k, ops, launches):
    """Fill flops/bytes of named kernels that have none, in place; returns the number of kernels costed."""
    codes, uniques = pd.factorize(k["name"], use_na_sentinel=True)
    named = np.array([isinstance(u, str) and bool(MATMUL_OGS.search(u)) for u in uniques] + [False], dtype=bool)
    cand = np.flatnonzero(named[codes]  # code -1 (no name) reads the trailing False
                          & ~(np.nan_to_num(k["flops"].to_numpy(float)) > 0)
                          & (k["launch_op_row"].to_numpy() >= 0) & (k["launch_row"].to_numpy() >= 0))
    if not len(cand) or not len(ops):
        return 0
    l_ts = launches["ts_us"].to_numpy(float)
    l_tid = launches["tid"].to_numpy(object)
    # kernel (and graph) launch calls only: runtime calls such as hipPointerGetAttribute sit between them
    is_launch = launches["name"].astype(str).str.contains("Launch", regex=False).to_numpy(bool)
    o_ts, o_tid = ops["ts_us"].to_numpy(float), ops["tid"].to_numpy(object)
    o_name = ops["name"].to_numpy(object)
    o_end = o_ts + np.nan_to_num(ops["dur_us"].to_numpy(float))
    ops_by_tid, launches_by_tid = _by_tid(o_tid, o_ts), _by_tid(l_tid[is_launch], l_ts[is_launch])
    recorded = (o_name, ops["shapes"].to_numpy(object), ops["types"].to_numpy(object),
                ops["concrete"].to_numpy(object))
    done = 0
    for r in cand:
        m = MATMUL_OGS.search(k["name"].iat[r])
        lr, op = int(k["launch_row"].iat[r]), int(k["launch_op_row"].iat[r])
        t, tid = l_ts[lr], l_tid[lr]
        # the window: inside the launching op, after the previous launch on this thread, before this one
        lt = launches_by_tid.get(tid, (np.empty(0), None))[0]
        i = np.searchsorted(lt, t, side="left")
        start = max(o_ts[op], lt[i - 1]) if i > 0 else o_ts[op]
        if tid not in ops_by_tid:
            continue
        ts_t, rows_t = ops_by_tid[tid]
        win = rows_t[np.searchsorted(ts_t, start, side="left"):np.searchsorted(ts_t, t, side="right")]
        win = win[o_end[win] <= o_end[op]]
        cost = _matmul_ogs(m, win, recorded)
        if cost is None:
            continue
        flops, nbytes, dtype = cost
        k.iat[r, k.columns.get_loc("flops")] = flops
        k.iat[r, k.columns.get_loc("recompute_flops")] = 0.0
        k.iat[r, k.columns.get_loc("bytes")] = nbytes
        k.iat[r, k.columns.get_loc("dtype")] = dtype
        k.iat[r, k.columns.get_loc("family")] = "gemm"
        k.iat[r, k.columns.get_loc("flops_source")] = "launch_shapes"
        if "bytes_source" in k.columns:
            k.iat[r, k.columns.get_loc("bytes_source")] = "launch_shapes"
        k.iat[r, k.columns.get_loc("flops_reason")] = None
        k.iat[r, k.columns.get_loc("op")] = o_name[op]
        done += 1
    return done


def _by_tid(tid, ts):
    """tid -> (sorted timestamps, row numbers in that order)."""
    out = {}
    order = np.lexsort((ts, pd.factorize(pd.Series(tid, dtype=object))[0]))
    tid_sorted = tid[order]
    bounds = np.flatnonzero(np.r_[True, tid_sorted[1:] != tid_sorted[:-1], True])
    for s, e in zip(bounds[:-1], bounds[1:]):
        rows = order[s:e]
        out[tid_sorted[s]] = (ts[rows], rows)
    return out


def _matmul_ogs(m, win, recorded):
    """(flops, bytes, dtype) of one grouped matmul from the ops in its launch window, or None."""
    store_type, per_elem, elem_bytes = WEIGHT_STORAGE.get(m["w"], (None, None, None))
    act = ACT_BYTES.get(m["x"])
    if store_type is None or act is None:
        return None
    o_name, dims, types, conc = recorded
    weight = None
    for i in win[::-1]:  # the last 3-D view of weight-typed storage before the launch
        if o_name[i] == "aten::view":
            a = Args(dims[i], types[i], [])
            w = a.shape(0)
            if a.type(0) == store_type and w and len(w) == 3 and min(w) > 0:
                weight = w
                break
    if weight is None:
        return None
    e, k_stored, n = weight
    kdim = k_stored * per_elem
    n_out = n // 2 if m["swiglu"] else n
    size = None
    for i in win[::-1]:  # the last allocation shaped like this kernel's output
        if o_name[i] in ALLOC:
            z = Args([], [], conc[i]).ints(0)
            if z and z[-1] == n_out:
                size = z
                break
    if size is None:
        return None
    rows = int(np.prod(size[:-1]))
    flops = 2.0 * rows * kdim * n
    # weights of at most min(E, rows) experts (stored bytes), gathered activations in, output out
    weights = min(e, rows) * k_stored * n * elem_bytes
    return flops, float(weights + rows * kdim * act + rows * n_out * act), m["x"]

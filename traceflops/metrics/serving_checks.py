"""Does a model config match the trace? Layer count from the kernel pattern, hidden size from recorded GEMMs.

File and folder names do not say which model ran (the shared `deepseek_r1__*` decode traces are a 32-layer
Llama-3-8B-shaped model), so the config given with --model is checked against what the kernels show:

* layers: in each step, the count most kernel names share (each layer launches its RoPE, KV store,
  attention, norms and projections once, or twice for the norms); the most common such count over steps;
* hidden size: whether it is an inner (K) dimension of the GEMM ops whose input shapes were recorded.
"""
import re

import numpy as np
import pandas as pd

GEMM_OP = re.compile(r"^aten::(?:mm|addmm|linear|matmul|_scaled_mm)$|gemm|linear", re.I)


def layers_from_kernels(kernels):
    """The per-layer repetition count of the steps' kernels, or None (no step has a repeated kernel)."""
    k = kernels[kernels["kind"] == "kernel"] if "kind" in kernels else kernels
    step = k["serving_step"] if "serving_step" in k else pd.Series(0, index=k.index)
    k = k.assign(_s=step).dropna(subset=["_s"])
    if not len(k):
        return None
    counts = k.groupby(["_s", "name"], sort=False).size()
    per_step = []
    for _, c in counts.groupby(level=0, sort=False):
        vc = c[c >= 2].value_counts()  # repetition count -> how many kernel names repeat that often
        if len(vc):
            per_step.append(max(vc.items(), key=lambda x: (x[1], x[0]))[0])
    if not per_step:
        return None
    vals, n = np.unique(per_step, return_counts=True)
    return int(vals[np.argmax(n)])


def gemm_inner_dims(ops):
    """The last two dimensions of every input of the GEMM ops with recorded shapes (`shapes`: the lists ingest
    decoded; a table without them has none to offer)."""
    if ops is None or not len(ops) or "shapes" not in ops:
        return set()
    gemm = ops["name"].astype(str).str.contains(GEMM_OP).to_numpy(bool)
    codes = pd.factorize(ops["input_dims"].where(gemm))[0] if "input_dims" in ops else np.array([], dtype=int)
    rows = np.flatnonzero(codes >= 0)
    dims = set()
    for i in rows[np.unique(codes[rows], return_index=True)[1]]:  # one look per distinct recorded shape list
        shapes = ops["shapes"].iat[i]
        for s in shapes if isinstance(shapes, list) else []:
            if isinstance(s, list) and len(s) >= 2 and all(isinstance(x, int) for x in s):
                dims.update((s[-1], s[-2]))
    return dims


def check_config(spec, kernels, ops):
    """{layers_config, layers_from_kernels, layers_match, hidden_in_gemm_shapes, gemm_shapes, warning}."""
    n = len(spec.layers)
    seen = layers_from_kernels(kernels)
    dims = gemm_inner_dims(ops)
    hidden = (spec.hidden in dims) if dims else None
    out = {"layers_config": n, "layers_from_kernels": seen, "layers_match": None if seen is None else seen == n,
           "hidden_in_gemm_shapes": hidden, "gemm_shapes": bool(dims), "warning": None}
    bad = []
    if seen is not None and seen != n:
        bad.append(f"the config has {n} layers but the step's kernels repeat {seen} times per step")
    if hidden is False:
        bad.append(f"hidden_size {spec.hidden} is not a dimension of any recorded GEMM")
    if bad:
        out["warning"] = "model config does not match the trace: " + "; ".join(bad)
    return out

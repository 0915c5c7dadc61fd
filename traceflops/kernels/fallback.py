"""Lower-bound bytes for ops no formula costs: every recorded tensor argument touched once.

An op that launches GPU kernels and records its tensor arguments but has no formula (a custom op, an old
PyTorch name, an autograd node's own kernels) still moves at least its arguments once: each input read, each
output buffer it is handed written. `lower_bound` returns that sum (numel x element size, a stride-0 broadcast
dimension counted once, a TensorList's shapes where recorded). FLOPs stay unknown: nothing here guesses them.

It is a lower bound for ops that touch every element of their arguments. An op that touches only part of an
argument (a gather from an embedding table, a write of a few KV-cache slots, an update of a slice) is not: such
families have formulas (index.py, serving.py, fbgemm.py); were the bound to overshoot, the roofline shows it as
`suspect_bytes`. Where the dtype is not recorded (torch 1.8 writes no `Input type`; TensorList element types are
never recorded) an element counts 1 byte, the smallest element torch has, so the sum stays a lower bound.

`place` decides which ops carry a bound without counting bytes twice (see its docstring).
"""
from __future__ import annotations

import numpy as np

from .args import Args, numel
from .dtypes import compute_dtype
from .registry import OpCost

SOURCE = "lower_bound"
FAMILY = "unknown"


def lower_bound(a: Args) -> OpCost | None:
    """Bytes of every recorded tensor argument of one op (None when it records none, or only empty ones)."""
    total, guessed, lists, dtype = 0.0, False, False, None
    for i in range(len(a.dims)):
        if a.is_tensor(i):
            nb = a.nbytes(i)
            if nb is None:  # dtype not recorded
                nb, guessed = float(numel(a.shape(i))), True
            elif dtype is None:
                dtype = compute_dtype(a.type(i))
            total += nb
        else:
            shapes = a.tensor_list(i)
            if shapes:
                total += float(sum(numel(s) for s in shapes))
                lists = True
    if total <= 0:
        return None
    note = "lower bound: every recorded tensor argument once"
    if guessed:
        note += "; dtype not recorded, 1 byte per element"
    if lists:
        note += "; TensorList dtype not recorded, 1 byte per element"
    return OpCost(flops=None, bytes=total, dtype=dtype, source=SOURCE, family=FAMILY, note=note)


def depths(parent):
    """Depth of each op in the op tree (roots 0)."""
    n = len(parent)
    depth = np.zeros(n, dtype=np.int64)
    has = parent >= 0
    p = np.where(has, parent, 0)
    for _ in range(n + 1):
        new = np.where(has, depth[p] + 1, 0)
        if np.array_equal(new, depth):
            break
        depth = new
    return depth


def below_flagged(parent, flag):
    """True for ops with a strict ancestor that has `flag`."""
    n = len(parent)
    out = np.zeros(n, dtype=bool)
    has = parent >= 0
    p = np.where(has, parent, 0)
    for _ in range(n + 1):
        new = has & (flag[p] | out[p])
        if np.array_equal(new, out):
            break
        out = new
    return out


def place(parent, lower, costed, own_bytes, launches=None, walk_parent=None):
    """Bytes each lower-bound op carries (NaN where it carries none), given per op: `lower` its bound (NaN: none),
    `costed` whether a formula costs it, `own_bytes` the formula bytes (NaN: none), `launches` whether it launches
    GPU kernels itself (None: unknown, all may).

    An op carries a bound only when it launches kernels, no formula costs it, and no ancestor does (a formula
    op's sub-ops are its own work: their kernels take its cost). Ops deeper in the tree are placed first; an op
    whose sub-ops already carry bytes (a formula's or a bound) carries only the part of its bound they do not
    (nothing when they carry it all), so an op and its sub-ops together never count more than the larger of
    the op's bound and what the sub-ops count. `walk_parent`: the tree kernels walk up to find a cost (it stops at
    user annotations, as kernel attribution does; default `parent`): a formula ancestor blocks a bound only
    through it, while sub-ops' bytes count through the full tree.
    """
    n = len(parent)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    walk = parent if walk_parent is None else walk_parent
    cand = np.isfinite(lower) & ~costed & ~below_flagged(walk, costed)
    if launches is not None:
        cand &= launches
    if not cand.any():
        return out
    depth = depths(parent)
    own = np.where(np.isfinite(own_bytes), own_bytes, 0.0)
    desc = np.zeros(n)
    order = np.argsort(-depth, kind="stable")
    levels = np.split(order, np.flatnonzero(np.diff(depth[order])) + 1)
    for rows in levels:
        c = rows[cand[rows]]
        if len(c):
            res = lower[c] - desc[c]
            ok = res > 0
            out[c[ok]] = res[ok]
            own[c[ok]] += res[ok]
        p = parent[rows]
        m = p >= 0
        np.add.at(desc, p[m], own[rows[m]] + desc[rows[m]])
    return out


ROOF_COLUMNS = ("achieved_tbps", "intensity", "ceiling_tflops", "pct_of_ceiling", "time_at_ceiling_us", "time_lost_us",
                "achievable_tflops", "pct_of_achievable")


def reject_false_bounds(k, costs=None):
    """Drop bounds the hardware disproves, in place: a kernel whose lower bound is above its memory roof and not
    explained by L2 (roofline's `suspect_bytes`) did not touch all of its op's arguments (a gather, a cache
    write), so the bound is no bound and its bytes are unknown; an upper bound there is too loose to say anything. Their ops lose the bound too (`costs`, the op
    cost table, when given). Returns the number of kernels changed."""
    if "bytes_source" not in k or "roof_flag" not in k:
        return 0
    bad = (k["bytes_source"] == SOURCE).to_numpy(bool) & (k["roof_flag"] == "suspect_bytes").to_numpy(bool)
    # an upper bound above the roof is too loose to say anything, whatever L2 could explain
    upper = (k["bytes_source"] == "upper_bound").to_numpy(bool) & (k["pct_of_ceiling"].to_numpy(float) > 105)
    if not (bad.any() or upper.any()):
        return 0
    if upper.any():  # a loose upper bound above the roof says nothing: the kernel keeps its reason, without bytes
        reason = k.loc[upper, "flops_reason"].astype(object).to_numpy(object)
        k.loc[upper, "flops_reason"] = [f"{r}; its upper-bound bytes would be above the memory roof: bytes unknown"
                                        if isinstance(r, str) else "bytes unknown" for r in reason]
        for c in ("bytes",) + ROOF_COLUMNS:
            if c in k:
                k.loc[upper, c] = np.nan
        for c in ("bytes_source", "bound", "roof_flag"):
            if c in k:
                k.loc[upper, c] = None
        if not bad.any():
            return int(upper.sum())
    rows = np.flatnonzero(bad)
    tbps, peak = k["achieved_tbps"].to_numpy(float)[rows], k["peak_tbps"].to_numpy(float)[rows]
    ops = k["op"].to_numpy(object)[rows]
    k.loc[bad, "flops_reason"] = [
        f"op {op} touches only part of its recorded arguments: reading each once would take {t:.3g} TB/s, above "
        f"the device's {p:.3g} TB/s (bytes unknown; no formula for op {op})" for op, t, p in zip(ops, tbps, peak)]
    for c in ("bytes",) + ROOF_COLUMNS:
        if c in k:
            k.loc[bad, c] = np.nan
    for c in ("bytes_source", "bound", "roof_flag"):
        if c in k:
            k.loc[bad, c] = None
    if costs is not None and "op_row" in k:
        op_rows = np.unique(k["op_row"].to_numpy()[rows])
        op_rows = op_rows[op_rows >= 0]
        lb = costs["bytes_source"].to_numpy(object)[op_rows] == SOURCE
        costs.loc[costs.index[op_rows[lb]], ["bytes"]] = np.nan
        costs.loc[costs.index[op_rows[lb]], ["bytes_source"]] = None
    return int(bad.sum() + upper.sum())

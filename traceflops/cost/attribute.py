"""attribute: op costs → kernel costs.

FLOPs are counted at exactly one level of the op tree (the innermost op that has a formula), and each
op's FLOPs go to its compute kernels in proportion to their GPU time, so per-op sums are preserved.
Helpers (split-K reduce, layout transposes, casts) of an op with FLOPs get no FLOPs but a time-share
of the op's bytes: they move data, and the op's byte total is preserved.
"""
import numpy as np
import pandas as pd

from ..link.intervals import propagate

COMPUTE = {"gemm", "attention", "conv", "fused"}


def _ancestors(parent, rows):
    """Boolean mask of every strict ancestor of `rows`."""
    out = np.zeros(len(parent), dtype=bool)
    frontier = np.unique(parent[rows])
    frontier = frontier[frontier >= 0]
    while len(frontier):
        frontier = frontier[~out[frontier]]
        out[frontier] = True
        frontier = np.unique(parent[frontier])
        frontier = frontier[frontier >= 0]
    return out


def one_level(ops, costs):
    """Count each op family's FLOPs and bytes once: an op with a same-family descendant that has them is
    counted there instead (`convolution` > `_convolution` > `cudnn_convolution`), while an op is kept when
    only a different family sits below it (a conv backward's bias-gradient `sum`).
    """
    parent = ops["parent"].to_numpy()
    costs = costs.copy()
    fam = costs["family"].astype(object).to_numpy()
    flops = np.nan_to_num(costs["flops"].to_numpy(float)) > 0
    has_bytes = costs["bytes"].notna().to_numpy()
    below = np.zeros(len(ops), dtype=bool)
    for f in {x for x in fam if isinstance(x, str)}:
        same = fam == f
        below_f = np.zeros(len(ops), dtype=bool)
        for have in (flops & same, has_bytes & same):
            if have.any():
                below_f |= _ancestors(parent, np.flatnonzero(have))
        below |= below_f & same & (flops | has_bytes)
    for col in ("flops", "recompute_flops"):
        costs[col] = np.where(below, np.where(flops, 0.0, np.nan), costs[col].to_numpy(float))
    costs["bytes"] = np.where(below, np.nan, costs["bytes"].to_numpy(float))
    costs["counted_below"] = below
    return costs


def mark_recompute(ops, costs):
    """Activation-checkpointing recompute: forward ops (they record an autograd sequence number on the
    forward thread) that run inside a backward node.  Their FLOPs are hardware work, not model work, so
    they move from `flops` to `recompute_flops` (HFU counts them, MFU does not).
    """
    costs = costs.copy()
    if not len(ops):
        costs["recompute"] = False
        return costs
    in_bwd = ops["name"].str.startswith("autograd::engine::evaluate_function").to_numpy(bool)
    under_bwd = _ancestors_of_set(ops["parent"].to_numpy(), in_bwd)
    fwd_like = ops["seq"].notna().to_numpy(bool) & (ops["fwd_tid"] == 0).fillna(False).to_numpy(bool)
    rec = under_bwd & fwd_like & ~in_bwd
    f = costs["flops"].to_numpy(float)
    r = costs["recompute_flops"].to_numpy(float)
    costs["recompute_flops"] = np.where(rec, np.nan_to_num(r) + np.nan_to_num(f), r)
    costs["flops"] = np.where(rec & np.isfinite(f), 0.0, f)
    costs["recompute"] = rec
    return costs


def _ancestors_of_set(parent, flag):
    """True for rows that have a (strict) ancestor with `flag` set."""
    self_or_above = propagate(parent, np.where(flag, 1.0, np.nan), np.isnan) == 1
    return np.where(parent >= 0, self_or_above[np.clip(parent, 0, None)], False)


def math_op(ops, costs, launch_op):
    """For each kernel, the op whose shapes define its work: the launching op or its nearest costed ancestor.

    The walk stops at user annotations so a kernel is never charged to an unrelated region.
    """
    n = len(ops)
    if n == 0:
        return np.full(len(launch_op), -1, dtype=np.int64)
    costed = ((np.nan_to_num(costs["flops"].to_numpy(float)) > 0) | costs["bytes"].notna().to_numpy()
              | (np.nan_to_num(costs["recompute_flops"].to_numpy(float)) > 0))
    own = np.where(costed, np.arange(n), -1).astype(np.int64)
    parent = ops["parent"].to_numpy().copy()
    parent[(ops["cat"] == "user_annotation").to_numpy()] = -1
    target = propagate(parent, own, lambda a: a == -1)
    out = np.full(len(launch_op), -1, dtype=np.int64)
    ok = launch_op >= 0
    out[ok] = target[launch_op[ok]]
    return out


def attribute(gpu, ops, costs, classes):
    """Kernel table cost columns: flops, recompute_flops, bytes, dtype, flops_source, flops_reason, op."""
    k = pd.DataFrame(index=gpu.index)
    mop = math_op(ops, costs, gpu["launch_op_row"].to_numpy())
    k["op_row"] = mop
    has_op = mop >= 0
    idx = np.clip(mop, 0, None)
    pick = lambda col: np.where(has_op, costs[col].to_numpy(object)[idx] if len(costs) else None, None)
    op_flops = np.where(has_op, costs["flops"].to_numpy(float)[idx] if len(costs) else np.nan, np.nan)
    op_recomp = np.where(has_op, costs["recompute_flops"].to_numpy(float)[idx] if len(costs) else np.nan, np.nan)
    op_bytes = np.where(has_op, costs["bytes"].to_numpy(float)[idx] if len(costs) else np.nan, np.nan)

    dur = np.nan_to_num(gpu["dur_us"].to_numpy(float))
    w = np.where(dur > 0, dur, 1e-6)  # zero-length kernels still take a (tiny) share
    is_kernel = (gpu["kind"] == "kernel").to_numpy()
    compute = is_kernel & classes["category"].isin(COMPUTE).to_numpy() & ~classes["is_helper"].fillna(False).to_numpy(bool)
    op_has_flops = (np.nan_to_num(op_flops) > 0) | (np.nan_to_num(op_recomp) > 0)
    # If none of an op's kernels looks like compute, all its kernels share the FLOPs.
    grp = pd.Series(mop)
    any_compute = pd.Series(compute).groupby(grp).transform("any").to_numpy()
    takes_flops = has_op & is_kernel & np.where(any_compute, compute, True)
    # Bytes go to every kernel of the op by time share (helpers move data too); memcpy/memset use their own.
    arg_bytes = gpu["arg_bytes"].to_numpy(float)
    takes_bytes = has_op & (is_kernel | ~np.isfinite(arg_bytes))
    share_f = _share(w, mop, takes_flops)
    share_b = _share(w, mop, takes_bytes)

    k["flops"] = np.where(takes_flops & op_has_flops, np.nan_to_num(op_flops) * share_f, np.nan)
    k["flops"] = np.where(takes_flops & ~op_has_flops & (op_flops == 0), 0.0, k["flops"])
    k["recompute_flops"] = np.where(takes_flops & op_has_flops, np.nan_to_num(op_recomp) * share_f, np.nan)
    k["bytes"] = np.where(takes_bytes, op_bytes * share_b, np.nan)

    # memcpy/memset carry their own byte count; a device-to-device copy reads and writes it.
    dtod = gpu["name"].str.contains("DtoD|PtoP", regex=True).to_numpy(bool)
    own_bytes = np.where(dtod, 2 * arg_bytes, arg_bytes)
    use_own = ~is_kernel & np.isfinite(arg_bytes)
    k.loc[use_own, "bytes"] = own_bytes[use_own]

    src = pick("flops_source")
    k["flops_source"] = np.where(~np.isnan(k["flops"].to_numpy(float)) & (k["flops"].to_numpy(float) > 0), src, "none")
    k["dtype"] = np.where(has_op, pick("dtype"), None)
    k["op"] = np.where(has_op, ops["name"].to_numpy(object)[idx] if len(ops) else None, None)
    k["family"] = np.where(has_op, pick("family"), None)
    k["flops_reason"] = _reasons(gpu, ops, k, takes_flops, op_has_flops, has_op, is_kernel)
    return k


def _share(w, group, mask):
    s = pd.Series(np.where(mask, w, 0.0))
    tot = s.groupby(pd.Series(group)).transform("sum").to_numpy()
    return np.where(mask & (tot > 0), s.to_numpy() / np.where(tot > 0, tot, 1), 0.0)


def _reasons(gpu, ops, k, takes_flops, op_has_flops, has_op, is_kernel):
    n = len(gpu)
    r = np.full(n, None, dtype=object)
    flops = k["flops"].to_numpy(float)
    ok = np.nan_to_num(flops) > 0
    launch_op = gpu["launch_op_row"].to_numpy()
    lname = np.where(launch_op >= 0, ops["name"].to_numpy(object)[np.clip(launch_op, 0, None)] if len(ops) else None, None)
    r[~is_kernel] = "memcpy/memset: data movement, no FLOPs"
    unlinked = is_kernel & (launch_op < 0)
    r[unlinked] = np.array(["not linked to an op: " + str(x) for x in gpu["link_reason"].to_numpy(object)[unlinked]], dtype=object)
    nocost = is_kernel & (launch_op >= 0) & ~has_op
    r[nocost] = np.array([f"no FLOP formula for op {x}" for x in lname[nocost]], dtype=object)
    helper = is_kernel & has_op & op_has_flops & ~takes_flops
    r[helper] = np.array([f"helper kernel of {x}: the op's FLOPs are counted on its compute kernel (this one gets a time-share of its bytes)" for x in k["op"].to_numpy(object)[helper]], dtype=object)
    noflop = is_kernel & has_op & ~op_has_flops & ~ok
    r[noflop] = np.array([f"op {x} moves bytes but does no counted FLOPs" for x in k["op"].to_numpy(object)[noflop]], dtype=object)
    return np.where(ok, None, r)

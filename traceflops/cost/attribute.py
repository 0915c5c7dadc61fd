"""attribute: op costs → kernel costs.

FLOPs are counted at exactly one level of the op tree (the innermost op that has a formula), and each
op's FLOPs go to its compute kernels in proportion to their GPU time, so per-op sums are preserved.
Helpers (split-K reduce, layout transposes, casts) of an op with FLOPs get no FLOPs but a time-share
of the op's bytes: they move data, and the op's byte total is preserved.
"""
import numpy as np
import pandas as pd

from ..ingest.columns import text_at
from ..kernels.registry import has_formula, is_sparse
from ..kernels.parts import kernel_parts
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
    costs = costs.copy(deep=False)  # copy-on-write: the columns set below are new, the caller's stay
    fam_codes, families = pd.factorize(costs["family"].astype(object).to_numpy())
    flops = np.nan_to_num(costs["flops"].to_numpy(float)) > 0
    has_bytes = costs["bytes"].notna().to_numpy()
    below = np.zeros(len(ops), dtype=bool)
    # lower-bound bytes (family "unknown", kernels/fallback.py) are already placed once per subtree
    for i, f in enumerate(families):
        if not isinstance(f, str) or f == "unknown":
            continue
        same = fam_codes == i
        have = (flops | has_bytes) & same  # ancestors of a union: the union of the ancestors
        if have.any():
            below |= _ancestors(parent, np.flatnonzero(have)) & have
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
    costs = costs.copy(deep=False)  # copy-on-write: the columns set below are new, the caller's stay
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
    # If none of an op's kernels looks like compute, all its kernels but helpers share the FLOPs: a split-K
    # reduce whose GEMM kernel is outside the trace does not take the GEMM's FLOPs.
    grp = pd.Series(mop)
    any_compute = pd.Series(compute).groupby(grp).transform("any").to_numpy()
    helper = classes["is_helper"].fillna(False).to_numpy(bool)
    takes_flops = has_op & is_kernel & np.where(any_compute, compute, ~helper)
    # Bytes go to every kernel of the op by time share (helpers move data too); memcpy/memset use their own.
    arg_bytes = gpu["arg_bytes"].to_numpy(float)
    takes_bytes = has_op & (is_kernel | ~np.isfinite(arg_bytes))
    share_f = _share(w, mop, takes_flops)
    share_b = _share(w, mop, takes_bytes)

    k["flops"] = np.where(takes_flops & op_has_flops, np.nan_to_num(op_flops) * share_f, np.nan)
    k["work_split"] = _split_by_parts(k, gpu, costs, mop, takes_flops, w, op_recomp)
    k["flops"] = np.where(takes_flops & ~op_has_flops & (op_flops == 0), 0.0, k["flops"])
    k["recompute_flops"] = np.where(takes_flops & op_has_flops, np.nan_to_num(op_recomp) * share_f, np.nan)
    k["bytes"] = np.where(takes_bytes, op_bytes * share_b, np.nan)

    # memcpy/memset carry their own byte count; a device-to-device copy reads and writes it.
    use_own = ~is_kernel & np.isfinite(arg_bytes)
    dtod = np.zeros(len(gpu), dtype=bool)  # only copies are asked: kernel names are long
    dtod[use_own] = gpu["name"][use_own].str.contains("DtoD|PtoP", regex=True).to_numpy(bool)
    own_bytes = np.where(dtod, 2 * arg_bytes, arg_bytes)
    k.loc[use_own, "bytes"] = own_bytes[use_own]
    bsrc = pick("bytes_source") if "bytes_source" in costs else np.full(len(k), None, dtype=object)
    k["bytes_source"] = np.where(use_own, "recorded", np.where(np.isfinite(k["bytes"].to_numpy(float)), bsrc, None))

    src = pick("flops_source")
    k["flops_source"] = np.where(~np.isnan(k["flops"].to_numpy(float)) & (k["flops"].to_numpy(float) > 0), src, "none")
    k["dtype"] = np.where(has_op, pick("dtype"), None)
    k["op"] = text_at(ops["name"], np.where(has_op, mop, -1)) if len(ops) else None
    k["family"] = np.where(has_op, pick("family"), None)
    k["flops_reason"] = _reasons(gpu, ops, k, takes_flops, op_has_flops, has_op, is_kernel, costs)
    return k


def _split_by_parts(k, gpu, costs, mop, takes_flops, w, op_recomp):
    """Where an op's compute kernels each name a part of its work (OpCost.flops_parts: a conv backward's dgrad and
    wgrad), give each kernel its own part's FLOPs (in place on k["flops"]). Returns the `work_split` column:
    `part`, or `time_share` where several kernels of one op split its FLOPs by GPU time (the fallback)."""
    n = len(k)
    out = np.full(n, None, dtype=object)
    fl = k["flops"].to_numpy(float)
    several = pd.Series(takes_flops & (np.nan_to_num(fl) > 0)).groupby(pd.Series(mop)).transform("sum").to_numpy() > 1
    out[several & takes_flops & (mop >= 0)] = "time_share"
    if "flops_parts" not in costs or not len(costs):
        return out
    parts = costs["flops_parts"].to_numpy(object)
    cand = np.flatnonzero(takes_flops & (mop >= 0))
    if len(cand):  # one look per op, not per kernel: an op launches many
        ops_of, inv = np.unique(mop[cand], return_inverse=True)
        cand = cand[np.array([isinstance(parts[o], tuple) for o in ops_of], dtype=bool)[inv]]
    if not len(cand):
        return out
    label = kernel_parts(gpu["name"].iloc[cand])
    by_op = pd.DataFrame({"row": cand, "op": mop[cand], "label": label, "w": w[cand]}).groupby("op")
    new = fl.copy()
    for op, g in by_op:
        own = dict(parts[op])
        if np.nan_to_num(op_recomp[g["row"].iloc[0]]) > 0:  # recomputed forward work: the time split stays
            continue
        needed = {p for p, f in own.items() if f > 0}
        if g["label"].isna().any() or not set(g["label"]) <= set(own) or not needed <= set(g["label"]):
            continue  # a compute kernel names no part, or a part has no kernel: keep the time split
        for lab, h in g.groupby("label"):
            rows = h["row"].to_numpy()
            new[rows] = own[lab] * h["w"].to_numpy() / h["w"].sum()
        out[g["row"].to_numpy()] = "part"
    k["flops"] = new
    return out


def _share(w, group, mask):
    s = pd.Series(np.where(mask, w, 0.0))
    tot = s.groupby(pd.Series(group)).transform("sum").to_numpy()
    return np.where(mask & (tot > 0), s.to_numpy() / np.where(tot > 0, tot, 1), 0.0)


LINK_REASONS = {  # link_reason -> the category the no-FLOPs table ranks by
    "launch call outside any CPU op": "no CPU op around the launch (a raw CUDA/HIP extension or library call)",
    "launched before the profiling window (no launch call in the trace)":
        "launched before the profiling window (no launch call in the trace)",
}


def _reasons(gpu, ops, k, takes_flops, op_has_flops, has_op, is_kernel, costs):
    """Why each GPU event has no FLOPs, in categories a reader can act on (the report ranks them by GPU time):
    `launched before the profiling window`, `no CPU op around the launch`, `graph launch ...` (replays without
    capture), `no CPU op records its inputs` (a kernel launched straight from an annotation), `input shapes not
    recorded`, `TensorList shapes not recorded by this PyTorch version`, `formula for X could not read its
    inputs (what was missing)`, `no formula for op X` (with whether it has lower-bound bytes), and for events
    with bytes the reason they have no FLOPs."""
    n = len(gpu)
    r = np.full(n, None, dtype=object)
    flops = k["flops"].to_numpy(float)
    ok = np.nan_to_num(flops) > 0
    launch_op = gpu["launch_op_row"].to_numpy()
    has_launch = launch_op >= 0
    lrow = np.clip(launch_op, 0, None)
    r[~is_kernel] = "memcpy/memset: data movement, no FLOPs"
    unlinked = is_kernel & ~has_launch
    lr = gpu["link_reason"].to_numpy(object)
    r[unlinked] = [LINK_REASONS.get(x) or f"not linked to an op: {x}" for x in lr[unlinked]]
    nocost = is_kernel & has_launch & ~has_op
    if nocost.any():
        r[nocost] = _uncosted(ops, costs, lrow[nocost])
    helper = is_kernel & has_op & op_has_flops & ~takes_flops
    r[helper] = np.array([f"helper kernel of {x}: the op's FLOPs are counted on its compute kernel (this one gets a time-share of its bytes)" for x in k["op"].to_numpy(object)[helper]], dtype=object)
    noflop = is_kernel & has_op & ~op_has_flops & ~ok
    if noflop.any():
        r[noflop] = _bytes_only(k, costs, noflop)
    return np.where(ok, None, r)


def _uncosted(ops, costs, rows):
    """Reasons for kernels whose launching op (and every enclosing op up to an annotation) carries no cost."""
    name = ops["name"].to_numpy(object)[rows]
    cat = ops["cat"].to_numpy(object)[rows] if "cat" in ops else np.full(len(rows), "cpu_op", dtype=object)
    dims = ops["input_dims"].to_numpy(object)[rows] if "input_dims" in ops else np.full(len(rows), None, dtype=object)
    note = costs["cost_note"].to_numpy(object)[rows] if costs is not None and "cost_note" in costs else [None] * len(rows)
    types = ops["input_types"].to_numpy(object)[rows] if "input_types" in ops else np.full(len(rows), None, dtype=object)
    trace_shapes = "input_dims" in ops and ops["input_dims"].notna().any()
    combos = pd.DataFrame({"n": name, "c": cat, "d": dims, "t": types, "note": note}).astype(object)
    combos = combos.where(combos.notna(), None)
    codes, uniq = pd.factorize(pd.Series(list(zip(*[combos[c] for c in combos.columns])), dtype=object))
    text = np.array([_uncosted_one(*u, trace_shapes=trace_shapes) for u in uniq], dtype=object)
    return text[codes]


def _uncosted_one(name, cat, dims, types, note, trace_shapes):
    shaped = isinstance(dims, str) and dims not in ("[]", "") and any(ch.isdigit() for ch in dims)
    lists = isinstance(types, str) and "TensorList" in types
    if cat == "user_annotation" and not has_formula(name):
        return (f"no CPU op records this kernel's inputs: launched straight from annotation {name} "
                "(a custom or Triton kernel with no dispatcher op)")
    if not trace_shapes:
        return f"input shapes not recorded (trace made without record_shapes): op {name}"
    if has_formula(name):
        if (note and "TensorList" in note and "not recorded" in note) or (lists and not shaped):
            return f"TensorList shapes not recorded by this PyTorch version (op {name})"
        what = note if note and note != "inputs not recorded or not understood" else (
            "its tensor shapes are not recorded" if not shaped else "the recorded inputs do not fit its schema")
        return f"formula for {name} could not read its inputs ({what})"
    if not shaped:
        if lists:
            return f"TensorList shapes not recorded by this PyTorch version (op {name}; no formula for it)"
        return f"no formula for op {name} (and it records no tensor shapes)"
    if is_sparse(name):
        return f"no formula for op {name} (it touches part of its arguments, so no lower bound either)"
    if note:
        return f"no formula for op {name} ({note})"
    return f"no formula for op {name}"


def _bytes_only(k, costs, mask):
    """Reasons for kernels that carry bytes but no FLOPs."""
    op = k["op"].to_numpy(object)[mask]
    fam = k["family"].to_numpy(object)[mask]
    bsrc = k["bytes_source"].to_numpy(object)[mask] if "bytes_source" in k else np.full(mask.sum(), None, dtype=object)
    row = k["op_row"].to_numpy()[mask]
    note = (costs["cost_note"].to_numpy(object)[np.clip(row, 0, None)] if costs is not None and "cost_note" in costs
            and len(costs) else np.full(mask.sum(), None, dtype=object))
    combos = pd.DataFrame({"o": op, "f": fam, "b": bsrc, "n": note}).astype(object)
    combos = combos.where(combos.notna(), None)
    codes, uniq = pd.factorize(pd.Series(list(zip(*[combos[c] for c in combos.columns])), dtype=object))
    return np.array([_bytes_only_one(*u) for u in uniq], dtype=object)[codes]


def _bytes_only_one(op, family, bytes_source, note):
    if family == "comm":
        return f"collective {op}: moves bytes over the link, no FLOPs"
    if family == "unknown":
        if has_formula(op):
            what = note.split("; lower bound")[0] if isinstance(note, str) and note else "inputs not understood"
            if what == "inputs not recorded or not understood":
                what = "the recorded inputs do not fit its schema"
            return (f"formula for {op} could not read its inputs ({what}): bytes are a lower bound (every recorded "
                    "tensor argument once)")
        return f"no formula for op {op}: bytes are a lower bound (every recorded tensor argument once)"
    if isinstance(note, str) and note and bytes_source == "lower_bound":
        return f"op {op}: FLOPs unknown ({note})"
    return f"op {op} moves bytes but does no counted FLOPs"

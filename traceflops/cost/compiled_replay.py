"""Cudagraph-tree replays of compiled code, through the output module's call order; and the `compiled` summary.

A graph replayed by cudagraph trees (`mode="reduce-overhead"`) has no launch op per kernel: one
`cudaGraphLaunch` inside the `## Call CompiledFxGraph <key> ##` op owns all of them. When the graph's warm-up
or recording call is in the trace, graphs/replay.py copies the costs of its kernels (`eager_align`; those
kernels took their costs from the output code when the folder was given). A replay still without costs is
aligned here with its module's call sites in order (`graph_match` = `compiled_order`): Triton kernels are the
anchors (the GPU kernel is named after the kernel's function), the kernels between two anchors belong to the
extern calls between them — all of them to a lone extern (split-K and its reduce), one each when the counts
agree, none otherwise. Sizes come from the module (a cudagraph records static shapes; its symbols are bound to
the compile-time hints, which is what the graph was recorded at unless it was recompiled for another size).
"""
from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from .attribute import COMPUTE
from .compiled import SOURCE, call_of, gpu_name, graph_call_rows, is_triton, pick_module, site_cost
from .graphs import graph_kernels

METHOD = "compiled_order"


def compiled_replays(k, ops, code, graph_info=None):
    """Cost replayed kernels no reference matched, in place; returns how many got costs. Updates the
    `graphs` summary block (graph_info) when given."""
    if code is None or not len(k) or not len(ops) or "graph_match" not in k:
        return 0
    todo = graph_kernels(k) & pd.isna(k["graph_match"]).to_numpy(bool)
    if not todo.any():
        return 0
    calls, keys = graph_call_rows(ops)
    within = call_of(ops, calls)
    key_of = dict(zip(calls.tolist(), keys.tolist()))
    lo = k["launch_op_row"].to_numpy()
    call = np.where(lo >= 0, within[np.clip(lo, 0, None)], -1)
    sel = todo & (call >= 0)
    sub = k[sel].assign(_w=k["launch_row"].to_numpy()[sel], _c=call[sel])
    cats = k["category"].to_numpy(object) if "category" in k else np.full(len(k), None, dtype=object)
    helper = k["is_helper"].fillna(False).to_numpy(bool) if "is_helper" in k else np.zeros(len(k), dtype=bool)
    dur = np.maximum(np.nan_to_num(k["dur_us"].to_numpy(float)), 1e-6)
    pos_of = {x: p for p, x in enumerate(k.index)}
    plans, got = {}, {}  # got: kernel position -> ((flops, bytes, dtype, family), op, module path, confidence)
    for (_, c), g in sub.sort_values("ts_us", kind="stable").groupby(["_w", "_c"], sort=False):
        pos = np.array([pos_of[x] for x in g.index])
        names = tuple(g["name"].astype(str))
        key = key_of.get(c)
        mod = code.by_fx_key.get(key) if key not in (None, "None") else None
        mod = mod or pick_module(code, tuple(n for n in names if n.startswith("triton_")), gpu=True)
        if mod is None:
            continue
        pk = (mod.key, names)
        if pk not in plans:  # one plan per module and kernel sequence: replays repeat it
            plans[pk] = _plan(mod, names, cats[pos], helper[pos])
        groups, conf = plans[pk]
        for ks, res, name in groups:
            _share(pos[ks], res, name, cats, helper, dur, got, (mod.path, conf))
    if got:
        _write(k, got)
        if graph_info is not None:
            refresh(k, graph_info)
    return len(got)


def _plan(mod, names, cats, helper):
    """([(kernel indices in the window, site cost, op name)], confidence) for one replay's kernel sequence."""
    sites = [s for s in mod.sites if s.kind in ("triton", "extern")]
    tri = [j for j, s in enumerate(sites) if s.kind == "triton"]
    fn = [gpu_name(mod.kernels[sites[j].name]) for j in tri]
    sm = difflib.SequenceMatcher(None, list(names), fn, autojunk=False)
    anchors = [(b.a + t, tri[b.b + t]) for b in sm.get_matching_blocks() for t in range(b.size)]
    n_tri = int(is_triton(np.array(names, dtype=object)).sum())
    env = mod.env()
    groups = []
    for i, j in anchors:
        res = site_cost(mod, sites[j], env)
        if res is not None:
            groups.append(([i], res, mod.kernels[sites[j].name].kernel_name))
    bounds = [(-1, -1)] + anchors + [(len(names), len(sites))]
    for (i1, j1), (i2, j2) in zip(bounds[:-1], bounds[1:]):
        ks, ext = list(range(i1 + 1, i2)), [j for j in range(j1 + 1, j2) if sites[j].kind == "extern"]
        if not ks or not ext:
            continue
        costs = [site_cost(mod, sites[j], env) for j in ext]
        for ks_g, e in _split(ks, [c[3] if c else None for c in costs], cats, helper):
            if costs[e] is not None:
                groups.append((ks_g, costs[e], sites[ext[e]].name))
    return groups, (len(anchors) / n_tri if n_tri else 0.0)


def _write(k, got):
    pos = np.array(sorted(got))
    vals = [got[p] for p in pos]
    idx = k.index[pos]
    flops = np.array([np.nan if v[0][0] is None else v[0][0] for v in vals], dtype=float)
    nbytes = np.array([np.nan if v[0][1] is None else v[0][1] for v in vals], dtype=float)
    k.loc[idx, "flops"] = flops
    k.loc[idx, "bytes"] = nbytes
    k.loc[idx, "dtype"] = [v[0][2] for v in vals]
    k.loc[idx, "family"] = [v[0][3] for v in vals]
    k.loc[idx, "op"] = [v[1] for v in vals]
    k.loc[idx, "recompute_flops"] = np.where(np.isnan(flops), np.nan, 0.0)
    k.loc[idx, "flops_source"] = np.where(np.nan_to_num(flops) > 0, SOURCE, "none")
    k.loc[idx, "flops_reason"] = [None if f > 0 else f"graph replay aligned with the output code {v[2][0]}: bytes only "
                                  "(FLOPs of Inductor pointwise/reduction kernels are not recorded)"
                                  for f, v in zip(np.nan_to_num(flops), vals)]
    if "bytes_source" in k:
        k.loc[idx, "bytes_source"] = np.where(np.isfinite(nbytes), SOURCE, None)
    k.loc[idx, "graph_match"] = METHOD
    k.loc[idx, "graph_confidence"] = [v[2][1] for v in vals]


def _split(ks, fams, cats, helper):
    """The replayed kernels between two anchors, grouped by the extern call that launched them: all of them for
    a lone extern; else each extern's kernels start at a kernel of its family (a GEMM kernel for an mm, an
    attention kernel for SDPA) and take the helpers after it (a split-K reduce); one each when the counts agree.
    [] when neither reading accounts for every extern (the kernels stay unmatched)."""
    if len(fams) == 1:
        return [(ks, 0)]
    owner, has, cur = [], [False] * len(fams), 0
    for i in ks:
        if has[cur] and cur + 1 < len(fams) and cats[i] == fams[cur + 1] and not helper[i]:
            cur += 1
        has[cur] = has[cur] or cats[i] == fams[cur]
        owner.append(cur)
    if all(has):
        return [([i for i, o in zip(ks, owner) if o == e], e) for e in range(len(fams))]
    return [([i], e) for e, i in enumerate(ks)] if len(fams) == len(ks) else []


def _share(pos, res, name, cats, helper, dur, got, where):
    """A site's costs over the replayed kernels it launched (positions `pos`): FLOPs to its compute kernels,
    bytes to all, by GPU time (as attribute.py shares an op's costs)."""
    d = dur[pos]
    comp = np.isin(cats[pos], list(COMPUTE)) & ~helper[pos]
    comp = comp if comp.any() else np.ones(len(pos), dtype=bool)
    wf = np.where(comp, d, 0.0) / np.where(comp, d, 0.0).sum()
    wb = d / d.sum()
    flops, nbytes, dtype, family = res[:4]
    for n, p in enumerate(pos):
        f = None if flops is None or not comp[n] else flops * wf[n]
        b = None if nbytes is None else nbytes * wb[n]
        got[int(p)] = ((f, b, dtype, family), name, where)


def refresh(k, info):
    """Recount the `graphs` block after more replayed kernels got costs."""
    is_g = graph_kernels(k)
    how = k["graph_match"].to_numpy(object)[is_g]
    fl = np.nan_to_num(k["flops"].to_numpy(float))
    costed = (fl > 0) | np.isfinite(k["bytes"].to_numpy(float))
    got_op = k["op"].notna().to_numpy(bool)
    info["by"] = {x: int((how == x).sum()) for x in pd.unique(how[pd.notna(how)])}
    info["matched"] = int(pd.notna(how).sum())
    info["with_op_and_cost"] = int((is_g & got_op & costed).sum())
    info["with_flops"] = int((is_g & (fl > 0)).sum())
    info["rate_op_and_cost"] = float(info["with_op_and_cost"] / max(int(is_g.sum()), 1))
    conf = k["graph_confidence"].to_numpy(float)[is_g]
    info["mean_confidence"] = float(np.nanmean(conf)) if np.isfinite(conf).any() else None
    un = is_g & ~(got_op & costed)
    info["unmatched_top"] = k.loc[un, "name"].astype(str).str.slice(0, 80).value_counts().head(10).to_dict()


def compiled_summary(k, ops, info):
    """The `compiled` block: how much GPU time of compiled code is costed, and how. None when the trace has
    no compiled code (no graph call, no Triton launch)."""
    calls, _ = graph_call_rows(ops) if len(ops) else (np.array([], dtype=np.int64), None)
    in_call = np.zeros(len(k), dtype=bool)
    if len(calls) and len(k):
        within, lo = call_of(ops, calls), k["launch_op_row"].to_numpy()
        in_call = np.where(lo >= 0, within[np.clip(lo, 0, None)] >= 0, False)
    kern = (k["kind"] == "kernel").to_numpy(bool)
    mask = kern & (in_call | is_triton(k["name"]))
    if not mask.any() and not len(calls):
        return None
    dur = np.nan_to_num(k["dur_us"].to_numpy(float))
    fl = np.nan_to_num(k["flops"].to_numpy(float))
    costed = (fl > 0) | np.isfinite(k["bytes"].to_numpy(float))
    method = _methods(k, ops)
    total = float(dur[mask].sum())
    out = {**(info or {"path": None}), "kernels": int(mask.sum()), "time_us": total,
           "costed_time_share": float(dur[mask & costed].sum() / total) if total > 0 else None,
           "flops_time_share": float(dur[mask & (fl > 0)].sum() / total) if total > 0 else None,
           "time_share_by_method": {}}
    for m in pd.unique(method[mask & costed]):
        out["time_share_by_method"][str(m)] = float(dur[mask & costed & (method == m)].sum() / total) if total > 0 else None
    return out


def _methods(k, ops):
    """Per kernel, where its cost came from: output_code (its op was costed from the output code),
    compiled_order (a replay aligned with the module), graph_replay (copied from a warm-up or capture),
    inductor_meta (kernel_num_gb), trace_estimate (a Triton launch's arguments each counted once), trace (a
    formula over recorded shapes)."""
    row = k["op_row"].to_numpy() if "op_row" in k else np.full(len(k), -1)
    src = ops["flops_source"].to_numpy(object) if "flops_source" in ops else np.full(len(ops), None, dtype=object)
    own = np.where(row >= 0, src[np.clip(row, 0, None)] if len(src) else None, None)
    gm = k["graph_match"].to_numpy(object) if "graph_match" in k else np.full(len(k), None, dtype=object)
    out = np.where(own == SOURCE, "output_code", np.where(own == "estimate", "trace_estimate",
                                                          np.where(own == "inductor", "inductor_meta", "trace"))).astype(object)
    out = np.where(pd.notna(gm), "graph_replay", out)
    return np.where(gm == METHOD, METHOD, out)

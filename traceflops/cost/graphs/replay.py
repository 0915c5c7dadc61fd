"""graphs: give kernels replayed by a CUDA/HIP graph the op, shapes and costs of the kernel they replay.

A graph launch (`cudaGraphLaunch` / `hipGraphLaunch`) owns every kernel of the graph through one
correlation id, so link.py can only name the CPU op around the launch call.  The work each node does was
fixed when the graph was captured.  This module finds, for each replayed kernel, a *reference* kernel
whose op is known, and copies that kernel's per-execution costs (op, input dims/types, FLOPs, bytes,
dtype, FLOP source) onto it.  Three ways, in order of trust:

* ``graph_node_id`` — kernels that carry ``graph id``/``graph node id`` (CUDA >= 12 CUPTI): a node that
  matched once gives its costs to every other replay of the same (graph id, node id);
* ``capture_align`` — a capture trace (``capture=`` path) records, between ``*StreamBeginCapture`` and
  ``*StreamEndCapture``, the launch calls of every captured kernel (their GPU activity never runs).
  ROCm writes the kernel name, grid and block on each launch call; the captured launches are analyzed as
  kernels (same pipeline, so the same FLOP formulas) and each replay is aligned with a capture window;
* ``eager_align`` — an eager step of the same model in the same trace: a window of correlation-linked
  kernels whose (name, grid, block) sequence agrees with the replay.

FLOPs are per kernel execution: a captured kernel replayed N times gives its FLOPs to each of the N
replays (never divided).  ``graph_confidence`` is the fraction of the aligned window whose name, grid and
block agree (fields missing on either side count as agreeing), divided by the number of distinct
candidate windows that fit equally well but would give different costs.
"""
from dataclasses import replace
import difflib
import re

import numpy as np
import pandas as pd

from .ingest.source import DEFAULT_MAX_BYTES

GRAPH_LAUNCH = re.compile(r"GraphLaunch", re.I)
BEGIN_CAPTURE = re.compile(r"StreamBeginCapture", re.I)
END_CAPTURE = re.compile(r"StreamEndCapture", re.I)
MIN_EAGER_SCORE = 0.6  # an eager window must agree on at least this share of the replay to be used
COST_COLS = ["op", "flops", "recompute_flops", "bytes", "dtype", "family", "flops_source", "flops_reason"]
REF_COLS = COST_COLS + ["input_dims", "input_types", "module", "name", "grid", "block"]
LINKED = ("correlation", "flow", "external_id")


# ---------------------------------------------------------------------------------------------- capture trace
def capture_windows(launches):
    """(pid, tid, start, end) of every BeginCapture…EndCapture pair in a launch table."""
    out = []
    if not len(launches):
        return out
    marks = launches[launches["name"].str.contains(BEGIN_CAPTURE) | launches["name"].str.contains(END_CAPTURE)]
    for (pid, tid), g in marks.sort_values("ts_us").groupby(["pid", "tid"], sort=False):
        start = None
        for name, ts in zip(g["name"], g["ts_us"]):
            if BEGIN_CAPTURE.search(name):
                start = ts
            elif start is not None:
                out.append((pid, tid, float(start), float(ts)))
                start = None
    return sorted(out, key=lambda w: w[2])


def capture_reference(capture, *, catalog=None, device=None, max_bytes=DEFAULT_MAX_BYTES):
    """Per-kernel costs of every kernel captured in a capture trace: one row per captured launch, in order.

    Columns: window (capture index), pos (order in the window), name, grid, block, graph_id,
    graph_node_id and the cost columns of the kernel table.  `capture` is a path or a read Trace.
    """
    from .analysis import analyze_trace  # analysis imports this module
    from .ingest import read_trace

    trace = capture if hasattr(capture, "gpu") else read_trace(capture, max_bytes=max_bytes)
    la = trace.launches
    if not len(la) or "kernel" not in la:
        return _empty_ref()
    la = la[la["kernel"].notna() & la["correlation"].notna()].drop_duplicates("correlation")
    ran = set(trace.gpu["correlation"].dropna().astype("int64").tolist())
    la = la[~la["correlation"].isin(ran)]  # captured launches never run, so have no GPU activity
    wins = capture_windows(trace.launches)
    la = la.assign(window=-1)
    if wins:
        for i, (pid, tid, s, e) in enumerate(wins):
            inside = (la["pid"] == pid) & (la["tid"] == tid) & (la["ts_us"] >= s) & (la["ts_us"] <= e)
            la.loc[inside.to_numpy(bool), "window"] = i
        la = la[la["window"] >= 0]
    else:
        la = la.assign(window=0)  # no capture markers: every launch without GPU activity is one window
    if not len(la):
        return _empty_ref()
    la = la.sort_values(["window", "ts_us"], kind="stable").reset_index(drop=True)
    dev = trace.gpu["device"].dropna()
    dev_id = int(dev.mode().iloc[0]) if len(dev) else 0
    syn = pd.DataFrame({c: pd.Series([None] * len(la), dtype=trace.gpu[c].dtype) for c in trace.gpu.columns})
    syn["name"] = pd.array(la["kernel"].to_numpy(object), dtype="str")
    syn["kind"] = pd.array(["kernel"] * len(la), dtype="str")
    syn["pid"] = pd.array([str(dev_id)] * len(la), dtype="str")
    syn["tid"] = pd.array(["captured"] * len(la), dtype="str")
    syn["ts_us"] = la["ts_us"].to_numpy(float)
    syn["dur_us"] = 0.0  # never ran: FLOPs of an op with several kernels are shared equally
    syn["device"] = pd.array([dev_id] * len(la), dtype="Int64")
    syn["correlation"] = la["correlation"].to_numpy()
    for c in ("grid", "block"):
        syn[c] = la[c].to_numpy(object)
    for c in ("graph_id", "graph_node_id"):
        syn[c] = la[c].to_numpy()
    n0 = len(trace.gpu)
    a = analyze_trace(replace(trace, gpu=pd.concat([trace.gpu.reset_index(drop=True), syn], ignore_index=True)),
                      catalog=catalog, device=device)
    ref = a.kernels.iloc[n0:].reset_index(drop=True)
    out = pd.DataFrame({c: ref[c].to_numpy(object) if c in ref else None for c in REF_COLS})
    out["window"] = la["window"].to_numpy()
    out["pos"] = la.groupby("window").cumcount().to_numpy()
    out["graph_id"] = la["graph_id"].to_numpy()
    out["graph_node_id"] = la["graph_node_id"].to_numpy()
    return out


def _empty_ref():
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REF_COLS + ["window", "pos", "graph_id", "graph_node_id"]})


# ---------------------------------------------------------------------------------------------- alignment
def _key(name, grid, block):
    return (name, grid if isinstance(grid, str) else None, block if isinstance(block, str) else None)


def _agree(a, b):
    """Name equal; grid/block equal where both sides have them."""
    return a[0] == b[0] and all(x is None or y is None or x == y for x, y in zip(a[1:], b[1:]))


def align(replay, ref):
    """Pairs (i_replay, j_ref) aligning two key sequences, and the share of the replay that agrees."""
    if not replay or not ref:
        return [], 0.0
    if len(replay) == len(ref) and all(r[0] == f[0] for r, f in zip(replay, ref)):
        pairs = list(zip(range(len(replay)), range(len(ref))))
    else:
        sm = difflib.SequenceMatcher(None, [r[0] for r in replay], [f[0] for f in ref], autojunk=False)
        pairs = [(b.a + t, b.b + t) for b in sm.get_matching_blocks() for t in range(b.size)]
    good = [(i, j) for i, j in pairs if _agree(replay[i], ref[j])]
    return good, len(good) / len(replay)


def _signature(ref, rows):
    """What a reference window would give: distinct windows that give the same costs are no ambiguity."""
    sub = ref.iloc[rows]
    return tuple(map(tuple, sub[["op", "flops", "bytes", "input_dims"]].astype(str).to_numpy()))


def _match_capture(replay_keys, ref, ref_keys_by_win, ordinal, n_replays):
    """Best capture window for one replay: (pairs as (i, ref row), confidence)."""
    best, scored = -1.0, []
    for w, (rows, keys_) in ref_keys_by_win.items():
        pairs, score = align(replay_keys, keys_)
        scored.append((score, w, pairs, rows))
        best = max(best, score)
    if best <= 0:
        return [], 0.0
    tied = [s for s in scored if s[0] >= best - 1e-12]
    sigs = {_signature(ref, [rows[j] for _, j in pairs]) + (tuple(i for i, _ in pairs),) for _, _, pairs, rows in tied}
    wins = sorted(ref_keys_by_win)
    # Same number of captures as replays: the k-th replay most likely replays the k-th capture.
    target = wins[ordinal % len(wins)] if n_replays else wins[0]
    score, w, pairs, rows = min(tied, key=lambda s: (abs(s[1] - target), s[1]))
    return [(i, rows[j]) for i, j in pairs], score / len(sigs)


def _match_eager(replay_keys, eager_keys, eager_names_pos):
    """Best window of the eager kernel sequence for one replay: (pairs (i, eager pos), score)."""
    L = len(replay_keys)
    starts = set()
    for i in range(min(L, 4)):
        for p in eager_names_pos.get(replay_keys[i][0], ()):
            if p - i >= 0:
                starts.add(p - i)
    best, best_start = 0.0, None
    for s in sorted(starts):
        window = eager_keys[s:s + L]
        if len(window) < L:
            continue
        score = sum(_agree(a, b) for a, b in zip(replay_keys, window)) / L
        if score > best + 1e-12:
            best, best_start = score, s
    if best_start is None or best < MIN_EAGER_SCORE:
        return [], 0.0
    pairs = [(i, best_start + i) for i in range(L) if _agree(replay_keys[i], eager_keys[best_start + i])]
    return pairs, best


# ---------------------------------------------------------------------------------------------- attribution
def graph_kernels(k):
    """Mask of kernels launched by a graph launch call (whether or not link.py found the op around it)."""
    ln = k["launch_name"] if "launch_name" in k else pd.Series([None] * len(k), index=k.index)
    by_name = ln.fillna("").astype(str).str.contains(GRAPH_LAUNCH).to_numpy(bool)
    return (by_name | (k["link"] == "graph").to_numpy(bool)) & (k["kind"] == "kernel").to_numpy(bool)


def attribute_graphs(k, ops, *, capture=None, catalog=None, device=None):
    """Fill costs of graph-replayed kernels in the (pre-roofline) kernel table `k`, in place.

    Adds columns graph_match, graph_confidence and the temporary _graph_input_dims/_graph_input_types
    (moved into input_dims/input_types by `finish_graphs` once analysis has filled those from op_row).
    Returns a summary dict.
    """
    n = len(k)
    k["graph_match"] = pd.array([None] * n, dtype=object)
    k["graph_confidence"] = np.full(n, np.nan)
    k["_graph_input_dims"] = pd.array([None] * n, dtype=object)
    k["_graph_input_types"] = pd.array([None] * n, dtype=object)
    is_g = graph_kernels(k)
    info = {"replayed_kernels": int(is_g.sum()), "by": {}, "capture": None}
    if not is_g.any():
        return info
    names = k["name"].astype(object).to_numpy(object)
    grid = k["grid"].to_numpy(object) if "grid" in k else np.full(n, None, dtype=object)
    block = k["block"].to_numpy(object) if "block" in k else np.full(n, None, dtype=object)
    keys_all = [_key(names[i], grid[i], block[i]) for i in range(n)]
    fill_ref = np.full(n, -1, dtype=np.int64)  # row in `refs` per kernel
    how = np.full(n, None, dtype=object)
    conf = np.full(n, np.nan)
    refs = []  # list of reference tables; rows addressed as (table index, row)
    ref_of = np.full(n, -1, dtype=np.int64)

    # Replay windows: the kernels of one graph launch, in time order.
    launch = k["launch_row"].to_numpy() if "launch_row" in k else k["correlation"].fillna(-1).to_numpy()
    gk = k[is_g].assign(_w=launch[is_g]).sort_values(["_w", "ts_us"], kind="stable")
    windows = [g.index.to_numpy() for _, g in gk.groupby("_w", sort=False)]
    windows.sort(key=lambda rows: float(k.loc[rows[0], "ts_us"]))
    pos_of = {idx: p for p, idx in enumerate(k.index)}

    # 1. capture trace
    if capture is not None:
        ref = capture_reference(capture, catalog=catalog, device=device)
        info["capture"] = {"path": str(getattr(capture, "path", capture)), "captured_kernels": int(len(ref)),
                           "capture_windows": int(ref["window"].nunique()) if len(ref) else 0}
        if len(ref):
            refs.append(ref)
            by_win = {}
            for w, g in ref.groupby("window"):
                rows = g.sort_values("pos").index.to_numpy()
                by_win[w] = (rows, [_key(ref.at[r, "name"], ref.at[r, "grid"], ref.at[r, "block"]) for r in rows])
            cache = {}
            for o, rows in enumerate(windows):
                rk = tuple(keys_all[pos_of[r]] for r in rows)
                if rk not in cache:
                    cache[rk] = _match_capture(list(rk), ref, by_win, o, len(windows))
                pairs, c = cache[rk]
                for i, rr in pairs:
                    p = pos_of[rows[i]]
                    fill_ref[p], ref_of[p], how[p], conf[p] = rr, 0, "capture_align", c

    # 2. eager step in the same trace
    eager = (k["link"].isin(LINKED).to_numpy(bool) & (k["kind"] == "kernel").to_numpy(bool) & ~is_g
             & (k["op_row"].to_numpy() >= 0 if "op_row" in k else True))
    if eager.any():
        e_rows = k.index[eager][np.argsort(k.loc[eager, "ts_us"].to_numpy(float), kind="stable")]
        eref = _eager_reference(k, ops, e_rows)
        refs.append(eref)
        t = len(refs) - 1
        e_keys = [keys_all[pos_of[r]] for r in e_rows]
        by_name = {}
        for p, kk in enumerate(e_keys):
            by_name.setdefault(kk[0], []).append(p)
        cache = {}
        for rows in windows:
            todo = [r for r in rows if fill_ref[pos_of[r]] < 0]
            if not todo:
                continue
            rk = tuple(keys_all[pos_of[r]] for r in rows)
            if rk not in cache:
                cache[rk] = _match_eager(list(rk), e_keys, by_name)
            pairs, c = cache[rk]
            for i, ep in pairs:
                p = pos_of[rows[i]]
                if fill_ref[p] < 0:
                    fill_ref[p], ref_of[p], how[p], conf[p] = ep, t, "eager_align", c

    # 3. graph node ids: one matched replay of a node gives its costs to every replay of that node.
    gid = k["graph_id"].to_numpy(object) if "graph_id" in k else np.full(n, None, dtype=object)
    nid = k["graph_node_id"].to_numpy(object) if "graph_node_id" in k else np.full(n, None, dtype=object)
    has_node = is_g & ~pd.isna(pd.Series(nid, dtype=object)).to_numpy(bool)
    if has_node.any():
        node = [(gid[i], nid[i]) if has_node[i] else None for i in range(n)]
        donor = {}
        for i in np.flatnonzero(has_node & (fill_ref >= 0)):
            donor.setdefault(node[i], (fill_ref[i], ref_of[i], conf[i]))
        # capture launches may carry node ids themselves
        for t, ref in enumerate(refs):
            if "graph_node_id" in ref and ref["graph_node_id"].notna().any():
                for r in np.flatnonzero(ref["graph_node_id"].notna().to_numpy(bool)):
                    donor.setdefault((ref.at[r, "graph_id"], ref.at[r, "graph_node_id"]), (r, t, 1.0))
        for i in np.flatnonzero(has_node & (fill_ref < 0)):
            d = donor.get(node[i])
            if d is not None:
                fill_ref[i], ref_of[i], conf[i] = d
                how[i] = "graph_node_id"

    # Copy costs.
    for t, ref in enumerate(refs):
        sel = np.flatnonzero((ref_of == t) & (fill_ref >= 0))
        if not len(sel):
            continue
        r = fill_ref[sel]
        get = lambda c: ref[c].to_numpy(object)[r]
        flops = pd.to_numeric(pd.Series(get("flops")), errors="coerce").to_numpy(float)
        byts = pd.to_numeric(pd.Series(get("bytes")), errors="coerce").to_numpy(float)
        recomp = pd.to_numeric(pd.Series(get("recompute_flops")), errors="coerce").to_numpy(float)
        costed = (np.nan_to_num(flops) > 0) | np.isfinite(byts)
        src = get("flops_source")
        reason = get("flops_reason")
        idx = k.index[sel]
        k.loc[idx, "op"] = get("op")
        k.loc[idx, "flops"] = flops
        k.loc[idx, "recompute_flops"] = recomp
        k.loc[idx, "bytes"] = byts
        k.loc[idx, "dtype"] = get("dtype")
        k.loc[idx, "family"] = get("family")
        k.loc[idx, "flops_source"] = np.where(costed, ["graph:" + str(s) for s in src], "none")
        k.loc[idx, "flops_reason"] = np.where(np.nan_to_num(flops) > 0, None,
                                              np.array([f"graph replay; its captured kernel: {x}" if isinstance(x, str) else
                                                        "graph replay of a kernel with no cost" for x in reason], dtype=object))
        k.loc[idx, "_graph_input_dims"] = get("input_dims")
        k.loc[idx, "_graph_input_types"] = get("input_types")
        if "module" in k:
            mod = get("module")
            cur = k.loc[idx, "module"].to_numpy(object)
            k.loc[idx, "module"] = np.where(pd.isna(pd.Series(cur, dtype=object)).to_numpy(bool), mod, cur)
        k.loc[idx, "op_row"] = -1  # the op lives in the reference trace, not in this one
        k.loc[idx, "link"] = "graph"
        k.loc[idx, "link_reason"] = None
    matched = fill_ref >= 0
    k["graph_match"] = np.where(matched, how, None)
    k["graph_confidence"] = np.where(matched, conf, np.nan)
    fl = k["flops"].to_numpy(float)
    costed_all = (np.nan_to_num(fl) > 0) | np.isfinite(k["bytes"].to_numpy(float))
    got_op = k["op"].notna().to_numpy(bool)
    info["by"] = {m: int((how[matched] == m).sum()) for m in ("graph_node_id", "capture_align", "eager_align")
                  if (how[matched] == m).any()}
    info["matched"] = int(matched.sum())
    info["with_op_and_cost"] = int((is_g & got_op & costed_all).sum())
    info["with_flops"] = int((is_g & (np.nan_to_num(fl) > 0)).sum())
    info["rate_op_and_cost"] = float(info["with_op_and_cost"] / is_g.sum())
    info["mean_confidence"] = float(np.nanmean(conf[matched])) if matched.any() else None
    un = is_g & ~(got_op & costed_all)
    info["unmatched_top"] = (k.loc[un, "name"].astype(str).str.slice(0, 80).value_counts().head(10).to_dict())
    return info


def _eager_reference(k, ops, rows):
    """Costs of eager kernels (this trace), in the reference-table layout."""
    sub = k.loc[rows]
    out = pd.DataFrame({c: sub[c].to_numpy(object) if c in sub else None for c in COST_COLS + ["module", "name", "grid", "block"]})
    orow = sub["op_row"].to_numpy() if "op_row" in sub else np.full(len(sub), -1)
    for c in ("input_dims", "input_types"):
        out[c] = (np.where(orow >= 0, ops[c].to_numpy(object)[np.clip(orow, 0, None)], None)
                  if len(ops) and c in ops else None)
    return out


def finish_graphs(k):
    """After analysis has set input_dims/input_types from op_row: put the replayed kernels' shapes in."""
    if "_graph_input_dims" not in k:
        return k
    for c in ("input_dims", "input_types"):
        tmp = k.pop("_graph_" + c).to_numpy(object)
        cur = k[c].to_numpy(object) if c in k else np.full(len(k), None, dtype=object)
        k[c] = np.where(pd.notna(pd.Series(tmp, dtype=object)).to_numpy(bool), tmp, cur)
    return k


def graph_summary(kernels, info):
    """The `graphs` block: link rate of replayed kernels before/after and how they were matched."""
    if not info or not info.get("replayed_kernels"):
        return None
    return info

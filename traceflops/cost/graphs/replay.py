"""Copy the costs of reference kernels onto the kernels a CUDA/HIP graph replayed.

A graph launch (`cudaGraphLaunch` / `hipGraphLaunch`) owns every kernel of the graph through one correlation
id, so the link stage can only name the CPU op around the launch call. The work each node does was fixed when
the graph was captured. For each replayed kernel we find a *reference* kernel whose op is known and copy its
per-execution costs (op, input dims/types, FLOPs, bytes, dtype, FLOP source). Three ways, in order of trust:

* ``capture_align`` — a capture trace's reference table (capture.py), aligned with each replay window;
* ``eager_align`` — an eager step of the same model in the same trace: a window of correlation-linked kernels
  whose (name, grid, block) sequence agrees with the replay;
* ``graph_node_id`` — kernels that carry ``graph id``/``graph node id`` (CUDA >= 12 CUPTI): a node that matched
  once gives its costs to every other replay of the same (graph id, node id).

FLOPs are per kernel execution: a captured kernel replayed N times gives its FLOPs to each of the N replays
(never divided).
"""
import numpy as np
import pandas as pd

from ...link import GRAPH_LAUNCH
from .align import capture_ties, kernel_key, match_capture, match_eager
from .capture import COST_COLS, SHAPE_COLS

LINKED = ("correlation", "flow", "external_id")
NO_SHAPES = "CUDA/HIP graph replay without shapes: pass --capture CAPTURE or --model CONFIG"
NO_SHAPES_UNMATCHED = ("CUDA/HIP graph replay without shapes: no kernel of the capture trace matched it; "
                       "pass --capture with the capture trace of this run, or --model CONFIG")
METHODS = ("graph_node_id", "capture_align", "eager_align")


def graph_kernels(k):
    """Mask of kernels launched by a graph launch call (whether or not the link stage found the op around it)."""
    ln = k["launch_name"] if "launch_name" in k else pd.Series([None] * len(k), index=k.index)
    by_name = ln.fillna("").astype(str).str.contains(GRAPH_LAUNCH).to_numpy(bool)
    return (by_name | (k["link"] == "graph").to_numpy(bool)) & (k["kind"] == "kernel").to_numpy(bool)


class _Matches:
    """Per kernel: the reference table and row it takes its costs from, how it was matched, the confidence."""

    def __init__(self, n):
        self.row = np.full(n, -1, dtype=np.int64)
        self.table = np.full(n, -1, dtype=np.int64)
        self.how = np.full(n, None, dtype=object)
        self.conf = np.full(n, np.nan)

    def set(self, p, row, table, how, conf):
        self.row[p], self.table[p], self.how[p], self.conf[p] = row, table, how, conf


def attribute_graphs(k, ops, capture=None):
    """Fill costs of graph-replayed kernels in the (pre-roofline) kernel table `k`, in place.

    `capture`: (path, reference table from capture.py) or None. Adds columns graph_match, graph_confidence and
    the temporary _graph_input_dims/_graph_input_types/_graph_shapes (moved into place by `finish_graphs`
    once the pipeline has filled those from op_row). Returns the summary dict of the `graphs` block.
    """
    n = len(k)
    k["graph_match"] = pd.array([None] * n, dtype=object)
    k["graph_confidence"] = np.full(n, np.nan)
    for c in SHAPE_COLS:
        k["_graph_" + c] = pd.array([None] * n, dtype=object)
    is_g = graph_kernels(k)
    info = {"replayed_kernels": int(is_g.sum()), "by": {}, "capture": None}
    if not is_g.any():
        return info
    names = k["name"].astype(object).to_numpy(object)
    grid = k["grid"].to_numpy(object) if "grid" in k else np.full(n, None, dtype=object)
    block = k["block"].to_numpy(object) if "block" in k else np.full(n, None, dtype=object)
    keys_all = [kernel_key(names[i], grid[i], block[i]) for i in range(n)]
    m = _Matches(n)
    refs = []  # reference tables; a kernel's reference is (table index, row)
    windows = _replay_windows(k, is_g)
    pos_of = {idx: p for p, idx in enumerate(k.index)}
    if capture is not None:
        path, ref = capture
        info["capture"] = {"path": str(path), "captured_kernels": int(len(ref)),
                           "capture_windows": int(ref["window"].nunique()) if len(ref) else 0}
        if len(ref):
            refs.append(ref)
            _align_capture(ref, windows, keys_all, pos_of, m, len(refs) - 1)
    eager = (k["link"].isin(LINKED).to_numpy(bool) & (k["kind"] == "kernel").to_numpy(bool) & ~is_g
             & (k["op_row"].to_numpy() >= 0 if "op_row" in k else True))
    if eager.any():
        e_rows = k.index[eager][np.argsort(k.loc[eager, "ts_us"].to_numpy(float), kind="stable")]
        refs.append(_eager_reference(k, ops, e_rows))
        _align_eager(e_rows, windows, keys_all, pos_of, m, len(refs) - 1)
    _by_node_id(k, is_g, refs, m)
    _copy_costs(k, refs, m)
    # the op around a graph launch (`execute_…` annotations, `CUDAGraph.replay`) says nothing of the replayed work
    unmatched = is_g & (m.row < 0) & ~(np.nan_to_num(k["flops"].to_numpy(float)) > 0)
    k.loc[k.index[unmatched], "flops_reason"] = NO_SHAPES if capture is None else NO_SHAPES_UNMATCHED
    return _summary(k, is_g, m, info)


def _replay_windows(k, is_g):
    """The kernels of each graph launch, in time order; windows ordered by their first kernel."""
    launch = k["launch_row"].to_numpy() if "launch_row" in k else k["correlation"].fillna(-1).to_numpy()
    gk = k[is_g].assign(_w=launch[is_g]).sort_values(["_w", "ts_us"], kind="stable")
    windows = [g.index.to_numpy() for _, g in gk.groupby("_w", sort=False)]
    windows.sort(key=lambda rows: float(k.loc[rows[0], "ts_us"]))
    return windows


def _align_capture(ref, windows, keys_all, pos_of, m, t):
    by_win = {}
    for w, g in ref.groupby("window"):
        rows = g.sort_values("pos").index.to_numpy()
        by_win[w] = (rows, [kernel_key(ref.at[r, "name"], ref.at[r, "grid"], ref.at[r, "block"]) for r in rows])
    wins = sorted(by_win)
    cache = {}  # the alignment depends on the sequence only; the pick among tied windows on the ordinal too
    for o, rows in enumerate(windows):
        rk = tuple(keys_all[pos_of[r]] for r in rows)
        if rk not in cache:
            cache[rk] = capture_ties(list(rk), ref, by_win)
        pairs, c = match_capture(*cache[rk], wins, o)
        for i, rr in pairs:
            m.set(pos_of[rows[i]], rr, t, "capture_align", c)


def _align_eager(e_rows, windows, keys_all, pos_of, m, t):
    e_keys = [keys_all[pos_of[r]] for r in e_rows]
    by_name = {}
    for p, kk in enumerate(e_keys):
        by_name.setdefault(kk[0], []).append(p)
    cache = {}
    for rows in windows:
        if all(m.row[pos_of[r]] >= 0 for r in rows):
            continue
        rk = tuple(keys_all[pos_of[r]] for r in rows)
        if rk not in cache:
            cache[rk] = match_eager(list(rk), e_keys, by_name)
        pairs, c = cache[rk]
        for i, ep in pairs:
            p = pos_of[rows[i]]
            if m.row[p] < 0:
                m.set(p, ep, t, "eager_align", c)


def _by_node_id(k, is_g, refs, m):
    """One matched replay of a graph node gives its costs to every replay of that node."""
    n = len(k)
    gid = k["graph_id"].to_numpy(object) if "graph_id" in k else np.full(n, None, dtype=object)
    nid = k["graph_node_id"].to_numpy(object) if "graph_node_id" in k else np.full(n, None, dtype=object)
    has_node = is_g & ~pd.isna(pd.Series(nid, dtype=object)).to_numpy(bool)
    if not has_node.any():
        return
    node = [(gid[i], nid[i]) if has_node[i] else None for i in range(n)]
    donor = {}
    for i in np.flatnonzero(has_node & (m.row >= 0)):
        donor.setdefault(node[i], (m.row[i], m.table[i], m.conf[i]))
    for t, ref in enumerate(refs):  # capture launches may carry node ids themselves
        if "graph_node_id" in ref and ref["graph_node_id"].notna().any():
            for r in np.flatnonzero(ref["graph_node_id"].notna().to_numpy(bool)):
                donor.setdefault((ref.at[r, "graph_id"], ref.at[r, "graph_node_id"]), (r, t, 1.0))
    for i in np.flatnonzero(has_node & (m.row < 0)):
        d = donor.get(node[i])
        if d is not None:
            m.set(i, d[0], d[1], "graph_node_id", d[2])


def _copy_costs(k, refs, m):
    for t, ref in enumerate(refs):
        sel = np.flatnonzero((m.table == t) & (m.row >= 0))
        if not len(sel):
            continue
        r = m.row[sel]
        get = lambda c: ref[c].to_numpy(object)[r]  # noqa: E731
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
        if "bytes_source" in k:
            k.loc[idx, "bytes_source"] = np.where(np.isfinite(byts), get("bytes_source"), None)
        k.loc[idx, "dtype"] = get("dtype")
        k.loc[idx, "family"] = get("family")
        k.loc[idx, "flops_source"] = np.where(costed, ["graph:" + str(s) for s in src], "none")
        k.loc[idx, "flops_reason"] = np.where(np.nan_to_num(flops) > 0, None,
                                              np.array([f"graph replay; its captured kernel: {x}" if isinstance(x, str) else
                                                        "graph replay of a kernel with no cost" for x in reason], dtype=object))
        for c in SHAPE_COLS:
            k.loc[idx, "_graph_" + c] = get(c)
        if "module" in k:
            mod = get("module")
            cur = k.loc[idx, "module"].to_numpy(object)
            k.loc[idx, "module"] = np.where(pd.isna(pd.Series(cur, dtype=object)).to_numpy(bool), mod, cur)
        # an eager reference's op is in this trace (its row kept); a capture's lives in the capture trace
        k.loc[idx, "op_row"] = (pd.to_numeric(pd.Series(get("op_row")), errors="coerce").fillna(-1).to_numpy(np.int64)
                                if "op_row" in ref else -1)
        k.loc[idx, "link"] = "graph"
        k.loc[idx, "link_reason"] = None


def _summary(k, is_g, m, info):
    matched = m.row >= 0
    k["graph_match"] = np.where(matched, m.how, None)
    k["graph_confidence"] = np.where(matched, m.conf, np.nan)
    fl = k["flops"].to_numpy(float)
    costed_all = (np.nan_to_num(fl) > 0) | np.isfinite(k["bytes"].to_numpy(float))
    got_op = k["op"].notna().to_numpy(bool)
    how = m.how[matched]
    info["by"] = {x: int((how == x).sum()) for x in METHODS if (how == x).any()}
    info["matched"] = int(matched.sum())
    info["with_op_and_cost"] = int((is_g & got_op & costed_all).sum())
    info["with_flops"] = int((is_g & (np.nan_to_num(fl) > 0)).sum())
    info["rate_op_and_cost"] = float(info["with_op_and_cost"] / is_g.sum())
    info["mean_confidence"] = float(np.nanmean(m.conf[matched])) if matched.any() else None
    un = is_g & ~(got_op & costed_all)
    info["unmatched_top"] = (k.loc[un, "name"].astype(str).str.slice(0, 80).value_counts().head(10).to_dict())
    return info


def _eager_reference(k, ops, rows):
    """Costs of eager kernels (this trace), in the reference-table layout."""
    sub = k.loc[rows]
    out = pd.DataFrame({c: sub[c].to_numpy(object) if c in sub else None for c in COST_COLS + ["module", "name", "grid", "block"]})
    orow = sub["op_row"].to_numpy() if "op_row" in sub else np.full(len(sub), -1)
    out["op_row"] = orow
    for c in SHAPE_COLS:
        out[c] = (np.where(orow >= 0, ops[c].to_numpy(object)[np.clip(orow, 0, None)], None)
                  if len(ops) and c in ops else None)
    return out


def finish_graphs(k):
    """After the pipeline has set input_dims/input_types from op_row: put the replayed kernels' shapes in."""
    if "_graph_input_dims" not in k:
        return k
    for c in SHAPE_COLS:
        tmp = k.pop("_graph_" + c).to_numpy(object)
        replayed = pd.notna(pd.Series(tmp, dtype=object)).to_numpy(bool)
        if c in k and not replayed.any():  # no replayed kernel: the column stays as it is, not converted and back
            continue
        cur = k[c].to_numpy(object) if c in k else np.full(len(k), None, dtype=object)
        k[c] = np.where(replayed, tmp, cur)
    return k

"""link: GPU activity → launch call → CPU op, plus each op's parent, module, annotation and profiler step.

Adds columns only; never computes FLOPs.  Rules (see shared kineto-format.md §5):
1. activity.correlation == launch.correlation (one graph launch owns many kernels);
2. the launch → the innermost CPU op on the launching thread that contains it in time;
3. else activity `External id` → op `External id`, trusted only where it is not the old
   "External id == correlation" convention.
"""
import re

import numpy as np
import pandas as pd

from .ingest.columns import text_column
from .intervals import enclosing, group_codes, nest, propagate

STEP_RE = re.compile(r"^ProfilerStep#(\d+)$")
GRAPH_LAUNCH = re.compile(r"GraphLaunch", re.I)


def is_none(a):
    return np.asarray(pd.isna(pd.Series(a, dtype=object)), dtype=bool)


def link(trace):
    """Return (gpu, ops) copies of the trace tables with link columns added."""
    ops = trace.ops.reset_index(drop=True)  # copy-on-write (pandas 3): new columns never reach trace.ops
    gpu = trace.gpu.reset_index(drop=True)
    launches = trace.launches.reset_index(drop=True)

    op_groups = group_codes(ops["pid"], ops["tid"])
    starts, durs = ops["ts_us"].to_numpy(float), ops["dur_us"].to_numpy(float)
    _, parent = nest(op_groups, starts, durs)
    ops["parent"] = parent
    ops["step"] = _steps_by_time(ops, ops["ts_us"].to_numpy(float))
    _annotations(ops, parent)
    ops["module"] = text_column(_modules(trace, ops, parent), ops.index)

    _link_gpu(gpu, ops, launches, op_groups, parent, trace.meta, trace.flows)
    _gpu_steps(gpu, ops, trace.gpu_annotations)
    return gpu, ops


def no_steps(n):
    """An all-<NA> Int64 array (a list of n pd.NA took 0.07 s per 341k rows)."""
    return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))


def _steps_by_time(ops, times):
    ann = (ops["cat"] == "user_annotation").to_numpy(bool)
    steps = pd.Series(pd.NA, index=ops.index, dtype=object)
    if ann.any():  # only annotations can be ProfilerStep#N: don't regex every op
        steps[ann] = ops["name"][ann].str.extract(STEP_RE, expand=False).astype(object)
    is_step = steps.notna().to_numpy() & ann
    out = no_steps(len(times))
    if not is_step.any():
        return out
    s_start = ops["ts_us"].to_numpy(float)[is_step]
    s_end = s_start + np.nan_to_num(ops["dur_us"].to_numpy(float)[is_step])
    s_num = steps[is_step].astype(str).astype("int64").to_numpy()
    order = np.argsort(s_start)
    s_start, s_end, s_num = s_start[order], s_end[order], s_num[order]
    pos = np.searchsorted(s_start, times, side="right") - 1
    ok = (pos >= 0) & (s_end[np.clip(pos, 0, None)] >= times)
    vals = np.where(ok, s_num[np.clip(pos, 0, None)], -1)
    out = pd.array(vals, dtype="Int64")
    out[~ok] = pd.NA
    return out


def _annotations(ops, parent):
    """Nearest enclosing user annotation (not ProfilerStep) of each op."""
    names = ops["name"].to_numpy(object)
    is_ann = (ops["cat"] == "user_annotation").to_numpy() & ~ops["name"].str.match(STEP_RE).to_numpy(bool)
    own = np.where(is_ann, names, None).astype(object)
    ops["annotation"] = text_column(propagate(parent, own, is_none), ops.index)


def _modules(trace, ops, parent):
    """nn.Module path of each op: by time on its thread; backward ops through their forward op."""
    out = np.full(len(ops), None, dtype=object)
    py = trace.python
    if len(py):
        mods = py[py["name"].str.startswith("nn.Module:")].reset_index(drop=True)
        if len(mods):
            g_all = group_codes(pd.concat([mods["pid"], ops["pid"]]), pd.concat([mods["tid"], ops["tid"]]))
            mg, og = g_all[: len(mods)], g_all[len(mods):]
            m_start, m_dur = mods["ts_us"].to_numpy(float), mods["dur_us"].to_numpy(float)
            _, m_parent = nest(mg, m_start, m_dur)
            short = mods["name"].str.slice(len("nn.Module: ")).to_numpy(object)
            paths = _paths(short, m_parent)
            hit = enclosing(mg, m_start, m_dur, m_parent, og, ops["ts_us"].to_numpy(float))
            out = np.where(hit >= 0, paths[np.clip(hit, 0, None)], None).astype(object)
    # Backward autograd nodes carry the forward op's sequence number: reach the forward module through it.
    fwd = ops[(ops["fwd_tid"] == 0) & ops["seq"].notna()]
    bwd = (ops["fwd_tid"] > 0).fillna(False).to_numpy(bool) & ops["seq"].notna().to_numpy(bool)
    if bwd.any() and len(fwd):
        last_fwd = fwd.assign(module=out[fwd.index]).sort_values("ts_us").groupby("seq")["module"].last()
        seqs = ops.loc[bwd, "seq"]
        out[bwd] = np.where(pd.isna(out[bwd]), seqs.map(last_fwd).to_numpy(object), out[bwd])
    return propagate(parent, out, is_none)


def _paths(short, parent):
    paths = np.empty(len(short), dtype=object)
    for i in range(len(short)):  # parents start before children, but rows are unsorted: resolve recursively
        chain, j = [], i
        while j >= 0 and paths[j] is None:
            chain.append(j)
            j = parent[j]
        prefix = paths[j] if j >= 0 else None
        for k in reversed(chain):
            prefix = short[k] if prefix is None else f"{prefix}.{short[k]}"
            paths[k] = prefix
    return paths


def _launch_by_flow(gpu, launches, flows):
    """Launch row per GPU event through ac2g-style flows: the 'f' end sits on the GPU event, the 's' on the launch."""
    cats = flows["cat"].isin(["ac2g", "async", "async_gpu", "async_cpu_to_gpu", "cpu_to_cuda"])
    f = flows[cats & (flows["ph"] == "f")]
    st = flows[cats & (flows["ph"] == "s")]
    if not len(f) or not len(st) or not len(launches):
        return None
    key = ["pid", "tid", "ts_us"]
    g = gpu[key].reset_index(drop=True).reset_index().merge(f[key + ["id"]].drop_duplicates(key), on=key, how="inner")
    l = launches[key].reset_index().merge(st[key + ["id"]].drop_duplicates(key), on=key, how="inner")
    m = g.merge(l.drop_duplicates("id"), on="id", suffixes=("", "_launch"))
    out = np.full(len(gpu), -1, dtype=np.int64)
    out[m["index"].to_numpy()] = m["index_launch"].to_numpy()  # positions in `gpu`, rows of `launches`
    return out


def _link_gpu(gpu, ops, launches, op_groups, parent, meta, flows=None):
    n = len(gpu)
    link_kind = np.full(n, "none", dtype=object)
    reason = np.full(n, None, dtype=object)
    launch_row = np.full(n, -1, dtype=np.int64)
    launch_op = np.full(n, -1, dtype=np.int64)

    corr = gpu["correlation"]
    if len(launches):
        lc = launches[["correlation"]].reset_index().dropna().drop_duplicates("correlation")
        m = pd.Series(lc["index"].to_numpy(), index=lc["correlation"].astype("int64").to_numpy())
        has = corr.notna().to_numpy(bool)
        launch_row[has] = corr[has].astype("int64").map(m).fillna(-1).astype("int64").to_numpy()
    flow_used = np.zeros(n, dtype=bool)
    missing = np.flatnonzero(launch_row < 0)  # flows are only asked about events no correlation id linked
    by_flow = _launch_by_flow(gpu.iloc[missing], launches, flows) if flows is not None and len(missing) else None
    if by_flow is not None:
        flow_used[missing] = by_flow >= 0
        launch_row[missing[by_flow >= 0]] = by_flow[by_flow >= 0]
    found = launch_row >= 0
    if found.any():
        lr = launch_row[found]
        all_groups = group_codes(pd.concat([ops["pid"], launches["pid"].iloc[lr]]),
                                 pd.concat([ops["tid"], launches["tid"].iloc[lr]]))
        lt = launches["ts_us"].to_numpy(float)[lr]
        hit = enclosing(all_groups[: len(ops)], ops["ts_us"].to_numpy(float), ops["dur_us"].to_numpy(float),
                        parent, all_groups[len(ops):], lt)
        launch_op[found] = hit
    names = launches["name"].to_numpy(object) if len(launches) else np.array([], dtype=object)
    is_graph = np.zeros(n, dtype=bool)
    if found.any():
        is_graph[found] = [bool(GRAPH_LAUNCH.search(x or "")) for x in names[launch_row[found]]]

    # External id fallback: only where it cannot be the old "== correlation" convention.
    ext = gpu["external_id"]
    new_semantics = "baseTimeNanoseconds" in meta
    trust = ext.notna() & (ext != corr).fillna(True) if not new_semantics else ext.notna()
    trust = trust.to_numpy(bool) & (launch_op < 0)
    if trust.any() and len(ops):
        eo = ops[["external_id"]].reset_index().dropna().drop_duplicates("external_id")
        m = pd.Series(eo["index"].to_numpy(), index=eo["external_id"].astype("int64").to_numpy())
        via_ext = ext[trust].astype("int64").map(m).fillna(-1).astype("int64").to_numpy()
        rows = np.flatnonzero(trust)
        launch_op[rows] = via_ext
        link_kind[rows[via_ext >= 0]] = "external_id"

    corr_linked = found & (launch_op >= 0) & (link_kind == "none")
    link_kind[corr_linked & ~is_graph] = "correlation"
    link_kind[corr_linked & ~is_graph & flow_used] = "flow"
    link_kind[corr_linked & is_graph] = "graph"
    none = launch_op < 0
    reason[none & found & is_graph] = "graph launch outside any CPU op"
    reason[none & found & ~is_graph] = "launch call outside any CPU op"
    op_ts = ops["ts_us"].to_numpy(float)
    first_cpu = np.nanmin(op_ts) if len(ops) and not np.isnan(op_ts).all() else np.nan
    no_launch = none & ~found
    no_corr = corr.isna().to_numpy(bool)
    # Correlation ids only grow: one below every launch in the trace was issued before the CPU window opened.
    first_corr = launches["correlation"].min() if len(launches) else pd.NA
    before = (corr < first_corr).fillna(False).to_numpy(bool) if first_corr is not pd.NA else np.zeros(n, bool)
    early = before | (gpu["ts_us"].to_numpy(float) < first_cpu)
    reason[no_launch & no_corr] = "no correlation id on the GPU event"
    reason[no_launch & ~no_corr & early] = "launched before the profiling window (no launch call in the trace)"
    reason[no_launch & ~no_corr & ~early] = "launch call missing from the trace"
    if len(ops) == 0:
        reason[none] = "trace has no CPU ops (GPU-only trace)"

    gpu["launch_row"] = launch_row
    gpu["launch_name"] = np.where(found, names[np.clip(launch_row, 0, None)] if len(names) else None, None)
    gpu["launch_op"] = launch_op
    gpu["link"] = link_kind
    gpu["link_reason"] = reason


def _gpu_steps(gpu, ops, gpu_annotations):
    lo = gpu["launch_op"].to_numpy()
    step = no_steps(len(gpu))
    if len(ops):
        ok = lo >= 0
        step[ok] = ops["step"].to_numpy(object)[lo[ok]]
        gpu["module"] = np.where(ok, ops["module"].to_numpy(object)[np.clip(lo, 0, None)], None)
        gpu["annotation"] = np.where(ok, ops["annotation"].to_numpy(object)[np.clip(lo, 0, None)], None)
    else:
        gpu["module"] = None
        gpu["annotation"] = None
    missing = pd.isna(step)
    if missing.any() and len(gpu_annotations):
        # GPU-side ProfilerStep spans (gpu_user_annotation) cover kernels the CPU side cannot reach.
        ann = gpu_annotations.assign(cat="user_annotation")
        by_gpu = _steps_by_time(ann, gpu["ts_us"].to_numpy(float))
        step[missing] = by_gpu[missing]
    gpu["step"] = step

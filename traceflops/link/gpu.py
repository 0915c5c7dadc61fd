"""GPU activity → launch call (correlation id, ac2g flow) → innermost CPU op; External id fallback."""
import re

import numpy as np
import pandas as pd

from ..ingest.columns import text_at
from .intervals import enclosing, group_codes
from .ops import no_steps, steps_by_time

GRAPH_LAUNCH = re.compile(r"GraphLaunch", re.I)


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


def link_gpu(gpu, ops, launches, op_groups, parent, meta, flows=None):
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
    is_graph = np.zeros(n, dtype=bool)
    if found.any():  # each distinct launch call name is searched once
        codes, uniq = pd.factorize(launches["name"], use_na_sentinel=True)
        graph_call = np.array([bool(GRAPH_LAUNCH.search(x or "")) for x in uniq] + [False])
        is_graph[found] = graph_call[codes[launch_row[found]]]

    # External id fallback: only where it cannot be the old "== correlation" convention.
    ext = gpu["external_id"]
    new_semantics = meta.relative_time
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
    gpu["launch_name"] = text_at(launches["name"], launch_row) if len(launches) else None
    gpu["launch_op_row"] = launch_op  # row in ops; the op name goes in launch_op at the end of the pipeline
    gpu["link"] = link_kind
    gpu["link_reason"] = reason


def gpu_steps(gpu, ops, gpu_annotations):
    lo = gpu["launch_op_row"].to_numpy()
    step = no_steps(len(gpu))
    if len(ops):
        ok = lo >= 0
        step[ok] = ops["step"].array[lo[ok]]  # Int64 rows as they are: no Python int or NA per kernel
        gpu["module"] = text_at(ops["module"], lo)
        gpu["annotation"] = text_at(ops["annotation"], lo)
    else:
        gpu["module"] = None
        gpu["annotation"] = None
    missing = pd.isna(step)
    if missing.any() and len(gpu_annotations):
        # GPU-side ProfilerStep spans (gpu_user_annotation) cover kernels the CPU side cannot reach.
        ann = gpu_annotations.assign(cat="user_annotation")
        by_gpu = steps_by_time(ann, gpu["ts_us"].to_numpy(float))
        step[missing] = by_gpu[missing]
    gpu["step"] = step

"""The CPU op tree: each op's parent, profiler step, enclosing user annotation and nn.Module path."""
import re

import numpy as np
import pandas as pd

from ..ingest.columns import text_column
from .intervals import enclosing, group_codes, nest, propagate

STEP_RE = re.compile(r"^ProfilerStep#(\d+)$")


def is_none(a):
    return np.asarray(pd.isna(pd.Series(a, dtype=object)), dtype=bool)


def no_steps(n):
    """An all-<NA> Int64 array (a list of n pd.NA took 0.07 s per 341k rows)."""
    return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))


def steps_by_time(ops, times):
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


def annotations(ops, parent):
    """Nearest enclosing user annotation (not ProfilerStep) of each op."""
    names = ops["name"].to_numpy(object)
    is_ann = (ops["cat"] == "user_annotation").to_numpy() & ~ops["name"].str.match(STEP_RE).to_numpy(bool)
    own = np.where(is_ann, names, None).astype(object)
    ops["annotation"] = text_column(propagate(parent, own, is_none), ops.index)


def modules(trace, ops, parent):
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



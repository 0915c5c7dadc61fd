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


def _annotation_rows(ops):
    return np.flatnonzero((ops["cat"] == "user_annotation").to_numpy(bool))


def steps_by_time(ops, times):
    rows = _annotation_rows(ops)  # only annotations can be ProfilerStep#N: don't regex every op
    num = ops["name"].iloc[rows].str.extract(STEP_RE, expand=False)
    is_step = num.notna().to_numpy(bool)
    rows, num = rows[is_step], num[is_step]
    out = no_steps(len(times))
    if not len(rows):
        return out
    s_start = ops["ts_us"].to_numpy(float)[rows]
    s_end = s_start + np.nan_to_num(ops["dur_us"].to_numpy(float)[rows])
    s_num = num.astype(str).astype("int64").to_numpy()
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
    rows = _annotation_rows(ops)
    names = ops["name"].iloc[rows]
    keep = ~names.str.match(STEP_RE).to_numpy(bool)
    own = np.full(len(ops), None, dtype=object)
    own[rows[keep]] = names.to_numpy(object)[keep]
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
    fwd = ops[["ts_us", "seq"]][(ops["fwd_tid"] == 0) & ops["seq"].notna()]  # two columns: rows are cheap to take
    bwd = (ops["fwd_tid"] > 0).fillna(False).to_numpy(bool) & ops["seq"].notna().to_numpy(bool)
    if bwd.any() and len(fwd):
        last_fwd = fwd.assign(module=out[fwd.index]).sort_values("ts_us").groupby("seq")["module"].last()
        seqs = ops.loc[bwd, "seq"]
        out[bwd] = np.where(pd.isna(out[bwd]), seqs.map(last_fwd).to_numpy(object), out[bwd])
    return propagate(parent, out, is_none)


def _paths(short, parent):
    """Dotted module path of each span: one level of the module tree at a time, from the roots down."""
    paths = np.empty(len(short), dtype=object)
    done = parent < 0
    paths[done] = short[done]
    while True:
        rows = np.flatnonzero(~done & done[np.clip(parent, 0, None)])
        if not len(rows):
            return paths
        paths[rows] = paths[parent[rows]] + "." + short[rows]
        done[rows] = True



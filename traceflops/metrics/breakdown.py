"""breakdown: where the wall time of each step went, per device, and the MFU waterfall.

Per (step, device) the wall time (first GPU activity start → last end of that step on that device; with
no ProfilerStep the whole trace is one step) splits into four parts that sum to it exactly:

* ``flop_us``          — some kernel with FLOPs is running;
* ``nonflop_us``       — no FLOP kernel, but some other non-communication activity (memory-bound kernels,
                          copies, memsets, kernels without a formula);
* ``comm_exposed_us``  — only communication kernels are running (not hidden behind any other work);
* ``idle_us``          — nothing runs on any stream of the device.

Stream intervals are unioned first, so concurrent streams are never counted twice; where classes overlap
the priority is FLOP kernel > non-FLOP kernel > communication.

MFU waterfall (fractions of peak, over Σ wall × devices): peak (1.0) − idle − exposed comm − non-FLOP
time − time in FLOP kernels below peak = achieved MFU (Σ flops/peak ÷ wall).

Launch overhead: per step, the CPU time spent in launch calls against the GPU busy time, and each GPU
idle gap charged to the CPU op running on the launching thread at the middle of the gap.
"""
import re

import numpy as np
import pandas as pd

from ..link import STEP_RE
from ..link.intervals import enclosing, group_codes, union_length

LAUNCH_CALL = re.compile(r"Launch", re.I)
PARTS = ["flop_us", "nonflop_us", "comm_exposed_us", "idle_us"]


def classes(k):
    """'flop' | 'comm' | 'nonflop' for each GPU activity."""
    flop = np.nan_to_num(k["flops"].to_numpy(float)) > 0
    comm = k["category"].astype(object).to_numpy(object) == "comm"
    if "family" in k:
        comm |= k["family"].astype(object).to_numpy(object) == "comm"
    return np.where(flop, "flop", np.where(comm, "comm", "nonflop"))


def split_window(starts, ends, cls, lo, hi):
    """The four parts of [lo, hi] given activity intervals and their classes (see module doc)."""
    s = np.clip(np.asarray(starts, float), lo, hi)
    e = np.clip(np.asarray(ends, float), lo, hi)
    cls = np.asarray(cls, dtype=object)
    f = cls == "flop"
    fn = f | (cls == "nonflop")
    u_f = union_length(s[f], e[f])
    u_fn = union_length(s[fn], e[fn])
    u_all = union_length(s, e)
    wall = float(hi - lo)
    return {"wall_us": wall, "flop_us": u_f, "nonflop_us": u_fn - u_f, "comm_exposed_us": u_all - u_fn,
            "idle_us": wall - u_all}


def _gaps(starts, ends, lo, hi):
    """Idle intervals of [lo, hi] not covered by any activity: (starts, ends) arrays, in time order."""
    order = np.argsort(starts, kind="stable")
    s, e = np.asarray(starts, float)[order], np.asarray(ends, float)[order]
    reach = np.maximum.accumulate(np.r_[lo, e])  # reach[i]: the furthest end before activity i starts
    gap = s > reach[:-1]
    a, b = reach[:-1][gap], s[gap]
    if hi > reach[-1]:
        a, b = np.r_[a, reach[-1]], np.r_[b, hi]
    return a, b


def _peak_seconds(g):
    peak = g["peak_tflops"].to_numpy(float) if "peak_tflops" in g else np.full(len(g), np.nan)
    fl = g["flops"].to_numpy(float)
    if "roof_flag" in g:  # a suspect kernel's FLOPs are wrong: out of the achieved MFU, as in mfu.py
        fl = np.where((g["roof_flag"] == "suspect").to_numpy(bool), np.nan, fl)
    with np.errstate(invalid="ignore", divide="ignore"):
        ps = np.where((peak > 0) & (np.nan_to_num(fl) > 0), fl / (peak * 1e12), 0.0)
    return float(np.nansum(ps))


def _fill_steps_by_time(k, step):
    """GPU activities with no step (unlinked: NCCL without a launch, activity before the CPU window) join the
    step whose GPU extent on the same device contains their start."""
    step = step.astype("Int64").copy()
    miss = step.isna().to_numpy(bool)
    if not miss.any() or step.notna().sum() == 0:
        return step
    ts = k["ts_us"].to_numpy(float)
    ext = (pd.DataFrame({"s": step, "d": k["device"], "lo": ts, "hi": ts + k["dur_us"].to_numpy(float)})
           .dropna(subset=["s"]).groupby(["d", "s"]).agg(lo=("lo", "min"), hi=("hi", "max")).reset_index())
    # one pass per (device, step) extent, not per unstepped activity: extents are few, activities many
    rows = np.flatnonzero(miss)
    dev = pd.to_numeric(k["device"], errors="coerce").to_numpy(float)[rows]
    t = ts[rows]
    got, filled = np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=bool)
    # (device, step) in ascending order and only unfilled rows taken: the lowest containing step wins
    for d, s, lo, hi in zip(ext["d"].to_numpy(float), ext["s"].to_numpy(np.int64), ext["lo"].to_numpy(float),
                            ext["hi"].to_numpy(float)):
        hit = ~filled & (dev == d) & (lo <= t) & (t <= hi)
        got[hit], filled[hit] = s, True
    vals = step.to_numpy(np.int64, na_value=0, copy=True)
    vals[rows[filled]] = got[filled]
    mask = miss.copy()
    mask[rows[filled]] = False
    return pd.Series(pd.arrays.IntegerArray(vals, mask), index=k.index)


def time_breakdown(k):
    """One row per (step, device): wall and its four parts, FLOPs and peak-seconds."""
    k = k[k["ts_us"].notna() & k["dur_us"].notna()]
    if not len(k):
        return pd.DataFrame(columns=["step", "device", "wall_us"] + PARTS)
    cls = classes(k)
    step = k["step"] if "step" in k and k["step"].notna().any() else pd.Series([pd.NA] * len(k), index=k.index)
    step = k["_bstep"] if "_bstep" in k else _fill_steps_by_time(k, step)
    rows = []
    grp = pd.DataFrame({"step": step.astype(object).where(step.notna(), -1).to_numpy(),
                        "device": k["device"].astype(object).where(k["device"].notna(), -1).to_numpy()}, index=k.index)
    for (s, d), idx in grp.groupby(["step", "device"], sort=True).indices.items():
        g = k.iloc[idx]
        st = g["ts_us"].to_numpy(float)
        en = st + g["dur_us"].to_numpy(float)
        lo, hi = float(st.min()), float(en.max())
        parts = split_window(st, en, cls[idx], lo, hi)
        rows.append({"step": None if s == -1 else int(s), "device": None if d == -1 else int(d), "start_us": lo,
                     "end_us": hi, **parts, "flops": float(np.nansum(g["flops"].to_numpy(float))),
                     "peak_seconds": _peak_seconds(g),
                     "flops_without_peak": int(((np.nan_to_num(g["flops"].to_numpy(float)) > 0)
                                               & ~(g["peak_tflops"].to_numpy(float) > 0)).sum()) if "peak_tflops" in g else 0})
    return pd.DataFrame(rows)


def waterfall(table):
    """MFU waterfall from the time breakdown (fractions of peak)."""
    wall = float(table["wall_us"].sum()) if len(table) else 0.0
    if wall <= 0:
        return None
    frac = {c: float(table[c].sum()) / wall for c in PARTS}
    mfu = float(table["peak_seconds"].sum()) * 1e6 / wall
    stages = [
        {"stage": "peak", "value": 1.0, "kind": "total"},
        {"stage": "lost to idle", "value": -frac["idle_us"], "kind": "loss"},
        {"stage": "lost to exposed communication", "value": -frac["comm_exposed_us"], "kind": "loss"},
        {"stage": "lost to kernels without FLOPs", "value": -frac["nonflop_us"], "kind": "loss"},
        {"stage": "lost below the roofline (in FLOP kernels)", "value": -(frac["flop_us"] - mfu), "kind": "loss"},
        {"stage": "achieved MFU", "value": mfu, "kind": "total"},
    ]
    return stages


def _cpu_steps(ops):
    """(step, start, end) of each ProfilerStep#N CPU span."""
    if ops is None or not len(ops):
        return []
    ann = ops[(ops["cat"] == "user_annotation").to_numpy(bool)]  # only annotations can be steps: no regex per op
    m = ann["name"].astype(str).str.extract(STEP_RE, expand=False)
    sel = m.notna()
    return [(int(n), float(t), float(t + (d if d == d else 0)))
            for n, t, d in zip(m[sel], ann.loc[sel, "ts_us"], ann.loc[sel, "dur_us"])]


def launch_overhead(k, ops, launches, table, top=10):
    """Per step: CPU launch-call time vs GPU busy time, and GPU idle gaps charged to CPU ops."""
    if launches is None or not len(launches) or not len(table):
        return None
    codes, uniq = pd.factorize(launches["name"].astype(str))  # a few distinct call names, each searched once
    is_launch = np.array([bool(LAUNCH_CALL.search(u)) for u in uniq] + [False])[codes]
    lts = launches["ts_us"].to_numpy(float)
    ldur = np.nan_to_num(launches["dur_us"].to_numpy(float))
    steps = _cpu_steps(ops)
    # Launching thread per device: the thread whose launch calls own most of the device's activities.
    corr = launches[["correlation", "pid", "tid"]].dropna(subset=["correlation"]).drop_duplicates("correlation")
    kk = k[["device", "correlation"]].dropna().merge(corr, on="correlation", how="inner")
    thread_of = {}
    for d, g in kk.groupby("device"):
        pt = g.groupby(["pid", "tid"]).size().idxmax()
        thread_of[int(d)] = pt
    has_ops = ops is not None and len(ops) > 0
    if has_ops:
        op_groups = group_codes(ops["pid"], ops["tid"])
        op_key = {}
        pid_s, tid_s = ops["pid"].astype(str), ops["tid"].astype(str)
        for p_, t_ in {tuple(map(str, v)) for v in thread_of.values()}:  # only the few launching threads
            rows = np.flatnonzero(((pid_s == p_) & (tid_s == t_)).to_numpy(bool))
            if len(rows):
                op_key[(p_, t_)] = op_groups[rows[0]]
        parent = ops["parent"].to_numpy() if "parent" in ops else np.full(len(ops), -1)
    valid = k[k["ts_us"].notna() & k["dur_us"].notna()]
    per_step, gap_parts = [], []
    for s, g in table.groupby(table["step"].astype(object).where(table["step"].notna(), -1)):
        s = None if s == -1 else int(s)
        span = next(((a, b) for n, a, b in steps if n == s), None)
        if span is None:  # no CPU span for it: the GPU extent of the step
            span = (float(g["start_us"].min()), float(g["end_us"].max()))
        inside = (lts >= span[0]) & (lts <= span[1]) if s is not None or steps else np.ones(len(lts), bool)
        row = {"step": s, "cpu_span_us": float(span[1] - span[0]),
               "launch_calls": int((inside & is_launch).sum()),
               "launch_call_us": float(ldur[inside & is_launch].sum()),
               "runtime_call_us": float(ldur[inside].sum()),
               "gpu_busy_us": float((g["wall_us"] - g["idle_us"]).sum()),
               "gpu_idle_us": float(g["idle_us"].sum()), "gpu_wall_us": float(g["wall_us"].sum())}
        row["launch_to_busy"] = row["launch_call_us"] / row["gpu_busy_us"] if row["gpu_busy_us"] > 0 else None
        per_step.append(row)
        for _, r in g.iterrows():
            vs = valid["_bstep"] if "_bstep" in valid else valid["step"]
            sel = valid[(valid["device"] == r["device"]).to_numpy(bool)
                        & ((vs == s).fillna(False) if s is not None else vs.isna()).to_numpy(bool)]
            st = sel["ts_us"].to_numpy(float)
            gap_parts.append((s, r["device"], *_gaps(st, st + sel["dur_us"].to_numpy(float), r["start_us"], r["end_us"])))
    n_gaps = [len(p[2]) for p in gap_parts]
    gaps = pd.DataFrame({"step": np.repeat(np.array([p[0] for p in gap_parts], dtype=object), n_gaps),
                         "device": np.repeat(np.array([p[1] for p in gap_parts], dtype=object), n_gaps),
                         "start_us": np.concatenate([p[2] for p in gap_parts] or [np.zeros(0)]),
                         "end_us": np.concatenate([p[3] for p in gap_parts] or [np.zeros(0)])})
    gaps["gap_us"] = gaps["end_us"] - gaps["start_us"]
    gaps["cpu_op"] = "(no CPU op on the launching thread)"
    if has_ops and len(gaps):
        mid = ((gaps["start_us"] + gaps["end_us"]) / 2).to_numpy(float)
        # the launching thread's op group, once per (step, device) part rather than once per gap
        part_group = [op_key.get(tuple(map(str, thread_of.get(int(d), ("", "")))), -2) if d == d and d is not None
                      else -2 for _, d, _, _ in gap_parts]
        qg = np.repeat(np.array(part_group, dtype=np.int64), n_gaps)
        hit = enclosing(op_groups, ops["ts_us"].to_numpy(float), ops["dur_us"].to_numpy(float), parent, qg, mid)
        cpu_op = gaps["cpu_op"].to_numpy(object).copy()
        ok = hit >= 0
        cpu_op[ok] = ops["name"].iloc[hit[ok]].to_numpy(object)  # only the charged ops' names become Python str
        gaps["cpu_op"] = cpu_op
    top_ops = (gaps.groupby("cpu_op")["gap_us"].agg(["sum", "count"]).sort_values("sum", ascending=False).head(top)
               .reset_index().rename(columns={"sum": "gap_us", "count": "gaps"}))
    return {"per_step": per_step, "top_gap_ops": top_ops.to_dict("records"),
            "gap_basis": "GPU idle gap charged to the innermost CPU op on the device's launching thread at the gap's midpoint"}, gaps


_USED = ["ts_us", "dur_us", "device", "step", "flops", "category", "family", "peak_tflops", "correlation", "roof_flag"]


def breakdown(kernels, ops=None, launches=None):
    """(summary block, per-step table) for summary['breakdown'] / Analysis.tables['breakdown']."""
    kernels = kernels[[c for c in _USED if c in kernels]]  # narrow: per-step row selections stay cheap
    kernels = kernels[kernels["ts_us"].notna() & kernels["dur_us"].notna()]
    if len(kernels):
        st = kernels["step"] if kernels["step"].notna().any() else pd.Series([pd.NA] * len(kernels), index=kernels.index)
        kernels = kernels.assign(_bstep=_fill_steps_by_time(kernels, st))
    table = time_breakdown(kernels)
    if not len(table):
        return {"note": "no GPU activity"}, table
    tot = {c: float(table[c].sum()) for c in ["wall_us"] + PARTS}
    tot["sum_of_parts_us"] = sum(tot[c] for c in PARTS)
    has_steps = "step" in kernels and kernels["step"].notna().any()
    lo = launch_overhead(kernels, ops, launches, table)
    out = {
        "basis": "per ProfilerStep and device" if has_steps else "whole trace as one step, per device",
        "priority": "flop > nonflop > comm",
        "totals": tot,
        "fractions": {c: tot[c] / tot["wall_us"] if tot["wall_us"] > 0 else None for c in PARTS},
        "per_step": _records(table),
        "waterfall": waterfall(table),
        "launch": lo[0] if lo else None,
    }
    if int(table["flops_without_peak"].sum()):
        out["note"] = f"{int(table['flops_without_peak'].sum())} FLOP kernel(s) have no known peak: their FLOPs are not in the achieved MFU"
    return out, table


def _records(df):
    out = []
    for r in df.to_dict("records"):
        out.append({c: (None if isinstance(v, float) and not np.isfinite(v) else v) for c, v in r.items()})
    return out

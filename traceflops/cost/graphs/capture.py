"""A capture trace's captured kernels as a reference table.

Between ``*StreamBeginCapture`` and ``*StreamEndCapture`` a capture trace records the launch call of every
captured kernel; the kernels themselves never run, so they have no GPU activity. ROCm writes the kernel name,
grid and block on each launch call. `captured_launches` turns those launches into synthetic GPU rows of the
capture trace; the pipeline runs its usual link and cost stages over them (the same FLOP formulas as any
kernel), and `capture_reference_rows` keeps the costed synthetic rows, in capture order.
"""
import re
from dataclasses import replace

import pandas as pd

BEGIN_CAPTURE = re.compile(r"StreamBeginCapture", re.I)
END_CAPTURE = re.compile(r"StreamEndCapture", re.I)
COST_COLS = ["op", "flops", "recompute_flops", "bytes", "dtype", "family", "flops_source", "flops_reason",
             "bytes_source"]
REF_COLS = COST_COLS + ["input_dims", "input_types", "shapes", "module", "name", "grid", "block"]
SHAPE_COLS = ("input_dims", "input_types", "shapes")  # text for outputs and keys, decoded dims for later stages


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


def captured_launches(trace):
    """(trace with one synthetic GPU row per captured launch appended, the launches in capture order), or
    (None, None) when the trace captured no named kernel. The launches carry `window` (capture index)."""
    la = trace.launches
    if not len(la) or "kernel" not in la:
        return None, None
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
        return None, None
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
    for c in ("blocks", "threads"):
        syn[c] = la[c].to_numpy(float)
    for c in ("graph_id", "graph_node_id"):
        syn[c] = la[c].to_numpy()
    gpu = pd.concat([trace.gpu.reset_index(drop=True), syn], ignore_index=True)
    return replace(trace, gpu=gpu), la


def capture_reference_rows(kernels, n_ran, la):
    """The reference table: the costed synthetic rows (after the first `n_ran` real GPU rows), one per
    captured launch in `la` order. Columns: REF_COLS, window, pos, graph_id, graph_node_id."""
    ref = kernels.iloc[n_ran:].reset_index(drop=True)
    out = pd.DataFrame({c: ref[c].to_numpy(object) if c in ref else None for c in REF_COLS})
    out["window"] = la["window"].to_numpy()
    out["pos"] = la.groupby("window").cumcount().to_numpy()
    out["graph_id"] = la["graph_id"].to_numpy()
    out["graph_node_id"] = la["graph_node_id"].to_numpy()
    return out


def empty_reference():
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REF_COLS + ["window", "pos", "graph_id", "graph_node_id"]})

"""The windows model-guided attribution works in, and each window's per-layer structure.

* Windows: a serving step (its annotation gives the batch); without step annotations, a profiler step
  (ProfilerStep#N), else the whole trace; always one device. A window holds one or more forward passes.
* Layers: every layer launches its attention once, so the attention kernels anchor the layers: a window with
  r·L attention kernels (L = the config's layers) holds r forward passes. Segment s is what runs between
  attention s−1 and attention s: the rest of layer s−1 (o, the FFN) and the start of layer s (its norm, the qkv
  GEMM, RoPE, the KV-cache store); segment 0 adds the embedding, the last one the final norm and the LM head.
* Period: the smallest number of layers after which the segments' kernel names repeat (1 for most models, 2 for
  gpt-oss' alternating sliding/full attention), in nine of ten segments. A window whose segments do not repeat is
  reported as aperiodic (lower confidence).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .graphs.replay import graph_kernels

REPEAT = 0.9  # share of layer segments that must equal the one a period later


def windows(k, cand, kernel_step):
    """[(label, rows in time order)] of the windows that hold a candidate kernel (positional rows of `k`)."""
    n = len(k)
    serving = (np.asarray(kernel_step.to_numpy(dtype="float", na_value=np.nan), dtype=float)
               if kernel_step is not None else np.full(n, np.nan))
    prof = pd.to_numeric(k["step"], errors="coerce").to_numpy(float) if "step" in k else np.full(n, np.nan)
    has_serving = np.isfinite(serving).any()
    dev = pd.to_numeric(k["device"], errors="coerce").fillna(-1).to_numpy(np.int64)
    kernel = (k["kind"] == "kernel").to_numpy(bool)
    if has_serving:
        kind, key = "serving step", serving
    elif np.isfinite(prof).any():
        kind, key = "profiler step", prof
    else:
        kind, key = "trace", np.zeros(n)
    row = np.flatnonzero(kernel & np.isfinite(key))
    kk, dd, ts = key[row], dev[row], _order_ts(k)[row]
    order = np.lexsort((row, ts, dd, kk))  # one sort for all windows: by window, device, time, record order
    row, kk, dd = row[order], kk[order], dd[order]
    cuts = np.flatnonzero(np.r_[True, (kk[1:] != kk[:-1]) | (dd[1:] != dd[:-1]), True])
    has = np.add.reduceat(cand[row].astype(np.int64), cuts[:-1]) > 0 if len(row) else np.zeros(0, bool)
    out = []
    for a, b, h in zip(cuts[:-1], cuts[1:], has):
        if h:
            w, d = kk[a], dd[a]
            out.append((f"{kind} {int(w)}" + (f" (device {d})" if d >= 0 else "") if kind != "trace"
                        else f"trace (device {d})", int(w) if kind == "serving step" else None, row[a:b]))
    return kind, out


def _order_ts(k):
    """The time each kernel sorts by: its start, except that the kernels of one single-stream graph replay keep
    the order they were recorded in, at the replay's first start. One stream runs its kernels in launch order,
    and ROCm traces record some replayed kernels with start times out of that order (the shared MI300X decode
    traces: a layer's GEMM stamped after the next layer's attention), so there the record order is the truth."""
    ts = k["ts_us"].to_numpy(float).copy()
    replay = graph_kernels(k) & (k["correlation"].notna().to_numpy(bool))
    if not replay.any():
        return ts
    g = pd.DataFrame({"c": k["correlation"].to_numpy()[replay], "s": k["stream"].to_numpy()[replay],
                      "ts": ts[replay]})
    one_stream = (g.groupby("c")["s"].transform("nunique") == 1).to_numpy(bool)
    start = g.groupby("c")["ts"].transform("min").to_numpy(float)
    rows = np.flatnonzero(replay)[one_stream]
    ts[rows] = start[one_stream]  # ties sort by row: the record order
    return ts


def outside_reason(kind):
    return {"serving step": "model: outside every serving step (no batch to cost it with)",
            "profiler step": "model: outside every profiler step window"}.get(kind, "model: not a kernel of a window")


def layer_segments(roles, n_layers):
    """(anchors, segment of each position, forwards) or (None, why). `roles`: the window's roles in order."""
    anchors = np.flatnonzero(roles == "attention")
    if not len(anchors):
        return None, "model: no attention kernel in the window to anchor the layers"
    if len(anchors) % n_layers:
        return None, (f"model: {len(anchors)} attention kernels in the window, not a multiple of the config's "
                      f"{n_layers} layers (does the config match the trace?)")
    seg = np.searchsorted(anchors, np.arange(len(roles)), side="left")  # anchor j: j (before it: j)
    return (anchors, seg, len(anchors) // n_layers), None


def period(codes, anchors, seg):
    """(period in layers or None, whether it could be checked): segments 1..N−1 compared by their kernel names
    (a window of two layers has one such segment: nothing to compare)."""
    n = len(anchors)
    segs = [tuple(codes[(seg == s) & ~_is_anchor(len(codes), anchors)]) for s in range(1, n)]
    for p in range(1, max(2, min(8, len(segs) // 2 + 1))):
        pairs = len(segs) - p
        # an eager kernel of another stream may land inside one layer's segment: nine in ten must repeat
        if pairs > 0 and sum(segs[i] == segs[i + p] for i in range(pairs)) >= REPEAT * pairs:
            return p, True
    return None, len(segs) > 1


def _is_anchor(n, anchors):
    m = np.zeros(n, bool)
    m[anchors] = True
    return m

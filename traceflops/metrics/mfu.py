"""mfu: model FLOPs utilization from a trace — whole run, per step, per module, over time.

MFU = Σ_i flops_i / peak(device_i, dtype_i, math mode_i), divided by (wall time × GPUs active).
Each kernel is weighed against the peak of the units it ran on, so a mixed bf16/fp32 run is not
judged against one number.  HFU adds recomputed FLOPs.
"""
import numpy as np
import pandas as pd

from ..link.intervals import union_length, union_segments
from .phases import phase_requests


def _peak_seconds(k, col="flops"):
    return _at_peak(k[col].to_numpy(float), k["peak_tflops"].to_numpy(float))


def _at_peak(flops, peak_tflops):
    """Seconds each kernel's FLOPs take at its peak (NaN without a peak)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(peak_tflops > 0, flops / (peak_tflops * 1e12), np.nan)


def _block(k, wall_us, gpus):
    # on arrays: it runs once per step and per timeline window, and row selections of a frame cost more than it
    fl, peak = k["flops"].to_numpy(float), k["peak_tflops"].to_numpy(float)
    has = np.nan_to_num(fl) > 0
    ps = np.nansum(_at_peak(fl[has], peak[has]))
    ps_h = ps + np.nansum(_at_peak(k["recompute_flops"].to_numpy(float)[has], peak[has]))
    ts, end = k["ts_us"].to_numpy(float), (k["ts_us"] + k["dur_us"]).to_numpy(float)
    dev = k["device"].to_numpy(float, na_value=np.nan)
    busy = sum(union_length(ts[dev == d], end[dev == d]) for d in np.unique(dev[~np.isnan(dev)]))
    denom = wall_us * 1e-6 * max(gpus, 1)
    return {
        "flops": float(np.nansum(k["flops"].to_numpy(float))),
        "recompute_flops": float(np.nansum(k["recompute_flops"].to_numpy(float))),
        "wall_us": float(wall_us),
        "gpu_busy_us": float(busy),
        "gpus": int(gpus),
        "mfu": float(ps / denom) if denom > 0 and ps > 0 else None,
        "hfu": float(ps_h / denom) if denom > 0 and ps_h > 0 else None,
        "busy_mfu": float(ps / (busy * 1e-6)) if busy > 0 and ps > 0 else None,
        "achieved_tflops": float(np.nansum(k["flops"].to_numpy(float)) / (denom * 1e12)) if denom > 0 else None,
    }


def _per_module(k, modules):
    """One row per module (in sorted order): kernels, GPU time, FLOPs and busy MFU, with column sums per
    module instead of a DataFrame per module (hundreds of them in a large model)."""
    codes, names = pd.factorize(modules, sort=True)  # the whole text column, then its rows: no text is copied
    k, codes = k[codes >= 0], codes[codes >= 0]
    n = len(names)
    ts, dur = k["ts_us"].to_numpy(float), k["dur_us"].to_numpy(float)
    flops, ps = k["flops"].to_numpy(float), _peak_seconds(k)
    kernels = np.bincount(codes, minlength=n)
    time_us = np.bincount(codes, weights=dur, minlength=n)
    flops_sum = np.bincount(codes, weights=np.where(np.isnan(flops), 0.0, flops), minlength=n)
    ps_sum = np.bincount(codes, weights=np.where(np.isnan(ps), 0.0, ps), minlength=n)
    busy = _union_by_group(codes, ts, ts + dur, n)
    return [{"module": m, "kernels": int(kernels[i]), "gpu_time_us": float(time_us[i]), "flops": float(flops_sum[i]),
             "busy_mfu": float(ps_sum[i] / (busy[i] * 1e-6)) if busy[i] > 0 and ps_sum[i] > 0 else None}
            for i, m in enumerate(names)]


def _union_by_group(codes, starts, ends, n):
    """union_length of each group's intervals, all groups at once."""
    group, seg_len = union_segments(codes, starts, ends)
    return np.bincount(group, weights=seg_len, minlength=n)


_BLOCK = ["ts_us", "dur_us", "device", "flops", "recompute_flops", "peak_tflops"]
_USED = ["ts_us", "dur_us", "device", "flops", "recompute_flops", "peak_tflops", "step", "module", "phase",
         "roof_flag", "dtype", "tensor_core"]
PEAK_BASIS = "each kernel's FLOPs against the datasheet dense peak of its device, dtype and math mode"


def without_suspect(k):
    """The kernel table with the FLOPs of `suspect` kernels (above their compute peak: a FLOP count that cannot
    be right) removed, as MFU and HFU count them; (table, their FLOPs, their count)."""
    if "roof_flag" not in k:
        return k, 0.0, 0
    bad = (k["roof_flag"] == "suspect").to_numpy(bool)
    if not bad.any():
        return k, 0.0, 0
    dropped = float(np.nansum(k["flops"].to_numpy(float)[bad]))
    k = k.assign(flops=np.where(bad, np.nan, k["flops"].to_numpy(float)),
                 recompute_flops=np.where(bad, np.nan, k["recompute_flops"].to_numpy(float)))
    return k, dropped, int(bad.sum())


def peaks_used(k):
    """The denominators MFU used: per (dtype, math mode, peak), the share of counted FLOPs measured against it."""
    fl = np.nan_to_num(k["flops"].to_numpy(float))
    has = (fl > 0) & (k["peak_tflops"].to_numpy(float) > 0)
    if not has.any():
        return []
    dtype = k["dtype"].to_numpy(object)[has] if "dtype" in k else np.full(int(has.sum()), None, dtype=object)
    tc = k["tensor_core"].fillna(False).to_numpy(bool)[has] if "tensor_core" in k else np.zeros(int(has.sum()), bool)
    # off the tensor cores every dtype but fp64 runs at the vector fp32 rate (roofline.catalog.peak_for)
    dtype = np.where(tc, dtype, np.where(dtype == "fp64", "fp64", "fp32"))
    g = pd.DataFrame({"dtype": dtype, "tensor_core": tc, "peak_tflops": k["peak_tflops"].to_numpy(float)[has],
                      "flops": fl[has]})
    g = g.fillna({"dtype": "?"}).groupby(["dtype", "tensor_core", "peak_tflops"], dropna=False)["flops"].sum()
    total = float(g.sum())
    return [{"dtype": d, "tensor_core": bool(tc) if tc is not None else None, "peak_tflops": float(p),
             "flops_share": float(f / total)} for (d, tc, p), f in g.sort_values(ascending=False).items()]


def mfu_summary(k, steps=None, windows=40):
    """The `mfu` block of summary.json plus per-step, per-module and over-time tables; `steps`: the serving
    steps table (metrics/steps.py), for the requests per phase."""
    k = k[[c for c in _USED if c in k]]  # a narrow frame: the many row selections below stay cheap
    k = k[k["dur_us"].notna() & k["ts_us"].notna()]
    if not len(k):
        return {"mfu": None, "note": "no GPU activity"}, {}
    k, suspect_flops, suspect_kernels = without_suspect(k)
    gpus = k["device"].nunique()
    starts, ends = k["ts_us"].to_numpy(float), (k["ts_us"] + k["dur_us"]).to_numpy(float)
    span = float(ends.max() - starts.min())
    basis = "first kernel start to last kernel end"
    wall = span
    out = _block(k, wall, gpus)
    out["wall_basis"] = basis
    out["peak_basis"] = PEAK_BASIS
    out["peaks_used"] = peaks_used(k)
    out["suspect_flops"] = suspect_flops
    out["suspect_kernels"] = suspect_kernels
    missing_peak = (np.nan_to_num(k["flops"].to_numpy(float)) > 0) & ~(k["peak_tflops"].to_numpy(float) > 0)
    out["kernels_with_flops_but_no_peak"] = int(missing_peak.sum())
    tables = {}
    nums = k[[c for c in _BLOCK if c in k]]  # what _block reads: its many row selections take no text column
    if k["step"].notna().any():
        rows = []
        for s, g in nums[k["step"].notna().to_numpy(bool)].groupby(k["step"][k["step"].notna()]):
            st, en = g["ts_us"].min(), (g["ts_us"] + g["dur_us"]).max()
            rows.append({"step": int(s), **_block(g, float(en - st), g["device"].nunique())})
        tables["steps"] = pd.DataFrame(rows)
        out["per_step"] = rows
    if k["module"].notna().any():
        mods = pd.DataFrame(_per_module(nums, k["module"]))
        mods = mods.sort_values("gpu_time_us", ascending=False, kind="stable")  # ties keep module order
        tables["modules"] = mods
        out["per_module_top"] = mods.head(20).to_dict("records")
    if "phase" in k and k["phase"].notna().any():
        rows = []
        for ph, g in k[k["phase"].notna()].groupby("phase"):
            busy = union_length(g["ts_us"].to_numpy(float), (g["ts_us"] + g["dur_us"]).to_numpy(float))
            ps = np.nansum(_peak_seconds(g))
            rows.append({"phase": ph, "kernels": len(g), "gpu_time_us": float(g["dur_us"].sum()),
                         "flops": float(np.nansum(g["flops"])), "busy_mfu": float(ps / (busy * 1e-6)) if busy > 0 and ps > 0 else None})
        tables["phases"] = pd.DataFrame(rows)
        out["per_phase"] = rows
    counts = phase_requests(steps) if steps is not None else None
    if counts:
        out["phase_requests"] = counts
    if span > 0:
        edges = np.linspace(starts.min(), ends.max(), windows + 1)
        mid = (starts + ends) / 2
        which = np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, windows - 1)
        rows = []
        for w in range(windows):
            g = nums[which == w]
            rows.append({"window": w, "start_us": float(edges[w]), "end_us": float(edges[w + 1]),
                         **{c: v for c, v in _block(g, float(edges[w + 1] - edges[w]), gpus).items() if c in ("flops", "mfu", "busy_mfu", "gpu_busy_us")}})
        tables["timeline"] = pd.DataFrame(rows)
    return out, tables

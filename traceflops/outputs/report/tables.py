"""Grouped views of the kernel table shared by the plots, the HTML report and compare.

A *work key* names what a kernel computes, not how a library implemented it: the CPU op that launched
it, that op's input shapes and dtype, and the kernel category.  Mangled kernel names differ across
library versions and vendors; these do not.  Kernels with no op fall back to category + a normalized
name (template arguments, argument lists and numbers stripped).
"""
import re

import numpy as np
import pandas as pd

from ...numbers import finite_or_none

KEY_COLUMNS = ["op", "input_dims", "dtype", "category"]

_TEMPLATE = re.compile(r"<[^<>]*>")
_ARGS = re.compile(r"\([^()]*\)\s*$")
_NUM = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalize_name(name):
    """A kernel name with template arguments, trailing argument list and numbers removed."""
    if not isinstance(name, str):
        return ""
    s = name.strip()
    if s.startswith("void "):
        s = s[5:]
    for _ in range(20):  # innermost template argument lists first
        t = _TEMPLATE.sub("", s)
        if t == s:
            break
        s = t
    s = _ARGS.sub("", s)
    s = _NUM.sub("N", s)
    return _SPACE.sub(" ", s).strip()


def _text(col):
    return col.astype(object).where(col.notna(), "").astype(str)


def work_keys(k):
    """DataFrame of the key columns (strings, '' for missing) for each kernel row of `k`."""
    op = _text(k["op"]) if "op" in k else pd.Series([""] * len(k), index=k.index)
    no_op = op == ""
    out = pd.DataFrame({
        "op": op,
        "input_dims": _text(k["input_dims"]).where(~no_op, ""),
        "dtype": _text(k["dtype"]).where(~no_op, ""),
        "category": _text(k["category"]).replace("", "other"),
    }, index=k.index)
    if no_op.any():
        out.loc[no_op, "op"] = ["name: " + normalize_name(n) for n in k.loc[no_op, "name"]]
    return out


def key_label(op, dims, dtype, category):
    parts = [op or "?"]
    if dims:
        parts.append(dims)
    if dtype:
        parts.append(dtype)
    parts.append(f"[{category}]")
    return " ".join(parts)


def aggregate(k, by):
    """One row per group of `by` columns with summed time/FLOPs/bytes and time-weighted roofline numbers.

    achieved_tflops = Σflops / Σtime, NaN when no kernel of the group has known FLOPs (unknown is not 0);
    achieved_gbps = Σbytes / Σtime over the rows with bytes; intensity = Σflops / Σbytes (rows with both);
    pct_of_ceiling = Σ time_at_ceiling / Σ time over rows that have a ceiling, ×100 (the per-kernel definition,
    pooled); top_name and bound are those of the group's longest kernel.
    """
    if not len(k):
        return pd.DataFrame(columns=list(by) + ["kernels", "time_us", "flops", "bytes", "achieved_tflops",
                                                "achieved_gbps", "intensity", "pct_of_ceiling", "time_lost_us", "sm_fill", "top_name"])
    dur = k["dur_us"].to_numpy(float)
    dur = np.where(np.isfinite(dur), dur, 0.0)
    raw_flops = k["flops"].to_numpy(float) if "flops" in k else np.full(len(k), np.nan)
    flops = np.nan_to_num(raw_flops)
    byts = k["bytes"].to_numpy(float) if "bytes" in k else np.full(len(k), np.nan)
    tc = k["time_at_ceiling_us"].to_numpy(float) if "time_at_ceiling_us" in k else np.full(len(k), np.nan)
    lost = k["time_lost_us"].to_numpy(float) if "time_lost_us" in k else np.full(len(k), np.nan)
    both = (flops > 0) & np.isfinite(byts) & (byts > 0)
    has_c = np.isfinite(tc)
    fill = k["sm_fill"].to_numpy(float) if "sm_fill" in k else np.full(len(k), np.nan)
    has_f = np.isfinite(fill)
    gid, first = _group_ids([_key_column(k, c) for c in by])
    ng = len(first)

    def total(x):
        return np.bincount(gid, weights=np.broadcast_to(np.asarray(x, float), gid.shape), minlength=ng)

    def anyof(x):
        return np.bincount(gid, weights=np.broadcast_to(np.asarray(x, bool), gid.shape).astype(float), minlength=ng) > 0

    def top(x):
        out = np.full(ng, np.nan)
        np.fmax.at(out, gid, np.broadcast_to(np.asarray(x, float), gid.shape))  # NaN-skipping max
        return out

    kernels = np.bincount(gid, minlength=ng)
    time_us, fi, bi = total(dur), total(np.where(both, flops, 0.0)), total(np.where(both, byts, 0.0))
    tc, tct = total(np.where(has_c, tc, 0.0)), total(np.where(has_c, dur, 0.0))
    sf, sft = total(np.where(has_f, fill * dur, 0.0)), total(np.where(has_f, dur, 0.0))
    flops_sum = total(flops)
    known = anyof(np.isfinite(raw_flops))
    has_b = np.isfinite(byts)
    bt = total(np.where(has_b, dur, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        agg = pd.DataFrame({
            **{c: _key_column(k, c).iloc[first].to_numpy(object) for c in by},
            "kernels": kernels, "time_us": time_us, "flops": flops_sum,
            "bytes": np.where(anyof(np.isfinite(byts)), total(np.where(np.isfinite(byts), byts, 0.0)), np.nan),
            "time_lost_us": np.where(anyof(np.isfinite(lost)), total(np.where(np.isfinite(lost), lost, 0.0)), np.nan),
            "peak_tflops": top(k["peak_tflops"].to_numpy(float) if "peak_tflops" in k else np.nan),
            "peak_tbps": top(k["peak_tbps"].to_numpy(float) if "peak_tbps" in k else np.nan),
            "tensor_core": anyof(k["tensor_core"].fillna(False).to_numpy(bool) if "tensor_core" in k else False),
            "achieved_tflops": np.where(known & (time_us > 0), flops_sum / time_us / 1e6, np.nan),
            "achieved_gbps": np.where(bt > 0, total(np.where(has_b, byts, 0.0)) / bt / 1e3, np.nan),
            "intensity": np.where(bi > 0, fi / bi, np.nan),
            "pct_of_ceiling": np.where(tct > 0, tc / tct * 100, np.nan),
            "sm_fill": np.where(sft > 0, sf / sft, np.nan),  # time-weighted
        })
    order = np.argsort(-dur, kind="stable")  # the longest kernel names its group; the first row wins ties
    g_sorted = gid[order]
    _, at = np.unique(g_sorted, return_index=True)
    agg["top_name"] = k["name"].iloc[order[at]].to_numpy(object)  # the rows first: no Python str per kernel
    if "bound" in k:
        agg["bound"] = k["bound"].iloc[order[at]].astype(object).to_numpy(object)
    if "roof_flag" in k:
        agg["roof_flags"] = _flags(k["roof_flag"].to_numpy(object), gid, ng)
    if "pct_of_achievable" in k:
        pa = k["pct_of_achievable"].to_numpy(float)
        has_a = np.isfinite(pa)
        at_ach = np.where(has_a & (pa > 0), dur / np.where(pa > 0, pa, 1) * 100, 0.0)  # time at the measured ceiling
        ta = total(np.where(has_a, dur, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            agg["pct_of_achievable"] = np.where(ta > 0, total(at_ach) / ta * 100, np.nan)
    return agg.sort_values("time_us", ascending=False, kind="stable").reset_index(drop=True)


def _flags(flag, gid, ng):
    """Per group, its kernels' roofline flags with counts ('suspect ×3'), or None."""
    out = np.full(ng, None, dtype=object)
    has = np.flatnonzero(pd.notna(pd.Series(flag, dtype=object)).to_numpy(bool))
    if not len(has):
        return out
    counts = pd.DataFrame({"g": gid[has], "f": flag[has]}).value_counts().sort_index()
    for g, c in counts.groupby(level=0):
        out[g] = ", ".join(f"{f} ×{n}" for (_, f), n in c.items())
    return out


def _key_column(k, c):
    """Column c as a group key, missing values as "" (one group with the empty text). Text stays Arrow text:
    factorizing it hashes the strings without a Python object per row."""
    if c not in k:
        return pd.Series("", index=k.index, dtype=object)
    col = k[c]
    if isinstance(col.dtype, pd.StringDtype):
        return col.fillna("")
    return col.astype(object).where(col.notna(), "")


def _group_ids(keys):
    """(group id per row, first row of each group) of the key columns: groups numbered in order of first
    appearance."""
    n = len(keys[0]) if keys else 0
    code = np.zeros(n, dtype=np.int64)
    for col in keys:
        part, uniq = pd.factorize(col, sort=False)
        code = pd.factorize(code * (len(uniq) + 1) + part, sort=False)[0]  # renumbered: stays below n, never wraps
    gid, uniq = pd.factorize(code, sort=False)
    first = np.full(len(uniq), n, dtype=np.int64)
    np.minimum.at(first, gid, np.arange(n))
    return gid.astype(np.intp), first


KERNEL_GROUP = ["name", "op", "input_dims", "dtype", "category"]


def kernel_groups(k):
    """Kernels grouped by name + op + shapes + dtype + category, with each group's share of GPU time: the top
    kernels of the report and of the CLI."""
    t = aggregate(k[[c for c in k.columns if c in KERNEL_GROUP or c in _AGG_USES]], KERNEL_GROUP)
    total = float(t["time_us"].sum())
    t["share"] = t["time_us"] / total if total > 0 else np.nan
    return t


_AGG_USES = {"dur_us", "flops", "bytes", "time_at_ceiling_us", "time_lost_us", "sm_fill", "peak_tflops", "peak_tbps",
             "tensor_core", "bound", "roof_flag", "pct_of_achievable"}


def group_table(k):
    """Kernels grouped by work key (op + input_dims + dtype + category)."""
    keys = work_keys(k)
    kk = k.drop(columns=[c for c in KEY_COLUMNS if c in k.columns]).join(keys)
    return aggregate(kk, KEY_COLUMNS)


def fmt_num(x, digits=3):
    x = finite_or_none(x)
    if x is None:
        return "–"
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1e15:
        return f"{x / 1e15:.{digits}g}P"
    if ax >= 1e12:
        return f"{x / 1e12:.{digits}g}T"
    if ax >= 1e9:
        return f"{x / 1e9:.{digits}g}G"
    if ax >= 1e6:
        return f"{x / 1e6:.{digits}g}M"
    if ax >= 1e4:
        return f"{x / 1e3:.{digits}g}k"
    if ax >= 10 ** digits:  # 1978, not 1.98e+03
        return f"{x:.0f}"
    if ax < 10 ** -digits:  # <0.001, not 3.87e-05
        return f"{'-' if x < 0 else ''}<{10 ** -digits:g}"
    return f"{x:.{digits}g}"


def fmt_gbps(x):
    """A bandwidth in GB/s as a plain number: 3 significant digits, no exponent (1,340 · 87.2 · 0.512)."""
    x = finite_or_none(x)
    if x is None:
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def fmt_us(us):
    us = finite_or_none(us)
    if us is None:
        return "–"
    if abs(us) >= 1e6:
        return f"{us / 1e6:.3g} s"
    if abs(us) >= 1e3:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.3g} µs"


def fmt_pct(x, digits=3):
    x = finite_or_none(x)
    if x is None:
        return "–"
    return f"{x:,.0f}%" if abs(x) >= 10 ** digits else f"{x:.{digits}g}%"  # 11,400%, not 1.14e+04%

"""Plotly figures of an Analysis: roofline, time breakdown, achieved TFLOP/s / MFU over time.

Every string that came from the trace is escaped before it reaches hover text or labels: plotly
treats `<...>` in text as markup and silently drops it, which would eat the template arguments of
`kernel<4, float>` (and would let a hostile name inject markup).
"""
import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .tables import KEY_COLUMNS, aggregate, fmt_num, fmt_pct, fmt_us, group_table

CATEGORY_COLORS = {
    "gemm": "#1f77b4", "attention": "#d62728", "conv": "#9467bd", "elementwise": "#2ca02c", "norm": "#ff7f0e",
    "softmax": "#e377c2", "reduction": "#8c564b", "copy": "#7f7f7f", "memset": "#bcbd22", "communication": "#17becf",
    "other": "#aec7e8",
}
EXTRA_COLORS = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1"]
ROOF_COLORS = ["#444444", "#b5651d", "#2e7d32", "#6a1b9a", "#00838f", "#c62828"]
DEFAULT_MAX_POINTS = 1500


def esc(s, limit=300, width=100):
    """Plotly-safe text: truncated to `limit` chars, wrapped every `width` chars, <, > and & escaped."""
    if s is None or (isinstance(s, float) and math.isnan(s)) or s is pd.NA:
        return "–"
    s = str(s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    chunks = [s[i:i + width] for i in range(0, len(s), width)] or [""]
    return "<br>".join(html.escape(c, quote=False) for c in chunks)


def _color(cat, seen):
    if cat in CATEGORY_COLORS:
        return CATEGORY_COLORS[cat]
    if cat not in seen:
        seen[cat] = EXTRA_COLORS[len(seen) % len(EXTRA_COLORS)]
    return seen[cat]


def _plottable(k):
    f = k["flops"].to_numpy(float)
    b = k["bytes"].to_numpy(float)
    d = k["dur_us"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(f) & (f > 0) & np.isfinite(b) & (b > 0) & np.isfinite(d) & (d > 0)


def roofline_points(a, by="auto", max_points=DEFAULT_MAX_POINTS):
    """(points DataFrame, info dict) for the roofline: one row per kernel or per work-key group."""
    k = a.kernels
    ok = _plottable(k)
    kp = k[ok]
    total = len(k)
    if by == "auto":
        by = "kernel" if len(kp) <= max_points else "group"
    if by == "kernel":
        pts = pd.DataFrame({
            "label": kp["name"].to_numpy(object), "op": kp["op"].to_numpy(object),
            "input_dims": kp["input_dims"].to_numpy(object), "dtype": kp["dtype"].to_numpy(object),
            "category": kp["category"].astype(object).where(kp["category"].notna(), "other").to_numpy(object),
            "kernels": 1, "time_us": kp["dur_us"].to_numpy(float), "achieved_tflops": kp["achieved_tflops"].to_numpy(float),
            "intensity": kp["intensity"].to_numpy(float), "pct_of_ceiling": kp["pct_of_ceiling"].to_numpy(float),
            "peak_tflops": kp["peak_tflops"].to_numpy(float), "peak_tbps": kp["peak_tbps"].to_numpy(float),
            "tensor_core": kp["tensor_core"].fillna(False).to_numpy(bool) if "tensor_core" in kp else False,
        })
    elif by == "group":
        g = group_table(kp)
        pts = g.rename(columns={"top_name": "label"})
        pts["op"] = pts["op"].where(pts["op"] != "", None)
    else:
        raise ValueError(f"roofline_figure: by must be 'kernel', 'group' or 'auto', not {by!r}")
    pts = pts.sort_values("time_us", ascending=False, kind="stable").reset_index(drop=True)
    shown_time = float(pts["time_us"].sum())
    dropped = 0
    if len(pts) > max_points:
        dropped = len(pts) - max_points
        pts = pts.head(max_points)
    info = {"by": by, "kernels_total": total, "kernels_plotted": int(ok.sum()), "points": len(pts), "points_dropped": dropped,
            "time_plotted_us": shown_time, "time_total_us": float(np.nansum(k["dur_us"].to_numpy(float)))}
    return pts, info


def roofs_for(a, pts):
    """[(label, peak TFLOP/s, bandwidth TB/s)] for each distinct roof the plotted work runs against."""
    roofs = []
    if len(pts) and pts["peak_tflops"].notna().any():
        p = pts[pts["peak_tflops"].notna()]
        tc = p["tensor_core"] if "tensor_core" in p else pd.Series(False, index=p.index)
        labels = [math_mode(d, t) for d, t in zip(p["dtype"], tc)]
        combos = p.assign(_l=labels).groupby(["peak_tflops", "peak_tbps"], dropna=False)["_l"].agg(
            lambda s: " / ".join(sorted(set(s))))
        for (pk, bw), lab in combos.items():
            roofs.append((lab, float(pk), float(bw) if np.isfinite(bw) else None))
    else:
        dev = (a.summary or {}).get("device") or {}
        peaks = dev.get("peak_tflops") or {}
        bw = dev.get("peak_tbps")
        used = {d for d in pts["dtype"].dropna().unique()} if len(pts) else set()
        for dt in sorted(used):
            if dt in peaks and peaks[dt]:
                roofs.append((dt, float(peaks[dt]), float(bw) if bw else None))
    return sorted(roofs, key=lambda r: -r[1])


def measured_roofs(a, pts):
    """[(label, TFLOP/s, TB/s)] of the device file's measured ceilings (`max_achievable`) for the math modes the
    plotted work runs in; [] without a device file that gives them."""
    dev = (a.summary or {}).get("device") or {}
    ach = dev.get("max_achievable") or {}
    if not ach or not len(pts):
        return []
    bw = ach.get("tbps", dev.get("peak_tbps"))
    tc = pts["tensor_core"] if "tensor_core" in pts else pd.Series(False, index=pts.index)
    roofs = {}
    for d, t in set(zip(pts["dtype"], tc)):
        key = d if t else ("fp64" if d == "fp64" else "fp32")
        if isinstance(key, str) and ach.get(key):
            roofs[math_mode(d, t)] = (float(ach[key]), float(bw) if bw else None)
    return sorted(((lab, pk, b) for lab, (pk, b) in roofs.items()), key=lambda r: -r[1])


def math_mode(dtype, tensor_core):
    """The units a kernel's peak is for: `bf16 tensor cores`, or the vector FP32 (FP64) units that run every
    non-tensor-core kernel whatever its dtype (catalog.peak_for), so bool and int64 kernels share one roof."""
    d = dtype if isinstance(dtype, str) and dtype else "?"
    if tensor_core:
        return f"{d} tensor cores"
    return "fp64 vector units" if d == "fp64" else "fp32 vector units"


PLAIN_LOG = {"type": "log", "dtick": 1, "tickformat": "~g", "exponentformat": "none"}  # 0.001 · 1 · 1000, not 1µ/1k


def _point_hover(pts):
    custom = []
    for r in pts.itertuples(index=False):
        custom.append([
            esc(r.label), esc(r.op, 150), esc(r.input_dims, 200), esc(r.dtype, 20), fmt_us(r.time_us),
            fmt_num(r.achieved_tflops), fmt_pct(r.pct_of_ceiling), int(r.kernels), fmt_num(r.intensity),
        ])
    return custom


HOVER = ("%{customdata[0]}<br>op: %{customdata[1]}<br>shapes: %{customdata[2]}<br>dtype: %{customdata[3]}"
         "<br>GPU time: %{customdata[4]} (%{customdata[7]} kernel(s))<br>achieved: %{customdata[5]} TFLOP/s"
         "<br>intensity: %{customdata[8]} FLOP/byte<br>%{customdata[6]} of ceiling<extra></extra>")


def _marker_sizes(t, tmax):
    return (6 + 28 * np.sqrt(np.clip(np.asarray(t, float), 0, None) / tmax)) if tmax > 0 else np.full(len(t), 8.0)


def add_roofs(fig, roofs, xlo, xhi, dash="dash", suffix="", row=None, col=None, colors=ROOF_COLORS):
    for i, (label, pk, bw) in enumerate(roofs):
        color = colors[i % len(colors)]
        if bw:
            ridge = pk / bw
            xs = [x for x in (xlo, ridge, xhi) if xlo <= x <= xhi]
            if ridge < xlo:
                xs = [xlo, xhi]
            ys = [min(pk, x * bw) for x in xs]
            name = f"{label}: {pk:g} TFLOP/s, {bw:g} TB/s{suffix}"
        else:
            xs, ys = [xlo, xhi], [pk, pk]
            name = f"{label}: {pk:g} TFLOP/s (no bandwidth known){suffix}"
        kw = {"row": row, "col": col} if row else {}
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=esc(name), line={"color": color, "dash": dash, "width": 2},
                                 hovertemplate=esc(name) + "<extra></extra>", legendgroup="roofs"), **kw)


def x_range(values, roofs):
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], float)
    lo, hi = (v.min(), v.max()) if len(v) else (0.1, 100.0)
    for _, pk, bw in roofs:
        if bw:
            hi = max(hi, pk / bw)
            lo = min(lo, pk / bw)
    return lo / 3, hi * 3


def roofline_figure(a, by="auto", max_points=DEFAULT_MAX_POINTS, title=None, height=560):
    """Interactive log-log roofline: one point per kernel (or per op+shapes+dtype+category group when
    there are more than `max_points` kernels, or by='group'), size ∝ √GPU time, color = category, with
    the compute and memory roofs of each dtype in use."""
    pts, info = roofline_points(a, by=by, max_points=max_points)
    roofs = roofs_for(a, pts)
    measured = measured_roofs(a, pts)
    fig = _figure()
    xlo, xhi = x_range(pts["intensity"].to_numpy(float) if len(pts) else [], roofs + measured)
    add_roofs(fig, roofs, xlo, xhi)
    add_roofs(fig, measured, xlo, xhi, dash="dot", suffix=" (measured, --device-file)")
    tmax = float(pts["time_us"].max()) if len(pts) else 0.0
    seen = {}
    for cat, g in pts.groupby("category", sort=True):
        fig.add_trace(go.Scatter(
            x=g["intensity"], y=g["achieved_tflops"], mode="markers", name=esc(cat, 40),
            marker={"size": _marker_sizes(g["time_us"], tmax), "color": _color(cat, seen), "opacity": 0.75,
                    "line": {"width": 0.5, "color": "#222"}},
            customdata=_point_hover(g), hovertemplate=HOVER))
    unit = "kernel" if info["by"] == "kernel" else "op+shapes+dtype+category group"
    sub = (f"{info['points']} points, one per {unit}; {info['kernels_plotted']} of {info['kernels_total']} GPU events have "
           f"FLOPs and bytes ({fmt_pct(100 * info['time_plotted_us'] / info['time_total_us'] if info['time_total_us'] else float('nan'))} of GPU time)")
    if info["points_dropped"]:
        sub += f"; {info['points_dropped']} smallest points left out"
    head = title if title is not None else "Roofline"
    fig.update_layout(
        title={"text": f"{head}<br><sup>{sub}</sup>", "x": 0, "xref": "paper", "xanchor": "left"}, height=height,
        xaxis={**PLAIN_LOG, "title": "arithmetic intensity (FLOP/byte)", "range": [math.log10(xlo), math.log10(xhi)]},
        yaxis={**PLAIN_LOG, "title": "achieved TFLOP/s"},
        legend={"font": {"size": 11}, "orientation": "h", "x": 0, "y": -0.16, "yanchor": "top"},
        hoverlabel={"align": "left"}, margin={"t": 90, "r": 20})
    if not len(pts):
        fig.add_annotation(text="no kernel has both FLOPs and bytes: nothing to place on the roofline",
                           xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    fig._traceflops_info = info  # noqa: SLF001 (read by the report for its caption)
    return fig


def _figure(*data):
    """A figure on the plotly_white template, set when it is built: setting it later builds it twice, and the
    template's validation was a third of the report's time."""
    return go.Figure(list(data), layout={"template": "plotly_white"})


def _module_key(col, depth):
    def cut(m):
        if not isinstance(m, str) or not m:
            return "(no module)"
        parts = m.split(".")
        return ".".join(parts[:depth]) if depth else m
    codes, uniques = pd.factorize(col, use_na_sentinel=True)  # a few hundred module paths over many kernels
    cuts = np.array([cut(m) for m in uniques] + [cut(None)], dtype=object)
    return pd.Series(cuts[codes], index=col.index, dtype=object)


def breakdown_table(a, by="category", top=20, depth=3):
    k = a.kernels
    if by == "category":
        key = k["category"].astype(object).where(k["category"].notna(), "other")
    elif by == "op":
        replayed = (k["link"] == "graph").to_numpy(bool) if "link" in k else False
        key = k["op"].astype(object).where(k["op"].notna(), np.where(replayed, "(graph replay, no shapes)", "(no op)"))
    elif by == "module":
        key = _module_key(k["module"].astype(object), depth)
    elif by == "dtype":
        key = k["dtype"].astype(object).where(k["dtype"].notna(), "(unknown)")
    elif by == "kernel":
        key = k["name"].astype(object)
    else:
        raise ValueError(f"breakdown_figure: by must be category, op, module, dtype or kernel, not {by!r}")
    used = [c for c in ("name", "dur_us", "flops", "bytes", "time_at_ceiling_us", "time_lost_us", "peak_tflops",
                        "peak_tbps", "tensor_core") if c in k]  # what aggregate reads: no copy of the wide table
    t = aggregate(k[used].assign(_key=key.to_numpy(object)), ["_key"]).rename(columns={"_key": by})
    total = float(t["time_us"].sum())
    t["share"] = t["time_us"] / total if total > 0 else np.nan
    if top and len(t) > top:
        rest = t.iloc[top:]
        other = {by: f"(other {len(rest)})", "kernels": int(rest["kernels"].sum()), "time_us": float(rest["time_us"].sum()),
                 "flops": float(rest["flops"].sum()), "share": float(rest["share"].sum())}
        other["achieved_tflops"] = other["flops"] / other["time_us"] / 1e6 if other["time_us"] > 0 else np.nan
        t = pd.concat([t.iloc[:top], pd.DataFrame([other])], ignore_index=True)
    return t


def breakdown_figure(a, by="category", top=20, depth=3, height=None):
    """Horizontal bars of GPU time by category, op, module (first `depth` levels), dtype or kernel name."""
    t = breakdown_table(a, by=by, top=top, depth=depth)
    labels = [esc(x, 70, 70) for x in t[by]]
    custom = [[esc(x), fmt_us(r.time_us), fmt_pct(100 * r.share) if np.isfinite(r.share) else "–", int(r.kernels),
               fmt_num(r.achieved_tflops), fmt_pct(getattr(r, "pct_of_ceiling", float("nan")))]
              for x, r in zip(t[by], t.itertuples(index=False))]
    fig = _figure(go.Bar(
        y=labels, x=t["time_us"] / 1e3, orientation="h", marker={"color": "#1f77b4"},
        text=[fmt_pct(100 * s) for s in t["share"]], textposition="auto", customdata=custom,
        hovertemplate=("%{customdata[0]}<br>GPU time: %{customdata[1]} (%{customdata[2]})<br>%{customdata[3]} kernel(s)"
                       "<br>achieved: %{customdata[4]} TFLOP/s<br>%{customdata[5]} of ceiling<extra></extra>")))
    fig.update_layout(
        title={"text": f"GPU time by {by}", "x": 0, "xref": "paper", "xanchor": "left"},
        height=height or max(260, 60 + 26 * len(t)), xaxis={"title": "GPU time (ms, summed over kernels)"},
        yaxis={"autorange": "reversed", "automargin": True}, margin={"l": 10, "t": 60}, hoverlabel={"align": "left"})
    return fig


MFU_TICKS = {"tickmode": "auto", "tickformat": ".2~r", "ticksuffix": "%", "nticks": 6, "showgrid": False}  # 0.4%, not 0.392


def timeline_figure(a, height=None):
    """Achieved TFLOP/s and MFU over time windows (tables['timeline']) and per profiler step (tables['steps'])."""
    tl = (a.tables or {}).get("timeline")
    st = (a.tables or {}).get("steps")
    has_tl = tl is not None and len(tl) > 0
    has_st = st is not None and len(st) > 0
    rows = (1 if has_tl else 0) + (1 if has_st else 0)
    if rows == 0:
        fig = _figure()
        fig.add_annotation(text="no timeline: the trace has no timed GPU activity", xref="paper", yref="paper",
                           x=0.5, y=0.5, showarrow=False)
        fig.update_layout(height=height or 240, title={"text": "Achieved TFLOP/s over time"})
        return fig
    titles = []
    if has_tl:
        titles.append("over time (equal windows from first to last kernel)")
    if has_st:
        titles.append("per profiler step")
    fig = make_subplots(rows=rows, cols=1, subplot_titles=titles, vertical_spacing=0.18,
                        specs=[[{"secondary_y": True}] for _ in range(rows)], figure=_figure())
    r = 1
    if has_tl:
        t0 = float(tl["start_us"].min())
        width = (tl["end_us"] - tl["start_us"]).to_numpy(float)
        mid = ((tl["start_us"] + tl["end_us"]) / 2 - t0).to_numpy(float) / 1e3
        with np.errstate(divide="ignore", invalid="ignore"):
            tflops = np.where(width > 0, tl["flops"].to_numpy(float) / width / 1e6, np.nan)
        mfu = tl["mfu"].astype(float).to_numpy() * 100 if "mfu" in tl else np.full(len(tl), np.nan)
        busy = tl["gpu_busy_us"].to_numpy(float) / np.where(width > 0, width, np.nan) * 100
        fig.add_trace(go.Bar(x=mid, y=tflops, width=width / 1e3 * 0.95, name="achieved TFLOP/s (window)",
                             marker={"color": "#1f77b4"},
                             customdata=np.stack([busy, mfu], axis=1),
                             hovertemplate="t=%{x:.3f} ms<br>%{y:.4g} TFLOP/s<br>GPU busy %{customdata[0]:.3g}%"
                                           "<br>MFU %{customdata[1]:.3g}%<extra></extra>"), row=r, col=1, secondary_y=False)
        fig.add_trace(go.Scatter(x=mid, y=mfu, mode="lines+markers", name="MFU % (window)", line={"color": "#d62728"},
                                 hovertemplate="t=%{x:.3f} ms<br>MFU %{y:.3g}%<extra></extra>"), row=r, col=1, secondary_y=True)
        fig.update_xaxes(title_text="time since first kernel (ms)", row=r, col=1)
        fig.update_yaxes(title_text="TFLOP/s", row=r, col=1, secondary_y=False, tickformat="~g")
        fig.update_yaxes(title_text="MFU", row=r, col=1, secondary_y=True, rangemode="tozero", **MFU_TICKS)
        r += 1
    if has_st:
        steps = [f"step {int(s)}" for s in st["step"]]
        fig.add_trace(go.Bar(x=steps, y=st["achieved_tflops"].astype(float), name="achieved TFLOP/s (step)",
                             marker={"color": "#2ca02c"}, hovertemplate="%{x}<br>%{y:.4g} TFLOP/s<extra></extra>"),
                      row=r, col=1, secondary_y=False)
        fig.add_trace(go.Scatter(x=steps, y=st["mfu"].astype(float) * 100, mode="lines+markers", name="MFU % (step)",
                                 line={"color": "#9467bd"}, hovertemplate="%{x}<br>MFU %{y:.3g}%<extra></extra>"),
                      row=r, col=1, secondary_y=True)
        if "busy_mfu" in st:
            fig.add_trace(go.Scatter(x=steps, y=st["busy_mfu"].astype(float) * 100, mode="lines+markers",
                                     name="busy MFU % (step)", line={"color": "#ff7f0e", "dash": "dot"},
                                     hovertemplate="%{x}<br>busy MFU %{y:.3g}%<extra></extra>"), row=r, col=1, secondary_y=True)
        fig.update_yaxes(title_text="TFLOP/s", row=r, col=1, secondary_y=False, tickformat="~g")
        fig.update_yaxes(title_text="MFU", row=r, col=1, secondary_y=True, rangemode="tozero", **MFU_TICKS)
    fig.update_layout(title={"text": "Achieved TFLOP/s and MFU", "x": 0, "xref": "paper", "xanchor": "left"},
                      legend={"orientation": "h", "x": 0, "y": 0, "yanchor": "bottom", "yref": "container"},
                      height=height or 330 * rows + 40, bargap=0.05, margin={"t": 80, "b": 90})
    return fig


def waterfall_figure(a):
    """Plotly waterfall of summary['breakdown']['waterfall'] of an Analysis."""
    stages = (a.summary.get("breakdown") or {}).get("waterfall") or []
    fig = go.Figure(go.Waterfall(
        x=[s["stage"] for s in stages], y=[100 * s["value"] for s in stages],
        measure=["absolute" if i == 0 else ("total" if s["kind"] == "total" else "relative") for i, s in enumerate(stages)],
        text=[f"{100 * s['value']:.1f}%" for s in stages], textposition="outside"))
    fig.update_layout(title=f"MFU waterfall — {a.name}", yaxis_title="% of peak", showlegend=False)
    return fig


__all__ = ["roofline_figure", "breakdown_figure", "timeline_figure", "waterfall_figure", "roofs_for", "x_range", "add_roofs", "roofline_points", "breakdown_table", "esc",
           "KEY_COLUMNS"]

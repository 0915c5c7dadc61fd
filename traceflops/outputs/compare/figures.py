"""compare's figures: matched work on one roofline (base → new), GPU time by category, a static PNG."""
import math
from pathlib import Path

import numpy as np

from ..report.tables import fmt_num, fmt_pct, fmt_us, group_table


def roofline_shift_figure(res, max_pairs=300):
    """Matched work on one roofline: base (hollow) → new (filled), joined by a line; both devices' roofs."""
    import plotly.graph_objects as go

    from ..report.plots import PLAIN_LOG, add_roofs, esc, roofs_for, x_range
    r = res.rows[(res.rows["status"] == "matched")].copy()
    for c in ("intensity_base", "intensity_new", "tflops_base", "tflops_new"):
        r[c] = r[c].astype(float)
    ok = (r["intensity_base"] > 0) & (r["intensity_new"] > 0) & (r["tflops_base"] > 0) & (r["tflops_new"] > 0)
    r = r[ok]
    r = r.assign(_t=np.maximum(r["time_base_us"], r["time_new_us"])).sort_values("_t", ascending=False).head(max_pairs)
    gb, gn = group_table(res.base.kernels), group_table(res.new.kernels)
    roofs_b = roofs_for(res.base, gb[gb["flops"] > 0])
    roofs_n = roofs_for(res.new, gn[gn["flops"] > 0])
    xs = list(r["intensity_base"]) + list(r["intensity_new"])
    xlo, xhi = x_range(xs, roofs_b + roofs_n)
    fig = go.Figure()
    add_roofs(fig, roofs_b, xlo, xhi, dash="dash", suffix=f" (base: {res.summary['base']['device'] or '?'})")
    add_roofs(fig, roofs_n, xlo, xhi, dash="dot", suffix=f" (new: {res.summary['new']['device'] or '?'})",
              colors=["#1565c0", "#00897b", "#ef6c00", "#ad1457"])
    lx, ly = [], []
    for a in r.itertuples(index=False):
        lx += [a.intensity_base, a.intensity_new, None]
        ly += [a.tflops_base, a.tflops_new, None]
    fig.add_trace(go.Scatter(x=lx, y=ly, mode="lines", line={"color": "#999", "width": 1}, hoverinfo="skip",
                             showlegend=False))
    tmax = float(r["_t"].max()) if len(r) else 0.0
    size = lambda t: 6 + 24 * np.sqrt(np.asarray(t, float) / tmax) if tmax > 0 else 8  # noqa: E731
    custom = [[esc(a.label, 300), fmt_us(a.time_base_us), fmt_us(a.time_new_us), fmt_pct(a.delta_pct),
               fmt_num(a.tflops_base), fmt_num(a.tflops_new), fmt_pct(a.pct_ceiling_base), fmt_pct(a.pct_ceiling_new)]
              for a in r.itertuples(index=False)]
    hover = ("%{customdata[0]}<br>time %{customdata[1]} → %{customdata[2]} (%{customdata[3]})"
             "<br>TFLOP/s %{customdata[4]} → %{customdata[5]}<br>of ceiling %{customdata[6]} → %{customdata[7]}<extra></extra>")
    fig.add_trace(go.Scatter(x=r["intensity_base"], y=r["tflops_base"], mode="markers", name=f"base: {esc(res.base.name, 60)}",
                             marker={"size": size(r["time_base_us"]), "color": "rgba(0,0,0,0)", "line": {"color": "#555", "width": 1.5}},
                             customdata=custom, hovertemplate=hover))
    faster = (r["delta_us"] <= 0).to_numpy()
    fig.add_trace(go.Scatter(x=r["intensity_new"], y=r["tflops_new"], mode="markers", name=f"new: {esc(res.new.name, 60)}",
                             marker={"size": size(r["time_new_us"]), "color": np.where(faster, "#2e7d32", "#c62828"),
                                     "opacity": 0.8, "line": {"color": "#222", "width": 0.5}},
                             customdata=custom, hovertemplate=hover))
    fig.update_layout(
        title={"text": "Roofline shift of matched work"
                       f"<br><sup>{len(r)} matched groups with FLOPs and bytes; hollow = base, filled = new "
                       "(green faster, red slower)</sup>", "x": 0, "xref": "paper", "xanchor": "left"},
        template="plotly_white", height=560, hoverlabel={"align": "left"},
        xaxis={**PLAIN_LOG, "title": "arithmetic intensity (FLOP/byte)", "range": [math.log10(xlo), math.log10(xhi)]},
        yaxis={**PLAIN_LOG, "title": "achieved TFLOP/s"},
        legend={"font": {"size": 11}, "orientation": "h", "x": 0, "y": -0.16, "yanchor": "top"},
        margin={"t": 90, "r": 20})
    return fig


def category_figure(res):
    import plotly.graph_objects as go

    from ..report.plots import esc
    r = res.rows.groupby("category")[["time_base_us", "time_new_us"]].sum().sort_values("time_base_us", ascending=False)
    fig = go.Figure([
        go.Bar(name=f"base: {esc(res.base.name, 60)}", x=[esc(c) for c in r.index], y=r["time_base_us"] / 1e3),
        go.Bar(name=f"new: {esc(res.new.name, 60)}", x=[esc(c) for c in r.index], y=r["time_new_us"] / 1e3)])
    fig.update_layout(barmode="group", template="plotly_white", height=400, yaxis={"title": "GPU time (ms)"},
                      title={"text": "GPU time by category", "x": 0, "xref": "paper", "xanchor": "left"},
                      legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"})
    return fig


IMAGE_HELP = {  # why there is no roofline_shift.png, in words a PR comment can show (never an exception's text)
    "no-kaleido": "the static export needs kaleido: `pip install 'traceflops[report-image]'`; compare.html "
                  "(`--format html`) has the same figure",
    "no-chrome": "kaleido needs a Chromium it can start: install one (`plotly_get_chrome`, or the chromium package of "
                 "your OS) and run again; compare.html (`--format html`) has the same figure",
    "failed": "the static export did not produce an image; compare.html (`--format html`) has the same figure",
    "stdout": "not written when the markdown goes to stdout; pass `-o DIR` to get roofline_shift.png beside it",
}


def write_static_image(fig, path):
    """(path, None) when plotly+kaleido rendered `fig` to `path`, else (None, a key of IMAGE_HELP). Never fakes an
    image."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return None, "no-kaleido"
    try:
        fig.write_image(str(path), width=1100, height=560, scale=1)
    except Exception as ex:  # no Chrome, or a render failure: say so in words, draw nothing
        text = f"{type(ex).__name__} {ex}".lower()
        return None, "no-chrome" if any(w in text for w in ("chrome", "chromium", "browser")) else "failed"
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return None, "failed"
    return p, None

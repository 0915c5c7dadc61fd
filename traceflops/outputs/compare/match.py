"""compare: match the work of two analyses and say what got faster, slower, appeared or vanished.

Work is matched by a stable key — the launching op, its input shapes, the dtype and the kernel category
(see traceflops.report.tables.work_keys) — never by mangled kernel names, which change across library
versions and vendors.  Kernels without an op fall back to category + normalized kernel name.

The regression gate (`CompareResult.regressed(pct)`, CLI `--fail-on-regression PCT`) looks at the total
GPU time of *matched* work only: new or missing work is reported but does not trip it.
"""
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .numbers import finite_or_none
from .report.tables import KEY_COLUMNS, fmt_num, fmt_pct, fmt_us, group_table, key_label

ROW_COLUMNS = KEY_COLUMNS + [
    "label", "status", "kernels_base", "kernels_new", "time_base_us", "time_new_us", "delta_us", "delta_pct",
    "tflops_base", "tflops_new", "delta_tflops", "pct_ceiling_base", "pct_ceiling_new", "delta_pct_ceiling",
    "intensity_base", "intensity_new", "flops_base", "flops_new", "top_name_base", "top_name_new",
]


@dataclass
class CompareResult:
    base: object  # Analysis
    new: object  # Analysis
    rows: pd.DataFrame  # one row per work key, sorted by |delta_us|
    summary: dict = field(default_factory=dict)

    def regressed(self, pct):
        """True when the GPU time of matched work grew by more than `pct` percent."""
        d = self.summary.get("matched_delta_pct")
        return d is not None and math.isfinite(d) and d > float(pct)

    def roofline_shift_figure(self, max_pairs=300):
        return roofline_shift_figure(self, max_pairs=max_pairs)

    def to_markdown(self, image=None, image_note=None, top=15, fail_on_regression=None):
        return to_markdown(self, image=image, image_note=image_note, top=top, fail_on_regression=fail_on_regression)

    def to_json(self):
        return to_json(self)

    def write_html(self, path, **kw):
        return write_compare_html(self, path, **kw)


def _side(a):
    g = group_table(a.kernels)
    return g.rename(columns={"kernels": "kernels", "time_us": "time", "achieved_tflops": "tflops",
                             "pct_of_ceiling": "pct_ceiling", "top_name": "top_name"})


def compare(a_base, a_new):
    """CompareResult of two Analysis objects (base → new)."""
    b, n = _side(a_base), _side(a_new)
    keep = ["kernels", "time", "tflops", "pct_ceiling", "intensity", "flops", "top_name", "time_lost_us"]
    m = b[KEY_COLUMNS + keep].merge(n[KEY_COLUMNS + keep], on=KEY_COLUMNS, how="outer", suffixes=("_base", "_new"),
                                    indicator=True)
    status = m["_merge"].astype(str).map({"both": "matched", "left_only": "missing", "right_only": "new"})
    rows = pd.DataFrame({c: m[c] for c in KEY_COLUMNS})
    rows["label"] = [key_label(*x) for x in zip(m["op"], m["input_dims"], m["dtype"], m["category"])]
    rows["status"] = status.to_numpy(object)
    for c in ("kernels", "time", "tflops", "pct_ceiling", "intensity", "flops", "top_name"):
        for s in ("base", "new"):
            src = f"{c}_{s}"
            dst = {"time": f"time_{s}_us", "tflops": f"tflops_{s}", "pct_ceiling": f"pct_ceiling_{s}"}.get(c, f"{c}_{s}")
            rows[dst] = m[src].to_numpy()
    for s in ("base", "new"):
        rows[f"kernels_{s}"] = rows[f"kernels_{s}"].fillna(0).astype(int)
        rows[f"time_{s}_us"] = rows[f"time_{s}_us"].astype(float).fillna(0.0)
    rows["delta_us"] = rows["time_new_us"] - rows["time_base_us"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["delta_pct"] = np.where(rows["time_base_us"] > 0, rows["delta_us"] / rows["time_base_us"] * 100, np.nan)
    rows["delta_tflops"] = rows["tflops_new"].astype(float) - rows["tflops_base"].astype(float)
    rows["delta_pct_ceiling"] = rows["pct_ceiling_new"].astype(float) - rows["pct_ceiling_base"].astype(float)
    rows.loc[rows["status"] != "matched", ["delta_pct", "delta_tflops", "delta_pct_ceiling"]] = np.nan
    order = rows["delta_us"].abs().sort_values(ascending=False, kind="stable").index
    rows = rows.loc[order, ROW_COLUMNS].reset_index(drop=True)
    return CompareResult(a_base, a_new, rows, _summary(a_base, a_new, rows))


def _summary(a_base, a_new, rows):
    matched = rows["status"] == "matched"
    tb, tn = float(rows["time_base_us"].sum()), float(rows["time_new_us"].sum())
    mb, mn = float(rows.loc[matched, "time_base_us"].sum()), float(rows.loc[matched, "time_new_us"].sum())
    fb = float(np.nansum(rows.loc[matched, "flops_base"].astype(float)))
    fn = float(np.nansum(rows.loc[matched, "flops_new"].astype(float)))

    def pooled_pct(side):
        t = rows.loc[matched, f"time_{side}_us"].to_numpy(float)
        p = rows.loc[matched, f"pct_ceiling_{side}"].to_numpy(float)
        ok = np.isfinite(p) & (t > 0)
        return float(np.sum(p[ok] * t[ok]) / np.sum(t[ok])) if ok.any() else None

    def side(a, total, mt, flops):
        s = a.summary or {}
        return {"name": a.name, "device": (s.get("device") or {}).get("name"), "gpu_time_us": total,
                "gpu_busy_us": finite_or_none((s.get("totals") or {}).get("gpu_busy_us")), "matched_time_us": mt,
                "matched_share": mt / total if total > 0 else None,
                "matched_tflops": flops / mt / 1e6 if mt > 0 else None,
                "busy_mfu": finite_or_none((s.get("mfu") or {}).get("busy_mfu")), "mfu": finite_or_none((s.get("mfu") or {}).get("mfu"))}

    out = {
        "key": "op + input_dims + dtype + category (category + normalized kernel name when no op)",
        "base": side(a_base, tb, mb, fb), "new": side(a_new, tn, mn, fn),
        "keys": {"matched": int(matched.sum()), "new": int((rows["status"] == "new").sum()),
                 "missing": int((rows["status"] == "missing").sum())},
        "matched_delta_us": mn - mb,
        "matched_delta_pct": (mn - mb) / mb * 100 if mb > 0 else None,
        "total_delta_pct": (tn - tb) / tb * 100 if tb > 0 else None,
        "new_work_us": float(rows.loc[rows["status"] == "new", "time_new_us"].sum()),
        "missing_work_us": float(rows.loc[rows["status"] == "missing", "time_base_us"].sum()),
        "roofline_shift": {"pct_of_ceiling_base": pooled_pct("base"), "pct_of_ceiling_new": pooled_pct("new"),
                           "matched_tflops_base": fb / mb / 1e6 if mb > 0 else None,
                           "matched_tflops_new": fn / mn / 1e6 if mn > 0 else None},
    }
    return out


# ---------------------------------------------------------------- figures

def roofline_shift_figure(res, max_pairs=300):
    """Matched work on one roofline: base (hollow) → new (filled), joined by a line; both devices' roofs."""
    import plotly.graph_objects as go

    from .report.plots import _roofs, _xrange, add_roofs, esc
    r = res.rows[(res.rows["status"] == "matched")].copy()
    for c in ("intensity_base", "intensity_new", "tflops_base", "tflops_new"):
        r[c] = r[c].astype(float)
    ok = (r["intensity_base"] > 0) & (r["intensity_new"] > 0) & (r["tflops_base"] > 0) & (r["tflops_new"] > 0)
    r = r[ok]
    r = r.assign(_t=np.maximum(r["time_base_us"], r["time_new_us"])).sort_values("_t", ascending=False).head(max_pairs)
    gb, gn = group_table(res.base.kernels), group_table(res.new.kernels)
    roofs_b = _roofs(res.base, gb[gb["flops"] > 0])
    roofs_n = _roofs(res.new, gn[gn["flops"] > 0])
    xs = list(r["intensity_base"]) + list(r["intensity_new"])
    xlo, xhi = _xrange(xs, roofs_b + roofs_n)
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
        title={"text": f"Roofline shift of matched work — {esc(res.base.name, 60)} → {esc(res.new.name, 60)}"
                       f"<br><sup>{len(r)} matched groups with FLOPs and bytes; hollow = base, filled = new "
                       "(green faster, red slower)</sup>"},
        template="plotly_white", height=560, hoverlabel={"align": "left"},
        xaxis={"type": "log", "title": "arithmetic intensity (FLOP/byte)", "range": [math.log10(xlo), math.log10(xhi)]},
        yaxis={"type": "log", "title": "achieved TFLOP/s"}, legend={"font": {"size": 11}}, margin={"t": 90})
    return fig


def category_figure(res):
    import plotly.graph_objects as go

    from .report.plots import esc
    r = res.rows.groupby("category")[["time_base_us", "time_new_us"]].sum().sort_values("time_base_us", ascending=False)
    fig = go.Figure([
        go.Bar(name=f"base: {esc(res.base.name, 60)}", x=[esc(c) for c in r.index], y=r["time_base_us"] / 1e3),
        go.Bar(name=f"new: {esc(res.new.name, 60)}", x=[esc(c) for c in r.index], y=r["time_new_us"] / 1e3)])
    fig.update_layout(barmode="group", template="plotly_white", height=380, yaxis={"title": "GPU time (ms)"},
                      title={"text": "GPU time by category"})
    return fig


def write_static_image(fig, path):
    """(path, None) when plotly+kaleido rendered `fig` to `path`, else (None, reason). Never fakes an image."""
    try:
        fig.write_image(str(path), width=1100, height=560, scale=1)
    except Exception as ex:  # kaleido missing, no Chrome, or a render failure: say so, draw nothing
        return None, f"{type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}"
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return None, "image export produced no file"
    return p, None


# ---------------------------------------------------------------- markdown / json / html

_MD = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\\|`*_[]~#!"})


def _one_line(s, limit):
    """None for a missing value, else the text on one line, cut to `limit` characters."""
    if s is None or (isinstance(s, float) and math.isnan(s)) or s is pd.NA:
        return None
    s = " ".join(str(s).split())
    return s[: limit - 1] + "…" if len(s) > limit else s


def md(s, limit=120):
    """Text safe in a GitHub markdown table cell: HTML-escaped and markdown punctuation as entities."""
    s = _one_line(s, limit)
    return "–" if s is None else s.translate(_MD)


def code(s, limit=120):
    """A markdown code span (shown literally by GitHub) that is safe in a table cell."""
    s = _one_line(s, limit)
    if s is None:
        return "–"
    s = s.replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    return f"{fence} {s} {fence}" if fence == "``" else f"`{s}`"


def _signed_pct(x):
    x = finite_or_none(x)
    return "–" if x is None else f"{x:+.1f}%"


def _signed_us(x):
    x = finite_or_none(x)
    return "–" if x is None else ("+" if x > 0 else "") + fmt_us(x)


def to_markdown(res, image=None, image_note=None, top=15, fail_on_regression=None):
    s = res.summary
    b, n = s["base"], s["new"]
    out = [f"### traceflops compare: {code(b['name'])} → {code(n['name'])}", ""]
    out.append(f"Work matched by {s['key']}.")
    out.append("")
    out += ["| | base | new | Δ |", "|---|---:|---:|---:|",
            f"| device | {md(b['device'])} | {md(n['device'])} | |",
            f"| GPU time, matched work | {fmt_us(b['matched_time_us'])} | {fmt_us(n['matched_time_us'])} | {_signed_pct(s['matched_delta_pct'])} |",
            f"| GPU time, all work | {fmt_us(b['gpu_time_us'])} | {fmt_us(n['gpu_time_us'])} | {_signed_pct(s['total_delta_pct'])} |",
            f"| share of GPU time matched | {fmt_pct(100 * (b['matched_share'] or float('nan')))} | {fmt_pct(100 * (n['matched_share'] or float('nan')))} | |",
            f"| TFLOP/s, matched work | {fmt_num(b['matched_tflops'])} | {fmt_num(n['matched_tflops'])} | |",
            f"| % of roofline ceiling, matched work (time-weighted) | {fmt_pct(s['roofline_shift']['pct_of_ceiling_base'])} | {fmt_pct(s['roofline_shift']['pct_of_ceiling_new'])} | |",
            f"| busy MFU | {fmt_pct(100 * b['busy_mfu']) if b['busy_mfu'] is not None else '–'} | {fmt_pct(100 * n['busy_mfu']) if n['busy_mfu'] is not None else '–'} | |",
            f"| work keys matched / new / missing | | | {s['keys']['matched']} / {s['keys']['new']} / {s['keys']['missing']} |",
            ""]
    if fail_on_regression is not None:
        verdict = "**FAIL**" if res.regressed(fail_on_regression) else "pass"
        out += [f"Regression gate: matched GPU time {_signed_pct(s['matched_delta_pct'])} against a limit of "
                f"+{float(fail_on_regression):g}% → {verdict}", ""]
    if image:
        out += [f"![roofline shift of matched work]({Path(image).name})", ""]
    elif image_note:
        out += [f"_Roofline image omitted: {md(image_note, 300)}_", ""]
    m = res.rows[res.rows["status"] == "matched"].head(top)
    out += [f"#### Biggest changes in matched work (top {len(m)} by \\|Δ time\\|)", "",
            "| work | calls base→new | base | new | Δ | Δ% | TFLOP/s base→new | % of ceiling base→new |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in m.itertuples(index=False):
        out.append(f"| {code(r.label)} | {r.kernels_base}→{r.kernels_new} | {fmt_us(r.time_base_us)} | {fmt_us(r.time_new_us)} | "
                   f"{_signed_us(r.delta_us)} | {_signed_pct(r.delta_pct)} | {fmt_num(r.tflops_base)}→{fmt_num(r.tflops_new)} | "
                   f"{fmt_pct(r.pct_ceiling_base)}→{fmt_pct(r.pct_ceiling_new)} |")
    for status, col, title in (("new", "time_new_us", "New work (only in new)"), ("missing", "time_base_us", "Missing work (only in base)")):
        sub = res.rows[res.rows["status"] == status].sort_values(col, ascending=False).head(10)
        if len(sub):
            out += ["", f"#### {title}: {fmt_us(res.rows.loc[res.rows['status'] == status, col].sum())} in "
                        f"{int((res.rows['status'] == status).sum())} key(s)", "", "| work | calls | GPU time | largest kernel |", "|---|---:|---:|---|"]
            kc = "kernels_new" if status == "new" else "kernels_base"
            nc = "top_name_new" if status == "new" else "top_name_base"
            for r in sub.itertuples(index=False):
                out.append(f"| {code(r.label)} | {getattr(r, kc)} | {fmt_us(getattr(r, col))} | {code(getattr(r, nc), 80)} |")
    out.append("")
    return "\n".join(out)


def to_json(res):
    from .outputs import json_safe
    from .redact import redact
    return json.dumps(json_safe(redact({"summary": res.summary, "rows": json.loads(res.rows.to_json(orient="records"))})),
                      indent=2, ensure_ascii=False) + "\n"


def write_compare_html(res, path, top=50, fail_on_regression=None):
    from .report.html import cards, e, figure_block, metadata_view, page, section, short, table
    s = res.summary
    b, n = s["base"], s["new"]
    items = [
        ("matched GPU time Δ", _signed_pct(s["matched_delta_pct"]), f"{fmt_us(b['matched_time_us'])} → {fmt_us(n['matched_time_us'])}"),
        ("all GPU time Δ", _signed_pct(s["total_delta_pct"]), f"{fmt_us(b['gpu_time_us'])} → {fmt_us(n['gpu_time_us'])}"),
        ("matched share (base / new)", f"{fmt_pct(100 * (b['matched_share'] or float('nan')))} / {fmt_pct(100 * (n['matched_share'] or float('nan')))}",
         "share of each side's GPU time whose work key exists on the other side"),
        ("TFLOP/s matched (base → new)", f"{fmt_num(b['matched_tflops'])} → {fmt_num(n['matched_tflops'])}", "ΣFLOPs / Σtime of matched work"),
        ("% of ceiling (base → new)", f"{fmt_pct(s['roofline_shift']['pct_of_ceiling_base'])} → {fmt_pct(s['roofline_shift']['pct_of_ceiling_new'])}",
         "time-weighted over matched work"),
        ("keys matched / new / missing", f"{s['keys']['matched']} / {s['keys']['new']} / {s['keys']['missing']}", s["key"]),
        ("devices", f"{b['device'] or '?'} → {n['device'] or '?'}", ""),
    ]
    gate = ""
    if fail_on_regression is not None:
        bad = res.regressed(fail_on_regression)
        gate = (f'<p class="{"pos" if bad else "neg"}"><b>Regression gate {"FAILED" if bad else "passed"}</b>: matched GPU time '
                f'{e(_signed_pct(s["matched_delta_pct"]))} against a limit of +{float(fail_on_regression):g}%.</p>')
    body = [section("Headline", cards(items) + gate), section("Roofline shift", figure_block("fig-shift", roofline_shift_figure(res), 560))]
    headers = ["work (op · shapes · dtype · category)", "status", "calls base→new", "base", "new", "Δ", "Δ%",
               "TFLOP/s base→new", "% of ceiling base→new", "kernel (base / new)"]

    def rows_of(df):
        return [[short(r.label, 220), r.status, f"{r.kernels_base}→{r.kernels_new}", fmt_us(r.time_base_us), fmt_us(r.time_new_us),
                 _signed_us(r.delta_us), _signed_pct(r.delta_pct), f"{fmt_num(r.tflops_base)}→{fmt_num(r.tflops_new)}",
                 f"{fmt_pct(r.pct_ceiling_base)}→{fmt_pct(r.pct_ceiling_new)}",
                 f"{short(r.top_name_base, 100) if isinstance(r.top_name_base, str) else '–'} / "
                 f"{short(r.top_name_new, 100) if isinstance(r.top_name_new, str) else '–'}"] for r in df.itertuples(index=False)]
    body.append(section(f"Biggest changes (top {top} by |Δ time|)",
                        table(headers, rows_of(res.rows.head(top)), numeric=range(2, 9), mono=(0, 9))))
    for status, title in (("new", "New work (only in new)"), ("missing", "Missing work (only in base)")):
        sub = res.rows[res.rows["status"] == status]
        if len(sub):
            body.append(section(f"{title}: {len(sub)} key(s)", table(headers, rows_of(sub.head(top)), numeric=range(2, 9), mono=(0, 9))))
    body.append(section("GPU time by category", figure_block("fig-cat", category_figure(res))))
    meta = {"base": metadata_view(res.base), "new": metadata_view(res.new)}
    body.append(section("Devices and traces", f"<pre>{e(json.dumps(meta, indent=2, ensure_ascii=False, default=str))}</pre>"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(f"traceflops compare — {res.base.name} → {res.new.name}",
                         f"{b['device'] or '?'} → {n['device'] or '?'} · work matched by {s['key']}", "".join(body)), encoding="utf-8")
    return path


def write_outputs(res, outdir, formats=("html",), fail_on_regression=None):
    """Write compare.html / compare.md (+ roofline_shift.png) / compare.json into `outdir`; returns {format: path}."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    if "html" in formats:
        paths["html"] = write_compare_html(res, outdir / "compare.html", fail_on_regression=fail_on_regression)
    if "md" in formats:
        img, note = write_static_image(roofline_shift_figure(res), outdir / "roofline_shift.png")
        if img is not None:
            paths["png"] = img
        p = outdir / "compare.md"
        p.write_text(to_markdown(res, image=img, image_note=note, fail_on_regression=fail_on_regression), encoding="utf-8")
        paths["md"] = p
    if "json" in formats:
        p = outdir / "compare.json"
        p.write_text(to_json(res), encoding="utf-8")
        paths["json"] = p
    return paths

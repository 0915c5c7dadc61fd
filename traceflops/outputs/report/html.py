"""report.html: one self-contained page (plotly.js inlined once, no network) summarizing an Analysis.

Safety: every string from the trace goes through html.escape; figure specs are embedded as JSON in
`<script type="application/json">` blocks with <, > and & written as \\u escapes, so no kernel name can
close the block or inject markup; metadata is shown through an allow-list and then redacted.
"""
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..redact import redact, redact_metadata, redact_text
from .steps import steps_section
from .demangle import short_name
from .tables import fmt_gbps, fmt_num, fmt_pct, fmt_us, kernel_groups as group_kernels

TRACE_META_ALLOW = ("schemaVersion", "displayTimeUnit", "with_flops", "with_modules", "record_shapes", "profile_memory",
                    "with_stack", "cuda_runtime_version", "cuda_driver_version", "cupti_version", "hip_runtime_version",
                    "hip_driver_version", "roctracer_version")
DIST_ALLOW = ("backend", "rank", "world_size", "pg_count", "nccl_version")
DEVPROP_ALLOW = ("id", "name", "totalGlobalMem", "computeMajor", "computeMinor", "numSms", "warpSize")
VERSION_KEYS = ("torch_version", "pytorch_version")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#14213d;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header .sub{opacity:.8;font-size:13px;margin-top:4px;word-break:break-all}
main{padding:10px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px 12px;min-width:150px;background:#fcfcfd}
.card .v{font-size:20px;font-weight:600}.card .l{font-size:12px;color:#555}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
td{overflow-wrap:break-word}td.w{min-width:9em;overflow-wrap:anywhere}th{font-size:12px}
th{background:#f3f4f6;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.k{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere;min-width:11em;max-width:520px}
td.k details summary{cursor:pointer;list-style:none;word-break:normal;overflow-wrap:anywhere}
td.k details summary::-webkit-details-marker{display:none}
td.k details[open] summary{font-weight:600}td.k details div{margin-top:3px;color:#555;font-size:11.5px}
.scroll{overflow-x:auto}.advice{background:#fff7e6;border:1px solid #f0d9a8;border-radius:6px;padding:6px 12px;margin-top:10px}
.advice li{margin:3px 0}
.note{font-size:12.5px;color:#555}.warn{color:#8a4b00}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}@media(max-width:1000px){.grid2{grid-template-columns:1fr}}
pre{font-size:12px;background:#f6f8fa;padding:8px;overflow:auto;max-height:380px}
.pos{color:#b00020}.neg{color:#0a7a28}
"""

BOOT = """
(function(){
  var errs=[];
  document.querySelectorAll('script[type="application/json"][data-figure]').forEach(function(s){
    var div=document.getElementById(s.getAttribute('data-figure'));
    try{var spec=JSON.parse(s.textContent);
        Plotly.newPlot(div,spec.data,spec.layout,{responsive:true,displaylogo:false});}
    catch(e){div.textContent='figure failed to render: '+e;errs.push(e);}
  });
  window.__traceflopsFigures=document.querySelectorAll('script[data-figure]').length-errs.length;
})();
"""


def e(s):
    """Escape any value for HTML text or attribute context."""
    if s is None or s is pd.NA or (isinstance(s, float) and math.isnan(s)):
        return "–"
    return html.escape(str(s), quote=True)


def safe_json(obj_or_text):
    """JSON that is safe inside a <script> element: <, >, & and line separators escaped."""
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text, ensure_ascii=False, default=str)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_PLOTLY_JS = None


def plotly_js():
    global _PLOTLY_JS
    if _PLOTLY_JS is None:
        from plotly.offline import get_plotlyjs
        _PLOTLY_JS = get_plotlyjs().replace("</script", "<\\/script")
    return _PLOTLY_JS


def figure_block(div_id, fig, height=None):
    """A <div> plus its JSON spec; the page's one boot script draws it."""
    style = f' style="min-height:{int(height)}px"' if height else ""
    return (f'<div id="{e(div_id)}" class="figure"{style}></div>\n'
            f'<script type="application/json" data-figure="{e(div_id)}">{safe_json(fig.to_json())}</script>')


def page(title, subtitle, body):
    """A whole self-contained HTML document: CSS, plotly.js once, the body, then the boot script. Credential-looking
    text from the trace (a token in a kernel name) is redacted in the title, subtitle and body."""
    title, subtitle, body = redact_text(title), redact_text(subtitle), redact_text(body)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
            "style-src 'unsafe-inline'; img-src data:; font-src data:\">"
            f"<title>{e(title)}</title><style>{CSS}</style>"
            f"<script>{plotly_js()}</script></head><body>"
            f"<header><h1>{e(title)}</h1><div class=\"sub\">{e(subtitle)}</div></header><main>{body}</main>"
            f"<script>{BOOT}</script></body></html>\n")


def cards(items):
    return '<div class="cards">' + "".join(
        f'<div class="card" title="{e(tip)}"><div class="v">{e(v)}</div><div class="l">{e(label)}</div></div>'
        for label, v, tip in items) + "</div>"


class Name:
    """A table cell showing a short kernel name, with the full name on hover and on click (escaped)."""

    def __init__(self, full, limit=80):
        self.full = full if isinstance(full, str) else None
        self.short = short_name(full, limit) if self.full else None

    def html(self):
        if self.full is None:
            return "–"
        if self.short == self.full:
            return f'<span title="{e(self.full)}">{e(self.full)}</span>'
        return f'<details title="{e(self.full)}"><summary>{e(self.short)}</summary><div>{e(self.full)}</div></details>'


class Names(Name):
    """Several kernel names in one cell, each short with its full name on hover and click."""

    def __init__(self, names, limit=60):  # super().__init__ is for one name: not called
        self.names = [Name(x, limit) for x in names]

    def html(self):
        return "; ".join(n.html() for n in self.names) or "–"


def table(headers, rows, numeric=(), mono=(), wide=()):
    """rows: lists of plain values (escaped here) or `Name` cells. numeric/mono/wide: column indexes to right-align /
    set in monospace / keep at least 9em wide. Wide tables scroll sideways on a narrow window."""
    out = ['<div class="scroll"><table><thead><tr>', "".join(f"<th>{e(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            cls = ' class="n"' if i in numeric else (' class="k"' if i in mono else (' class="w"' if i in wide else ""))
            cells.append(f"<td{cls}>{v.html() if isinstance(v, Name) else e(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def section(title, inner, sid=None):
    ident = f' id="{e(sid)}"' if sid else ""
    return f"<section{ident}><h2>{e(title)}</h2>{inner}</section>"


def short(s, n=160):
    if not isinstance(s, str):
        return s
    return s if len(s) <= n else s[: n - 1] + "…"


def _find_versions(meta, depth=0, out=None):
    out = {} if out is None else out
    if depth > 4 or not isinstance(meta, dict):
        return out
    for k, v in meta.items():
        if k in VERSION_KEYS and isinstance(v, (str, int, float)):
            out.setdefault(k, v)
        elif isinstance(v, dict):
            _find_versions(v, depth + 1, out)
    return out


def metadata_view(a):
    """Allow-listed device and trace metadata, redacted. Nothing else from the trace header is shown."""
    s = a.summary or {}
    dev = s.get("device") or {}
    meta = a.trace.meta.raw if a.trace is not None else {}
    tr = s.get("trace") or {}
    view = {
        "device": {k: dev.get(k) for k in ("name", "key", "peak_tflops", "peak_tbps", "source") if dev.get(k) is not None},
        "trace": {"name": tr.get("name", a.name), "rank": tr.get("rank"), "world_size": tr.get("world_size"),
                  "format": tr.get("format")},
        "profiler": {k: meta[k] for k in TRACE_META_ALLOW if k in meta and isinstance(meta[k], (str, int, float, bool))},
    }
    if s.get("devices"):
        view["devices"] = {str(i): {k: d.get(k) for k in ("name", "key", "peak_tbps")} for i, d in s["devices"].items() if d}
    dist = meta.get("distributedInfo")
    if isinstance(dist, dict):
        view["distributed"] = {k: dist[k] for k in DIST_ALLOW if k in dist and isinstance(dist[k], (str, int, float))}
    props = meta.get("deviceProperties")
    if isinstance(props, list):
        view["deviceProperties"] = [{k: p[k] for k in DEVPROP_ALLOW if k in p and isinstance(p[k], (str, int, float))}
                                    for p in props[:16] if isinstance(p, dict)]
    versions = _find_versions(meta)
    if versions:
        view["versions"] = versions
    return redact_metadata(view)


def _f(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return x


def headline(a):
    s = a.summary or {}
    tot = s.get("totals") or {}
    mfu = s.get("mfu") or {}
    cov = s.get("coverage") or {}
    dev = (s.get("device") or {}).get("name") or ("none: no GPU events" if not tot.get("gpu_events") else "unknown device")
    busy = _f(tot.get("gpu_busy_us"))
    flops = _f(tot.get("flops"))
    busy_tflops = flops / busy / 1e6 if busy and busy > 0 else float("nan")
    pct = lambda x: fmt_pct(100 * _f(x)) if x is not None else "–"  # noqa: E731
    return [
        ("GPU busy time", fmt_us(busy), "union of GPU activity intervals (concurrent streams counted once)"),
        ("GPU events", f"{tot.get('gpu_events', 0):,}", f"{tot.get('kernels', 0):,} kernels, {tot.get('memcpy', 0)} memcpy, {tot.get('memset', 0)} memset"),
        ("achieved TFLOP/s (while busy)", fmt_num(busy_tflops), "total FLOPs / GPU busy time"),
        ("achieved TFLOP/s (wall)", fmt_num(mfu.get("achieved_tflops")), f"total FLOPs / wall time ({mfu.get('wall_basis', 'wall')})"),
        ("% of peak while busy (busy MFU)", pct(mfu.get("busy_mfu")), "each kernel's FLOPs against the peak of its dtype, over busy time"),
        ("MFU", pct(mfu.get("mfu")), "over wall time × GPUs, against the datasheet peaks: " + _denominator(mfu)),
        ("HFU", pct(mfu.get("hfu")), "MFU plus recomputed FLOPs"),
        ("GPU time with FLOPs or bytes", pct(cov.get("time_with_flops_or_bytes")), "coverage: share of GPU time we could cost"),
        ("kernels linked to an op", pct(cov.get("link_rate")), "share of kernels attributed to a CPU op"),
        ("device", dev, "catalog entry used for peaks"),
    ]


def _denominator(mfu):
    """The peaks MFU divides by, as the summary lists them ('bf16 tensor cores 989 TFLOP/s (99.9% of FLOPs)')."""
    used = mfu.get("peaks_used") or []
    parts = [f"{u.get('dtype')}{' tensor cores' if u.get('tensor_core') else ''} {fmt_num(u.get('peak_tflops'))} "
             f"TFLOP/s ({fmt_pct(100 * (u.get('flops_share') or 0))} of FLOPs)" for u in used[:4]]
    text = "; ".join(parts) if parts else "no kernel with a known peak"
    if mfu.get("suspect_kernels"):
        text += (f". Left out: {mfu['suspect_kernels']} suspect kernel(s) above their compute peak "
                 f"({fmt_num(mfu.get('suspect_flops'))} FLOPs whose count cannot be right)")
    return text


def _kernel_rows(t, n, measured=False):
    rows = []
    for r in t.head(n).itertuples(index=False):
        kind = " · ".join(x for x in (r.dtype, r.category) if isinstance(x, str) and x) or "–"
        row = [Name(r.name), short(r.op, 80), short(r.input_dims, 120), kind, int(r.kernels),
               fmt_us(r.time_us), fmt_pct(100 * r.share), fmt_num(r.achieved_tflops), fmt_gbps(r.achieved_gbps),
               getattr(r, "bound", None), fmt_pct(r.pct_of_ceiling), fmt_us(r.time_lost_us),
               fmt_pct(100 * r.sm_fill) if r.sm_fill == r.sm_fill else "–", getattr(r, "roof_flags", None) or ""]
        if measured:
            row.insert(11, fmt_pct(getattr(r, "pct_of_achievable", float("nan"))))
        rows.append(row)
    return rows


KERNEL_HEADERS = ["kernel", "op", "shapes", "dtype · category", "calls", "GPU time", "share", "TFLOP/s", "GB/s",
                  "bound", "% of ceiling", "time lost vs roofline", "SMs filled", "roofline flag"]


def kernel_headers(measured):
    """The kernel tables' headers; a device file's measured ceilings add '% of measured ceiling'."""
    return KERNEL_HEADERS[:11] + ["% of measured ceiling"] + KERNEL_HEADERS[11:] if measured else KERNEL_HEADERS


def kernel_groups(a):
    """The report's kernel groups (name + op + shapes + dtype + category), as the CLI's top kernels."""
    return group_kernels(a.kernels)


def no_flops_table(a):
    k = a.kernels
    f = k["flops"].to_numpy(float)
    none = ~(np.nan_to_num(f) > 0)
    sub = k[none]
    total = float(np.nansum(k["dur_us"].to_numpy(float)))
    if not len(sub):
        return pd.DataFrame(columns=["reason", "kernels", "time_us", "share", "bytes", "examples"])
    reason = sub["flops_reason"].astype(object).where(sub["flops_reason"].notna(), "(no reason recorded)")
    rows = []
    for rsn, g in sub.assign(_r=reason.to_numpy(object)).groupby("_r", sort=False):
        t = float(np.nansum(g["dur_us"].to_numpy(float)))
        ex = g.groupby("name")["dur_us"].sum().sort_values(ascending=False).head(3).index.tolist()
        rows.append({"reason": rsn, "kernels": len(g), "time_us": t, "share": t / total if total > 0 else np.nan,
                     "bytes": _bytes_kind(g), "examples": ex})
    return pd.DataFrame(rows).sort_values("time_us", ascending=False, kind="stable").reset_index(drop=True)


def _bytes_kind(g):
    """What a no-FLOPs group knows of its traffic: `exact`, `lower bound` (every recorded argument once: achieved
    bandwidth is a lower bound), `none`, or `mixed`."""
    has = g["bytes"].notna().to_numpy(bool)
    lb = (g["bytes_source"] == "lower_bound").to_numpy(bool) if "bytes_source" in g else np.zeros(len(g), bool)
    if not has.any():
        return "none"
    if has.all():
        return "lower bound" if lb.all() else "exact" if not lb.any() else "mixed"
    return "mixed"


def render_report(a, max_points=1500, top=25):
    from . import plots
    s = a.summary or {}
    body = []
    mfu = s.get("mfu") or {}
    denom = (f'<p class="note">MFU = Σ FLOPs / peak ÷ ({e(fmt_us(mfu.get("wall_us")))} wall × {e(mfu.get("gpus"))} GPU(s)); '
             f"peaks: {e(_denominator(mfu))}.</p>") if mfu.get("wall_us") else ""
    body.append(section("Headline", cards(headline(a)) + denom + _advice(s) + _warnings(s), "headline"))
    roof = plots.roofline_figure(a, max_points=max_points)
    info = getattr(roof, "_traceflops_info", {})
    body.append(section("Roofline", figure_block("fig-roofline", roof, 560) +
                        f'<p class="note">Hover a point for the kernel, op, shapes and dtype. Points are '
                        f'{e("kernels" if info.get("by") == "kernel" else "groups of kernels with the same op, shapes, dtype and category")}; '
                        "marker area grows with GPU time. Dashed lines are the compute and memory roofs of the device "
                        "for each math mode in use (tensor cores per dtype; vector units).</p>", "roofline"))
    groups = kernel_groups(a)
    measured = bool("pct_of_achievable" in groups and groups["pct_of_achievable"].notna().any())
    body.append(section(f"Top {top} kernels by GPU time",
                        table(kernel_headers(measured), _kernel_rows(groups, top, measured),
                              numeric=range(4, 13 + measured), mono=(0, 2), wide=(1,)), "top-time"))
    lost = groups[groups["time_lost_us"].notna()].sort_values("time_lost_us", ascending=False, kind="stable")
    body.append(section(f"Top {top} kernels by time lost vs roofline",
                        '<p class="note">time lost = GPU time − the time the kernel would take at its roofline ceiling '
                        "(compute or memory). It is where speed-ups are possible.</p>" +
                        table(kernel_headers(measured), _kernel_rows(lost, top, measured),
                              numeric=range(4, 13 + measured), mono=(0, 2), wide=(1,)), "top-lost"))
    bd = '<div class="grid2">' + figure_block("fig-by-category", plots.breakdown_figure(a, by="category")) + \
        figure_block("fig-by-op", plots.breakdown_figure(a, by="op", top=15))
    if a.kernels["module"].notna().any() if "module" in a.kernels else False:
        bd += figure_block("fig-by-module", plots.breakdown_figure(a, by="module", top=15))
    bd += "</div>"
    body.append(section("Where the GPU time goes", bd, "breakdown"))
    tables = a.tables or {}
    if any(tables.get(x) is not None and len(tables.get(x)) for x in ("timeline", "steps")):
        body.append(section("Achieved TFLOP/s and MFU over time", figure_block("fig-timeline", plots.timeline_figure(a)), "timeline"))
    body.append(steps_section(a, section, figure_block, table))  # serving engine steps (report/steps.py)
    nf = no_flops_table(a)
    nf_rows = [[r.reason, int(r.kernels), fmt_us(r.time_us), fmt_pct(100 * r.share), r.bytes, Names(r.examples)]
               for r in nf.itertuples(index=False)]
    body.append(section("GPU events without FLOPs, and why",
                        '<p class="note">A to-do list ranked by GPU time: the top reasons are where a formula (or a '
                        "recorded input) would add most. bytes: what the events still know of their traffic; "
                        "<em>lower bound</em> = every recorded tensor argument once, so their achieved bandwidth and "
                        "% of ceiling are lower bounds.</p>" +
                        table(["reason", "events", "GPU time", "share", "bytes", "largest examples"], nf_rows,
                              numeric=(1, 2, 3), mono=(5,))
                        if nf_rows else '<p class="note">Every GPU event has FLOPs.</p>', "no-flops"))
    meta = metadata_view(a)
    body.append(section("Device and trace", f"<pre>{e(json.dumps(meta, indent=2, ensure_ascii=False, default=str))}</pre>"
                        '<p class="note">Only allow-listed fields are shown; secret-like keys and values are redacted.</p>', "meta"))
    tot = s.get("totals") or {}
    dev = (s.get("device") or {}).get("name") or ("no GPU events" if not tot.get("gpu_events") else "unknown device")
    sub = f"{dev} · {tot.get('gpu_events', 0):,} GPU events · " \
          f"{tot.get('cpu_ops', 0):,} CPU ops · traceflops"
    return page(f"traceflops report — {a.name}", sub, "".join(body))


def _advice(s):
    items = "".join(f"<li>{e(x.get('issue'))}" + (f" ({fmt_pct(100 * x['gpu_time_share'])} of GPU time)"
                                                  if x.get("gpu_time_share") is not None else "")
                    + f": {e(x.get('remedy'))}</li>" for x in s.get("advice") or [])
    return f'<div class="advice"><b>What to do</b><ul>{items}</ul></div>' if items else ""


def _warnings(s):
    said = {x.get("issue") for x in s.get("advice") or []}
    w = [redact(x) for x in (s.get("warnings") or []) if x not in said]
    if not w:
        return ""
    items = "".join(f"<li>{e(x)}</li>" for x in w[:50])
    more = f"<li>… and {len(w) - 50} more</li>" if len(w) > 50 else ""
    return f'<ul class="note warn">{items}{more}</ul>'


def write_report(a, path, **kw):
    """Write one self-contained report.html for Analysis `a` to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(a, **kw), encoding="utf-8")
    return path

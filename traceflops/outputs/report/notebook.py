"""Compact HTML summaries for Jupyter (`Analysis._repr_html_`, `CompareResult._repr_html_`): a few headline
numbers and the top kernels, every string escaped, no scripts, no plotly."""
import html

from ..redact import redact_text
from .demangle import short_name
from .tables import fmt_gbps, fmt_num, fmt_pct, fmt_us, kernel_groups

STYLE = ("<style>.tf-s table{border-collapse:collapse;font-size:12px}.tf-s td,.tf-s th{padding:2px 8px;"
         "border-bottom:1px solid #ddd;text-align:left}.tf-s td.n{text-align:right;font-variant-numeric:tabular-nums}"
         ".tf-s .w{color:#8a4b00}</style>")


def _e(x):
    return "–" if x is None else html.escape(redact_text(str(x)), quote=True)


def _pct(x):
    return "–" if x is None else fmt_pct(100 * x)


def _rows(pairs):
    return "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)


def analysis_html(a, top=5):
    """The summary of one Analysis as a small HTML block."""
    s = a.summary or {}
    tot, mfu, cov = s.get("totals") or {}, s.get("mfu") or {}, s.get("coverage") or {}
    dev = (s.get("device") or {}).get("name") or ("none: no GPU events" if not tot.get("gpu_events") else "unknown")
    head = _rows([
        ("device", dev),
        ("GPU events", f"{tot.get('gpu_events', 0):,} ({tot.get('kernels', 0):,} kernels)"),
        ("GPU busy", fmt_us(tot.get("gpu_busy_us"))),
        ("FLOPs counted", fmt_num(tot.get("flops"))),
        ("MFU / busy MFU", f"{_pct(mfu.get('mfu'))} / {_pct(mfu.get('busy_mfu'))}"),
        ("GPU time with FLOPs or bytes", _pct(cov.get("time_with_flops_or_bytes"))),
    ])
    body = ""
    if a.kernels is not None and len(a.kernels):
        g = kernel_groups(a.kernels).head(top)
        body = ("<tr><th>kernel</th><th>op</th><th>calls</th><th>GPU time</th><th>share</th><th>TFLOP/s</th>"
                "<th>GB/s</th></tr>" + "".join(
                    f'<tr><td title="{_e(r.name)}">{_e(short_name(r.name, 60))}</td><td>{_e(r.op or None)}</td>'
                    f'<td class="n">{int(r.kernels):,}</td><td class="n">{fmt_us(r.time_us)}</td>'
                    f'<td class="n">{fmt_pct(100 * r.share)}</td><td class="n">{fmt_num(r.achieved_tflops)}</td>'
                    f'<td class="n">{fmt_gbps(r.achieved_gbps)}</td></tr>' for r in g.itertuples(index=False)))
        body = f"<p><b>Top {len(g)} kernels by GPU time</b></p><table>{body}</table>"
    notes = [x["issue"] + ": " + x["remedy"] for x in s.get("advice") or []] + list(s.get("warnings") or [])[:3]
    warn = "".join(f'<li class="w">{_e(w)}</li>' for w in notes)
    return (f'{STYLE}<div class="tf-s"><p><b>traceflops: {_e(a.name)}</b></p><table>{head}</table>{body}'
            + (f"<ul>{warn}</ul>" if warn else "") + "</div>")


def compare_html(res, top=5):
    """The summary of a CompareResult as a small HTML block."""
    s = res.summary
    b, n = s["base"], s["new"]
    d = s.get("matched_delta_pct")
    head = _rows([
        ("base → new", f"{b['name']} → {n['name']}"),
        ("devices", f"{b['device'] or '?'} → {n['device'] or '?'}"),
        ("GPU time of matched work", f"{fmt_us(b['matched_time_us'])} → {fmt_us(n['matched_time_us'])} "
                                     f"({'–' if d is None else f'{d:+.1f}%'})"),
        ("matched share of GPU time", f"{_pct(b['matched_share'])} / {_pct(n['matched_share'])}"),
        ("TFLOP/s of matched work", f"{fmt_num(b['matched_tflops'])} → {fmt_num(n['matched_tflops'])}"),
        ("MFU", f"{_pct(b.get('mfu'))} → {_pct(n.get('mfu'))}"),
        ("keys matched / new / missing", f"{s['keys']['matched']} / {s['keys']['new']} / {s['keys']['missing']}"),
    ])
    rows = res.rows.head(top)
    body = "<tr><th>work</th><th>status</th><th>base</th><th>new</th><th>Δ%</th></tr>" + "".join(
        f"<tr><td>{_e(r.label[:120])}</td><td>{_e(r.status)}</td><td class=\"n\">{fmt_us(r.time_base_us)}</td>"
        f"<td class=\"n\">{fmt_us(r.time_new_us)}</td><td class=\"n\">"
        f"{'–' if r.delta_pct != r.delta_pct else f'{r.delta_pct:+.1f}%'}</td></tr>" for r in rows.itertuples(index=False))
    return (f'{STYLE}<div class="tf-s"><p><b>traceflops compare</b></p><table>{head}</table>'
            f"<p><b>Biggest changes</b></p><table>{body}</table></div>")

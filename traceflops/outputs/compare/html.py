"""compare.html: one self-contained page with the headline, the roofline shift and the changed work."""
import json
from pathlib import Path

from ..report.html import Names, cards, e, figure_block, metadata_view, page, section, short, table
from ..report.tables import fmt_num, fmt_pct, fmt_us
from .figures import category_figure, roofline_shift_figure
from .gate import describe
from .markdown import signed_pct, signed_us

def write_compare_html(res, path, top=50, fail_on_regression=None, gates=None):
    s = res.summary
    b, n = s["base"], s["new"]
    items = [
        ("matched GPU time Δ", signed_pct(s["matched_delta_pct"]), f"{fmt_us(b['matched_time_us'])} → {fmt_us(n['matched_time_us'])}"),
        ("all GPU time Δ", signed_pct(s["total_delta_pct"]), f"{fmt_us(b['gpu_time_us'])} → {fmt_us(n['gpu_time_us'])}"),
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
                f'{e(signed_pct(s["matched_delta_pct"]))} against a limit of +{float(fail_on_regression):g}%.</p>')
    for r in gates or []:
        gate += f'<p class="{"neg" if r["passed"] else "pos"}"><b>Gate {e(describe(r))}</b></p>'
    body = [section("Headline", cards(items) + gate), section("Roofline shift", figure_block("fig-shift", roofline_shift_figure(res), 560))]
    headers = ["work (op · shapes · dtype · category)", "status", "calls base→new", "GPU time base", "GPU time new", "Δ",
               "Δ%", "TFLOP/s base→new", "% of ceiling base→new", "kernel (base; new)"]

    def rows_of(df):
        return [[short(r.label, 220), r.status, f"{r.kernels_base}→{r.kernels_new}", fmt_us(r.time_base_us), fmt_us(r.time_new_us),
                 signed_us(r.delta_us), signed_pct(r.delta_pct), f"{fmt_num(r.tflops_base)}→{fmt_num(r.tflops_new)}",
                 f"{fmt_pct(r.pct_ceiling_base)}→{fmt_pct(r.pct_ceiling_new)}",
                 Names([x if isinstance(x, str) else "–" for x in (r.top_name_base, r.top_name_new)], 50)]
                for r in df.itertuples(index=False)]
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

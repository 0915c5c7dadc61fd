"""compare as markdown (a PR comment) and as JSON."""
import json
import math
from pathlib import Path

import pandas as pd

from ...numbers import finite_or_none
from ..redact import redact, redact_text
from ..report.tables import fmt_num, fmt_pct, fmt_us
from ..write import json_safe
from .figures import IMAGE_HELP
from .gate import gates_markdown


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


def signed_pct(x):
    x = finite_or_none(x)
    return "–" if x is None else f"{x:+.1f}%"


def signed_us(x):
    x = finite_or_none(x)
    return "–" if x is None else ("+" if x > 0 else "") + fmt_us(x)


def to_markdown(res, image=None, image_note=None, top=15, fail_on_regression=None, gates=None):
    """compare.md: the headline table, the gate verdicts (`gates`: results of gate.evaluate), the roofline shift image
    (or, in words, why there is none and how to get it: `image_note`, a key of figures.IMAGE_HELP or a plain
    sentence) and the biggest changes."""
    s = res.summary
    b, n = s["base"], s["new"]
    out = [f"### traceflops compare: {code(b['name'])} → {code(n['name'])}", ""]
    out.append(f"Work matched by {s['key']}.")
    out.append("")
    out += ["| | base | new | Δ |", "|---|---:|---:|---:|",
            f"| device | {md(b['device'])} | {md(n['device'])} | |",
            f"| GPU time, matched work | {fmt_us(b['matched_time_us'])} | {fmt_us(n['matched_time_us'])} | {signed_pct(s['matched_delta_pct'])} |",
            f"| GPU time, all work | {fmt_us(b['gpu_time_us'])} | {fmt_us(n['gpu_time_us'])} | {signed_pct(s['total_delta_pct'])} |",
            f"| share of GPU time matched | {fmt_pct(100 * (b['matched_share'] or float('nan')))} | {fmt_pct(100 * (n['matched_share'] or float('nan')))} | |",
            f"| TFLOP/s, matched work | {fmt_num(b['matched_tflops'])} | {fmt_num(n['matched_tflops'])} | |",
            f"| % of roofline ceiling, matched work (time-weighted) | {fmt_pct(s['roofline_shift']['pct_of_ceiling_base'])} | {fmt_pct(s['roofline_shift']['pct_of_ceiling_new'])} | |",
            f"| busy MFU | {fmt_pct(100 * b['busy_mfu']) if b['busy_mfu'] is not None else '–'} | {fmt_pct(100 * n['busy_mfu']) if n['busy_mfu'] is not None else '–'} | |",
            f"| work keys matched / new / missing | | | {s['keys']['matched']} / {s['keys']['new']} / {s['keys']['missing']} |",
            ""]
    if fail_on_regression is not None:
        verdict = "**FAIL**" if res.regressed(fail_on_regression) else "pass"
        out += [f"Regression gate: matched GPU time {signed_pct(s['matched_delta_pct'])} against a limit of "
                f"+{float(fail_on_regression):g}% → {verdict}", ""]
    if gates:
        out += [gates_markdown(gates)]
    if image:
        out += [f"![roofline shift of matched work]({Path(image).name})", ""]
    elif image_note:
        note = IMAGE_HELP.get(image_note) or md(image_note, 300)
        out += [f"_Roofline image omitted: {note}_", ""]
    m = res.rows[res.rows["status"] == "matched"].head(top)
    out += [f"#### Biggest changes in matched work (top {len(m)} by \\|Δ time\\|)", "",
            "| work | calls base→new | base | new | Δ | Δ% | TFLOP/s base→new | % of ceiling base→new |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in m.itertuples(index=False):
        out.append(f"| {code(r.label)} | {r.kernels_base}→{r.kernels_new} | {fmt_us(r.time_base_us)} | {fmt_us(r.time_new_us)} | "
                   f"{signed_us(r.delta_us)} | {signed_pct(r.delta_pct)} | {fmt_num(r.tflops_base)}→{fmt_num(r.tflops_new)} | "
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
    return redact_text("\n".join(out))


def to_json(res, gates=None):
    summary = {**res.summary, "gates": gates} if gates else res.summary
    return json.dumps(json_safe(redact({"summary": summary, "rows": json.loads(res.rows.to_json(orient="records"))})),
                      indent=2, ensure_ascii=False) + "\n"

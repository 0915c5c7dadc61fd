"""The serving steps section of report.html: tokens per step, and MFU / MBU per step over time, prefill vs decode.

Reads `Analysis.steps` and `summary["serving"]` only. The page helpers (section, figure_block, table) are
passed in by html.py, so this module does not import it back.
"""
import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .plots import esc
from .tables import fmt_num, fmt_pct, fmt_us

PHASE_COLORS = {"prefill": "#1f77b4", "decode": "#d62728", "mixed": "#9467bd", "idle": "#7f7f7f",
                "capture": "#bcbd22", "unknown": "#aec7e8"}


def steps_figure(t, height=720):
    """Three panels over step start time: new tokens per step (prefill, decode), per-step MFU, per-step MBU."""
    t = t.copy()
    t0 = t["gpu_start_us"].min() if t["gpu_start_us"].notna().any() else 0.0
    t["x_ms"] = (t["gpu_start_us"].fillna(t["cpu_start_us"]) - t0) / 1e3
    t["phase_label"] = t["phase"].fillna("unknown")
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=("new tokens per step", "MFU per step (model FLOPs, step GPU wall time)",
                                        "MBU per step (model bytes, step GPU wall time)"))
    for name, col, color in (("prefill tokens", "prefill_tokens", PHASE_COLORS["prefill"]),
                             ("decode tokens", "decode_tokens", PHASE_COLORS["decode"])):
        fig.add_trace(go.Bar(x=t["x_ms"], y=t[col].astype("Float64").fillna(0).astype(float), name=name,
                             marker_color=color, width=_bar_width(t)), row=1, col=1)
    hover = [f"step {int(r.step)} · {esc(r.phase_label)} · {esc(r.mode)}<br>{esc(r.name, 200)}<br>GPU wall "
             f"{fmt_us(r.gpu_wall_us)}, busy {fmt_us(r.gpu_busy_us)}" for r in t.itertuples(index=False)]
    for row, metric in ((2, "mfu"), (3, "mbu")):
        for ph, g in t.groupby("phase_label", sort=True):
            if g[metric].notna().any():
                fig.add_trace(go.Scatter(x=g["x_ms"], y=100 * g[metric], mode="markers+lines",
                                         name=f"{metric.upper()} {ph}", legendgroup=ph,
                                         marker={"color": PHASE_COLORS.get(ph, "#333")},
                                         line={"color": PHASE_COLORS.get(ph, "#333"), "width": 1},
                                         text=[hover[i] for i in g.index], hovertemplate="%{text}<br>%{y:.3g} %"),
                              row=row, col=1)
        fig.update_yaxes(title_text=f"{metric.upper()} %", rangemode="tozero", row=row, col=1)
    fig.update_layout(barmode="stack", height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40},
                      legend={"orientation": "h"})
    fig.update_xaxes(title_text="step start (ms from the first step's first kernel)", row=3, col=1)
    fig.update_yaxes(title_text="tokens", row=1, col=1)
    return fig


def _bar_width(t):
    w = t["gpu_wall_us"].astype(float) / 1e3
    return w.where(w > 0, None).tolist()


def _phase_rows(s):
    return [[r["phase"], r["steps"], r["tokens"], fmt_us(r["gpu_wall_us"]), fmt_us(r["gpu_busy_us"]),
             fmt_num(r["model_flops"]), fmt_num(r["model_bytes"]), _pct(r["mfu"]), _pct(r["mbu"]),
             _pct(r["busy_mfu"]), _pct(r["busy_mbu"])] for r in s.get("by_phase") or []]


def _pct(x):
    return fmt_pct(100 * x) if x is not None else "–"


def steps_section(a, section, figure_block, table):
    """The section's HTML, or "" for a trace without serving step annotations."""
    t = getattr(a, "steps", None)
    s = (a.summary or {}).get("serving")
    if t is None or not len(t) or not s:
        return ""
    m = s.get("model")
    text = (f"{len(t):,} engine steps from their annotations ({', '.join(f'{k}: {v}' for k, v in s['formats'].items())}); "
            f"{s['kernels_in_steps']:,} GPU events inside steps, {s['kernels_outside_steps']:,} outside. ")
    warn = ""
    if m:
        check = m.get("check") or {}
        text += (f"Model: {m.get('model_type')} from {m.get('config') or 'a config'}, {m['layers']} layers (kernels "
                 f"repeat {check.get('layers_from_kernels') or '?'}×), {m['gpus']} GPU(s), peaks "
                 f"{fmt_num(m.get('peak_tflops'))} TFLOP/s {m.get('compute_dtype')} and {fmt_num(m.get('peak_tbps'))} "
                 "TB/s. MFU and MBU divide by each step's GPU wall time; busy MFU and MBU by its kernels' union.")
        if check.get("warning"):
            warn = f'<p class="note warn">{html.escape(check["warning"])}</p>'
    else:
        text += "Give the model's config.json (--model) for per-step FLOPs, bytes, MFU and MBU."
    intro = f'<p class="note">{html.escape(text)}</p>{warn}'
    body = intro + figure_block("fig-steps", steps_figure(t), 720)
    if m:
        body += table(["phase", "steps", "tokens", "GPU wall", "GPU busy", "model FLOPs", "model bytes", "MFU",
                       "MBU", "busy MFU", "busy MBU"], _phase_rows(s), numeric=range(1, 11))
    return section("Serving steps: tokens, MFU and MBU per step", body, "serving-steps")

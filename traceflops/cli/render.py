"""Terminal output: a progress bar for long ingests and a compact summary table (rich)."""
from contextlib import contextmanager

import numpy as np
import pandas as pd

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich import box
from rich.markup import escape
from rich.table import Table

console = Console(stderr=False)


@contextmanager
def progress_bar(quiet=False):
    if quiet or not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("decoding events"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as p:
        task = p.add_task("ingest", total=0)  # not None: the "{task.total:,}" column cannot format None
        yield lambda done, total: p.update(task, completed=done, total=total)


def _fmt(v, digits=3):
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}g}" if abs(v) < 1e6 else f"{v:,.3e}"
    return str(v)


def table(title, rows):
    t = Table(title=title)
    if not rows:
        console.print(t)
        return
    for c in rows[0]:
        t.add_column(str(c))
    for r in rows:
        t.add_row(*[_fmt(v) for v in r.values()])
    console.print(t)


def denominator(mfu):
    """What MFU was divided by: wall time × GPUs × the datasheet peak of each kernel's dtype and math mode."""
    from ..outputs.report.tables import fmt_us
    used = mfu.get("peaks_used") or []
    peaks = ", ".join(f"{u['dtype']}{' TC' if u.get('tensor_core') else ''} {u['peak_tflops']:g} TFLOP/s"
                      f" ({100 * u['flops_share']:.3g}% of FLOPs)" for u in used[:3]) or "no known peak"
    wall = mfu.get("wall_us")
    return (f"{fmt_us(wall) if wall else '-'} x {mfu.get('gpus') or '-'} GPU(s) x datasheet peaks: {peaks}"
            + (f"; {mfu['suspect_kernels']} suspect kernel(s) left out" if mfu.get("suspect_kernels") else ""))


def print_summary(a, written):
    s = a.summary
    tot, cov, mfu = s["totals"], s["coverage"], s["mfu"]
    dev = s["device"] or {}
    t = Table(title=f"traceflops: {a.name}", show_header=False)
    t.add_column("what")
    t.add_column("value")
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    mfu_pct = lambda x: "-" if x is None else f"{100 * x:.3g}%"  # noqa: E731  (0.0261%, not 0.0%)
    t.add_row("device", str(dev.get("name") or ("none: no GPU events" if not tot["gpu_events"] else "unknown")))
    t.add_row("GPU events", f"{tot['gpu_events']:,} ({tot['kernels']:,} kernels, {tot['memcpy']} memcpy, {tot['memset']} memset)")
    t.add_row("GPU busy", f"{tot['gpu_busy_us'] / 1e3:,.3f} ms")
    t.add_row("FLOPs counted", f"{tot['flops']:.4g}")
    replay = next((x for x in s.get("advice") or [] if "graph-replayed" in x["issue"]), None)
    t.add_row("kernels linked to an op", pct(cov.get("link_rate_in_window")) + (
        f" ({pct(replay['gpu_time_share'])} of GPU time: graph replays without shapes)" if replay else ""))
    t.add_row("GPU time with FLOPs or bytes", pct(cov.get("time_with_flops_or_bytes")))
    t.add_row("MFU (wall) / busy-time MFU", f"{mfu_pct(mfu.get('mfu'))} / {mfu_pct(mfu.get('busy_mfu'))}")
    t.add_row("MFU divides by", denominator(mfu))
    r = s["roofline"]
    t.add_row("roofline flags", f"{r['suspect']} suspect (out of MFU), {r.get('suspect_bytes', 0)} suspect bytes, "
                                f"{r['cache_resident']} cache-resident")
    for name, p in written.items():
        t.add_row(f"wrote {name}", str(p))
    console.print(t)
    for x in s.get("advice") or []:
        share = f" ({100 * x['gpu_time_share']:.1f}% of GPU time)" if x.get("gpu_time_share") is not None else ""
        console.print(f"[bold]what to do:[/bold] {escape(x['issue'])}{share}: {escape(x['remedy'])}", soft_wrap=True)
    print_top_kernels(a.kernels)


def print_top_kernels(k, n=8):
    """The top kernels as the report shows them: grouped by name + op + shapes + dtype + category, short names,
    the op under the kernel, and the achieved rate of the roof each group is bound by (fits 80 columns)."""
    from ..outputs.report.demangle import short_name
    from ..outputs.report.tables import fmt_gbps, fmt_num, fmt_pct, fmt_us, kernel_groups
    if not len(k):
        return
    g = kernel_groups(k).head(n)
    replayed = set(k.loc[(k["link"] == "graph") & k["op"].isna(), "name"]) if "link" in k else set()
    modeled = _model_components(k)
    kt = Table(title="top kernels by GPU time (grouped by kernel, op, shapes, dtype)", box=box.SIMPLE_HEAD,
               pad_edge=False)
    kt.add_column("kernel / op", overflow="fold", ratio=1)
    for c in ("calls", "GPU time", "share", "achieved", "% ceiling"):
        kt.add_column(c, justify="right", no_wrap=True)
    for r in g.itertuples(index=False):
        memory = getattr(r, "bound", None) == "memory" or not np.isfinite(r.achieved_tflops)
        rate = (f"{fmt_gbps(r.achieved_gbps)} GB/s" if memory and np.isfinite(r.achieved_gbps)
                else f"{fmt_num(r.achieved_tflops)} TFLOP/s" if np.isfinite(r.achieved_tflops) else "–")
        op = (r.op if isinstance(r.op, str) and r.op else modeled[r.name] if r.name in modeled
              else "(graph replay, no shapes)" if r.name in replayed else "(no op)")
        kt.add_row(f"{escape(short_name(r.name, 60))}\n[dim]{escape(op[:60])}[/dim]", f"{int(r.kernels):,}",
                   fmt_us(r.time_us), fmt_pct(100 * r.share), rate, fmt_pct(r.pct_of_ceiling))
    console.print(kt)


def _model_components(k):
    """Kernel name -> `model: qkv, o` for kernels costed from the model config (--model)."""
    if "model_component" not in k or "link" not in k:
        return {}
    m = k.loc[(k["link"] == "model") & k["model_component"].notna(), ["name", "model_component"]]
    parts = m["model_component"].astype(str).str.split("[").str[0].str.split(".").str[-1]
    return {n: "model: " + ", ".join(dict.fromkeys(g)) for n, g in parts.groupby(m["name"])}


def print_ranks(s, target):
    """The rank folder's table and the job's MFU line."""
    from ..outputs.report.tables import fmt_us
    strag = {(x["rank"], x.get("trace")) for x in s["stragglers"]}
    t = Table(title=f"{s['rank_count']} ranks -> {target}")
    for c in ("rank", "trace", "kernels", "GPU busy", "step time", "MFU", "straggler"):
        t.add_column(c, overflow="fold")
    pct = lambda x: "-" if x is None else f"{100 * x:.3g}%"  # noqa: E731
    for r in s["ranks"]:
        t.add_row(str(r["rank"]), escape(str(r["trace"])), f"{r['totals']['kernels']:,}", fmt_us(r["totals"]["gpu_busy_us"]),
                  fmt_us(r["step_time_us"]), pct(r.get("mfu")),
                  "yes" if (r["rank"], r["trace"]) in strag or (r["rank"], None) in strag else "")
    console.print(t)
    job = s.get("job") or {}
    if job.get("gpus"):
        spread = job.get("rank_mfu") or {}
        console.print(f"job: MFU {pct(job.get('mfu'))}, HFU {pct(job.get('hfu'))} over {job['gpus']} GPUs x "
                      f"{fmt_us(job['wall_us'])} ({job['wall_basis']}); ranks' MFU {pct(spread.get('min'))} / "
                      f"{pct(spread.get('median'))} / {pct(spread.get('max'))} (min / median / max)", soft_wrap=True)
        if not job.get("clocks_comparable"):
            console.print(f"note: {job['clock_note']}", soft_wrap=True)

"""Terminal output: a progress bar for long ingests and a compact summary table (rich)."""
from contextlib import contextmanager

import pandas as pd

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(stderr=False)


@contextmanager
def progress_bar(quiet=False):
    if quiet or not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("decoding events"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as p:
        task = p.add_task("ingest", total=None)
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


def print_summary(a, written):
    s = a.summary
    tot, cov, mfu = s["totals"], s["coverage"], s["mfu"]
    dev = s["device"] or {}
    t = Table(title=f"traceflops: {a.name}", show_header=False)
    t.add_column("what")
    t.add_column("value")
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"
    t.add_row("device", str(dev.get("name") or "unknown"))
    t.add_row("GPU events", f"{tot['gpu_events']:,} ({tot['kernels']:,} kernels, {tot['memcpy']} memcpy, {tot['memset']} memset)")
    t.add_row("GPU busy", f"{tot['gpu_busy_us'] / 1e3:,.3f} ms")
    t.add_row("FLOPs counted", f"{tot['flops']:.4g}")
    t.add_row("kernels linked to an op", pct(cov.get("link_rate_in_window")))
    t.add_row("GPU time with FLOPs or bytes", pct(cov.get("time_with_flops_or_bytes")))
    t.add_row("MFU (wall) / busy-time MFU", f"{pct(mfu.get('mfu'))} / {pct(mfu.get('busy_mfu'))}")
    t.add_row("roofline flags", f"{s['roofline']['suspect']} suspect, {s['roofline']['cache_resident']} cache-resident")
    for name, p in written.items():
        t.add_row(f"wrote {name}", str(p))
    console.print(t)
    top = a.kernels.sort_values("dur_us", ascending=False).head(8)
    kt = Table(title="top kernels by GPU time")
    for c in ("kernel", "op", "us", "TFLOP/s", "% ceiling", "bound"):
        kt.add_column(c)
    for _, r in top.iterrows():
        kt.add_row(str(r["name"])[:60], _fmt(r["op"])[:32], _fmt(r["dur_us"]),
                   _fmt(r["achieved_tflops"]), _fmt(r["pct_of_ceiling"]), _fmt(r["bound"]))
    console.print(kt)

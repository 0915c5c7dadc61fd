#!/usr/bin/env python3
"""Print, for every shared trace, link rate, FLOP/byte coverage and roofline flags (the #3/#4 closing-note table),
and the issue-18 coverage metric: of the kernel time launched inside the profiling window and not by a graph
replay, the share that has FLOPs or bytes (on traces whose ops record shapes).

    python3 scripts/coverage_table.py [../shared/traces ...]      # the tables
    python3 scripts/coverage_table.py --reasons [DIR ...]         # + the top uncovered reasons per trace
"""
import sys
from pathlib import Path

import numpy as np

from traceflops import analyze

NOT_TRACES = ("SOURCES.json", "flops_reference.json", "manifest.json")


def eager_mask(k):
    """GPU kernels launched inside the profiling window, not by a CUDA/HIP graph launch."""
    kern = (k["kind"] == "kernel").to_numpy(bool)
    reason = k["link_reason"].fillna("").astype(str)
    before = reason.str.startswith("launched before the profiling window").to_numpy(bool)
    graph = (k["link"] == "graph").to_numpy(bool) | reason.str.startswith("graph launch").to_numpy(bool)
    if "launch_name" in k:
        graph |= k["launch_name"].fillna("").astype(str).str.contains("GraphLaunch", case=False).to_numpy(bool)
    return kern & ~before & ~graph


def records_shapes(a):
    """The trace's CPU ops record input shapes (any op with a non-empty Input Dims)."""
    ops = a.ops
    if not len(ops) or "input_dims" not in ops:
        return False
    d = ops["input_dims"].dropna().astype(str)
    return bool((d.str.len() > 2).any())


def eager_coverage(a):
    """(share of eager in-window kernel time with FLOPs or bytes, that time in us); share None when there is none."""
    k = a.kernels
    m = eager_mask(k)
    dur = np.nan_to_num(k["dur_us"].to_numpy(float))
    has = (np.nan_to_num(k["flops"].to_numpy(float)) > 0) | np.isfinite(k["bytes"].to_numpy(float))
    tot = dur[m].sum()
    return (float(dur[m & has].sum() / tot) if tot > 0 else None), float(tot)


def lower_bound_share(a):
    """Share of the eager in-window kernel time whose only cost is lower-bound bytes (no FLOPs)."""
    k = a.kernels
    m = eager_mask(k)
    dur = np.nan_to_num(k["dur_us"].to_numpy(float))
    lb = ((k["bytes_source"] == "lower_bound").to_numpy(bool) & ~(np.nan_to_num(k["flops"].to_numpy(float)) > 0)
          if "bytes_source" in k else np.zeros(len(k), bool))
    tot = dur[m].sum()
    return float(dur[m & lb].sum() / tot) if tot > 0 else None


def uncovered_reasons(a, top=5):
    k = a.kernels
    m = eager_mask(k) & ~((np.nan_to_num(k["flops"].to_numpy(float)) > 0) | np.isfinite(k["bytes"].to_numpy(float)))
    g = k.loc[m].groupby(k.loc[m, "flops_reason"].fillna("(none)"))["dur_us"].sum().sort_values(ascending=False)
    tot = k.loc[eager_mask(k), "dur_us"].sum()
    return [(r, float(t / tot)) for r, t in g.head(top).items()]


def trace_files(roots):
    out = []
    for root in roots:
        root = Path(root)
        out += [(root, p) for p in sorted(root.rglob("*")) if p.is_file() and p.name.endswith((".json", ".json.gz"))
                and p.name not in NOT_TRACES and "_pages" not in p.parts]
    return out


def main(argv):
    reasons = "--reasons" in argv
    roots = [x for x in argv if not x.startswith("--")] or [Path(__file__).resolve().parents[2] / "shared" / "traces"]
    print("| trace | device | GPU events | linked (in window) | eager in-window time with FLOPs/bytes | of it lower-bound "
          "bytes only | eager time (ms) | linked+shaped | whole trace | with ceiling | suspect | cache-resident |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    shaped_cov = []
    notes = []
    for root, p in trace_files(roots):
        a = analyze(p)
        s, c, r = a.summary, a.summary["coverage"], a.summary["roofline"]
        pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"
        cov, t = eager_coverage(a)
        shapes = records_shapes(a)
        if shapes and cov is not None:
            shaped_cov.append(cov)
        cov_txt = pct(cov) + ("" if shapes or cov is None else " (no shapes)")
        print(f"| {p.relative_to(root)} | {s['device'].get('key') or 'unknown'} | {s['totals']['gpu_events']} | "
              f"{pct(c['link_rate_in_window'])} | {cov_txt} | {pct(lower_bound_share(a))} | {t / 1e3:.1f} | "
              f"{pct(c['time_with_flops_or_bytes_of_shaped'])} | "
              f"{pct(c['time_with_flops_or_bytes'])} | {r['with_ceiling']} | {r['suspect']} | {r['cache_resident']} |")
        if reasons and cov is not None and cov < 0.999:
            notes.append((str(p.relative_to(root)), uncovered_reasons(a)))
    if shaped_cov:
        print(f"\ntraces that record shapes: {len(shaped_cov)}; eager in-window coverage median "
              f"{100 * float(np.median(shaped_cov)):.1f}%, min {100 * min(shaped_cov):.1f}%")
    for name, rs in notes:
        print(f"\n{name}")
        for r, share in rs:
            print(f"  {100 * share:5.1f}%  {r}")


if __name__ == "__main__":
    main(sys.argv[1:])

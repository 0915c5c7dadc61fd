#!/usr/bin/env python3
"""Print, for every shared trace, link rate, FLOP/byte coverage and roofline flags (the #3/#4 closing-note table).

    python3 scripts/coverage_table.py [../shared/traces]
"""
import sys
from pathlib import Path

from traceflops import analyze


def main(root):
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz"))
                   and p.name not in ("SOURCES.json", "flops_reference.json"))
    print("| trace | device | GPU events | linked (in window) | time with FLOPs/bytes: linked+shaped | whole trace | with ceiling | suspect | cache-resident |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in files:
        a = analyze(p)
        s, c, r = a.summary, a.summary["coverage"], a.summary["roofline"]
        pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"
        print(f"| {p.relative_to(root)} | {s['device'].get('key') or 'unknown'} | {s['totals']['gpu_events']} | "
              f"{pct(c['link_rate_in_window'])} | {pct(c['time_with_flops_or_bytes_of_shaped'])} | "
              f"{pct(c['time_with_flops_or_bytes'])} | {r['with_ceiling']} | {r['suspect']} | {r['cache_resident']} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "traces")

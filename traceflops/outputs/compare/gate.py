"""Efficiency gates for a PR: thresholds on how matched work changed from BASE to NEW.

A gate is `METRIC:±N%` (relative change) or `METRIC:±Npt` (change in percentage points, for metrics that are
percentages). The sign says which way fails: `+` fails when the metric grows by more than N, `−` when it drops
by more than N.

    time:+5%      matched GPU time grew by more than 5%           (what --fail-on-regression 5 checks)
    mfu:-2pt      MFU (each trace's, over its wall time) dropped by more than 2 points
    busy_mfu:-2pt busy MFU (over GPU busy time) dropped by more than 2 points
    tflops:-3%    achieved TFLOP/s of matched work (ΣFLOPs / Σtime) dropped by more than 3%
    ceiling:-5pt  % of roofline ceiling of matched work (time-weighted) dropped by more than 5 points

A gate that cannot be evaluated (a side has no MFU, no matched FLOPs) is an error, never a pass.
"""
import re
from dataclasses import dataclass

METRICS = {
    "time": ("GPU time of matched work", False),
    "mfu": ("MFU", True),
    "busy_mfu": ("busy MFU", True),
    "tflops": ("achieved TFLOP/s of matched work", False),
    "ceiling": ("% of roofline ceiling of matched work", True),
}
GRAMMAR = re.compile(r"^\s*([a-z_]+)\s*:\s*([+-])\s*(\d+(?:\.\d*)?|\.\d+)\s*(%|pt)\s*$")
HELP = "METRIC:±N% or METRIC:±Npt, METRIC one of time, mfu, busy_mfu, tflops, ceiling (e.g. mfu:-2pt, time:+5%, tflops:-3%)"


@dataclass(frozen=True)
class Gate:
    spec: str
    metric: str
    sign: int  # +1: fail on growth, −1: fail on a drop
    limit: float
    unit: str  # "%" or "pt"


def parse_gate(spec):
    """A Gate from `METRIC:±N%` / `METRIC:±Npt`; ValueError with one line otherwise."""
    m = GRAMMAR.match(str(spec))
    if not m:
        raise ValueError(f"--gate {spec!r}: expected {HELP}")
    metric, sign, num, unit = m.groups()
    if metric not in METRICS:
        raise ValueError(f"--gate {spec!r}: unknown metric {metric!r}; expected {HELP}")
    if unit == "pt" and not METRICS[metric][1]:
        raise ValueError(f"--gate {spec!r}: {metric} is not a percentage, so it has no points; use % (e.g. {metric}:{sign}{num}%)")
    return Gate(spec.strip(), metric, 1 if sign == "+" else -1, float(num), unit)


def _values(res, metric):
    """(base, new) of a metric, in the unit its points are counted in (percent for mfu/ceiling)."""
    s = res.summary
    b, n = s["base"], s["new"]
    if metric == "time":
        return b.get("matched_time_us"), n.get("matched_time_us")
    if metric in ("mfu", "busy_mfu"):
        pct = lambda x: None if x is None else 100 * x  # noqa: E731
        return pct(b.get(metric)), pct(n.get(metric))
    if metric == "tflops":
        return b.get("matched_tflops"), n.get("matched_tflops")
    rs = s.get("roofline_shift") or {}
    return rs.get("pct_of_ceiling_base"), rs.get("pct_of_ceiling_new")


def evaluate(res, gates):
    """One result dict per gate: base, new, change (in the gate's unit), passed. ValueError when a gate cannot be
    evaluated on these traces."""
    out = []
    for g in gates:
        base, new = _values(res, g.metric)
        what = METRICS[g.metric][0]
        if base is None or new is None:
            side = "base" if base is None else "new"
            raise ValueError(f"--gate {g.spec}: the {side} trace has no {what} (no FLOPs with a known peak, or no "
                             "matched work), so the gate cannot be evaluated")
        if g.unit == "%":
            if base == 0:
                raise ValueError(f"--gate {g.spec}: the base {what} is 0, so a relative change is undefined; use pt "
                                 "or another metric")
            change = (new - base) / base * 100
        else:
            change = new - base
        passed = change <= g.limit if g.sign > 0 else change >= -g.limit
        out.append({"gate": g.spec, "metric": g.metric, "what": what, "unit": g.unit, "limit": g.sign * g.limit,
                    "base": float(base), "new": float(new), "change": float(change), "passed": bool(passed)})
    return out


def regression_result(res, pct):
    """--fail-on-regression PCT as a gate result (time:+PCT%), for the same verdict table."""
    d = res.summary.get("matched_delta_pct")
    b, n = res.summary["base"]["matched_time_us"], res.summary["new"]["matched_time_us"]
    return {"gate": f"--fail-on-regression {float(pct):g}", "metric": "time", "what": METRICS["time"][0], "unit": "%",
            "limit": float(pct), "base": b, "new": n, "change": d, "passed": not res.regressed(pct)}


def _num(x, unit):
    return "–" if x is None else (f"{x:+.2f} pt" if unit == "pt" else f"{x:+.2f}%")


def _value(metric, v, tflops_unit=" TFLOP/s"):
    """A gated figure: time in µs, TFLOP/s (the markdown table's metric column already names the unit), or %."""
    return f"{v:.4g} µs" if metric == "time" else (f"{v:.4g}{tflops_unit}" if metric == "tflops" else f"{v:.4g}%")


def _limit(r):
    return f"{r['limit']:+g} pt" if r["unit"] == "pt" else f"{r['limit']:+g}%"


def describe(r):
    """One line: `mfu:-2pt passed: MFU 41.20% -> 40.10% (-1.10 pt; limit -2 pt)`."""
    m = r["metric"]
    return (f"{r['gate']} {'passed' if r['passed'] else 'FAILED'}: {r['what']} {_value(m, r['base'])} -> "
            f"{_value(m, r['new'])} ({_num(r['change'], r['unit'])}; limit {_limit(r)})")


def gates_markdown(results, title="traceflops efficiency gate"):
    """A markdown block (for compare.md and $GITHUB_STEP_SUMMARY): the verdict, then one row per gate."""
    ok = all(r["passed"] for r in results)
    out = [f"#### {title}: {'pass' if ok else '**FAIL**'}", "", "| gate | metric | base | new | change | limit | verdict |",
           "|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        m = r["metric"]
        out.append(f"| `{r['gate']}` | {r['what']} | {_value(m, r['base'], '')} | {_value(m, r['new'], '')} "
                   f"| {_num(r['change'], r['unit'])} | {_limit(r)} | {'pass' if r['passed'] else '**FAIL**'} |")
    return "\n".join(out) + "\n"

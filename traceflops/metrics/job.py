"""job: MFU/HFU of a whole multi-rank job from its ranks' own figures.

Job MFU = Σ over ranks of Σ_i flops_i / peak_i  ÷  (GPUs of the job × job wall time), each kernel weighed
against the peak of its own device, dtype and math mode, as in mfu.py. A rank's Σ flops/peak is read back
from its own MFU block (mfu × wall × GPUs), so whatever mfu.py keeps out of MFU stays out here too.

Job wall time: from the first kernel start to the last kernel end over all ranks, on absolute time (a trace
with `baseTimeNanoseconds` has its timestamps shifted by it; older traces record epoch µs). That needs the
ranks' clocks to be comparable: we take them to be when every rank's kernel window overlaps every other's,
as the ranks of one job do. Otherwise (other hosts' unsynchronized clocks, traces of different runs) the
job wall is the median rank wall, and `clock_note` says so. Per step: when every rank recorded the same
ProfilerStep numbers, each step's job MFU, with the spread of the ranks' own step MFU.
"""
import statistics

import numpy as np
import pandas as pd


def rank_clock(a):
    """{format, base_ns, start_us, end_us, steps: [[step, start_us, end_us]]} of an Analysis, or None without timed
    GPU activity. Times are the trace's own (µs after `base_ns`, its baseTimeNanoseconds, or 0 for epoch-µs
    traces): `_absolute` puts the ranks on one time line without adding 1.7e15 µs to each (float precision)."""
    k = a.kernels
    k = k[k["ts_us"].notna() & k["dur_us"].notna()]
    if not len(k):
        return None
    meta = a.trace.meta
    base = int(meta.base_time_ns) if meta.relative_time and meta.base_time_ns else 0
    ts = k["ts_us"].to_numpy(float)
    end = ts + k["dur_us"].to_numpy(float)
    steps = []
    if "step" in k:
        st = pd.to_numeric(k["step"], errors="coerce").to_numpy(float)
        for s in np.unique(st[np.isfinite(st)]):
            m = st == s
            steps.append([int(s), float(ts[m].min()), float(end[m].max())])
    return {"format": meta.time_format, "base_ns": base, "start_us": float(ts.min()), "end_us": float(end.max()),
            "steps": steps}


def _absolute(clocks):
    """The clocks on one time line: each shifted by its base time less the earliest base (µs)."""
    ref = min(c.get("base_ns") or 0 for c in clocks)
    out = []
    for c in clocks:
        d = ((c.get("base_ns") or 0) - ref) / 1e3
        out.append({**c, "start_us": c["start_us"] + d, "end_us": c["end_us"] + d,
                    "steps": [[s, a + d, b + d] for s, a, b in c.get("steps") or []]})
    return out


def _peak_seconds(block, key):
    """Σ flops/peak of a rank's (or a rank step's) MFU block: its `key` (mfu or hfu) × wall × GPUs."""
    v, wall, gpus = block.get(key), block.get("wall_us"), block.get("gpus")
    return float(v) * float(wall) * 1e-6 * int(gpus) if v is not None and wall and gpus else 0.0


def _spread(values):
    v = [float(x) for x in values if x is not None]
    return {"min": min(v), "median": float(statistics.median(v)), "max": max(v)} if v else None


def _comparable(clocks):
    """(comparable, note) for the ranks' kernel windows on absolute time."""
    if any(c is None for c in clocks):
        return False, "a rank has no timed kernels"
    if len(clocks) == 1:
        return True, "one rank"
    clocks = _absolute(clocks)
    latest_start = max(c["start_us"] for c in clocks)
    earliest_end = min(c["end_us"] for c in clocks)
    if latest_start < earliest_end:
        formats = sorted({c["format"] for c in clocks})
        return True, f"every rank's kernel window overlaps the others' on absolute time ({', '.join(formats)})"
    return False, ("the ranks' kernel windows do not all overlap on absolute time (clocks of different hosts, or "
                   "traces of different runs): the job wall is the median rank wall")


def _ratio(ps, gpus, wall_us):
    return ps / (gpus * wall_us * 1e-6) if ps > 0 and gpus and wall_us and wall_us > 0 else None


def job_mfu(results):
    """The `job` block of the combined summary from the per-rank dicts of apps/ranks.py."""
    rs = [r for r in results if (r.get("mfu_block") or {}).get("gpus")]
    if not rs:
        return {"mfu": None, "hfu": None, "note": "no rank has timed GPU activity"}
    blocks = [r["mfu_block"] for r in rs]
    gpus = sum(int(b["gpus"]) for b in blocks)
    flops = float(np.nansum([b.get("flops") or 0.0 for b in blocks]))
    clocks = [r.get("clock") for r in rs]
    comparable, note = _comparable(clocks)
    if comparable:
        clocks = _absolute(clocks)
        wall = max(c["end_us"] for c in clocks) - min(c["start_us"] for c in clocks)
        basis = "first kernel start to last kernel end over all ranks"
    else:
        wall = float(statistics.median(b["wall_us"] for b in blocks))
        basis = "median rank wall (first to last kernel of each rank)"
    no_mfu = [r["rank"] for r in rs if r["mfu_block"].get("mfu") is None]
    out = {
        "ranks": len(rs), "gpus": gpus, "flops": flops, "wall_us": float(wall), "wall_basis": basis,
        "clocks_comparable": comparable, "clock_note": note,
        "mfu": _ratio(sum(_peak_seconds(b, "mfu") for b in blocks), gpus, wall),
        "hfu": _ratio(sum(_peak_seconds(b, "hfu") for b in blocks), gpus, wall),
        "achieved_tflops": flops / (gpus * wall * 1e-6) / 1e12 if wall > 0 else None,
        "rank_mfu": _spread(b.get("mfu") for b in blocks),
        "ranks_without_mfu": no_mfu,
    }
    if no_mfu:
        out["note"] = (f"rank(s) {no_mfu} have no MFU (no FLOPs, or an unknown device or dtype): their GPUs count in "
                       "the denominator with no FLOPs")
    out.update(_per_step(rs, clocks if comparable else None))
    return out


def _per_step(rs, clocks):
    """Per-step job figures when every rank has the same ProfilerStep numbers."""
    step_sets = [tuple(sorted(int(s["step"]) for s in r.get("per_step") or [] if s.get("step") is not None)) for r in rs]
    if not step_sets[0] or any(s != step_sets[0] for s in step_sets):
        why = ("no rank records ProfilerStep annotations" if not any(step_sets)
               else "the ranks' ProfilerStep numbers differ")
        return {"steps_aligned": False, "steps_note": why, "per_step": None}
    rows = []
    for step in step_sets[0]:
        blocks = [next(s for s in r["per_step"] if s.get("step") == step) for r in rs]
        gpus = sum(int(b.get("gpus") or 0) for b in blocks)
        win = [w for c in clocks for w in c["steps"] if w[0] == step] if clocks else []
        if len(win) == len(rs):
            wall = max(w[2] for w in win) - min(w[1] for w in win)
        else:
            wall = float(statistics.median(b["wall_us"] for b in blocks if b.get("wall_us")))
        rows.append({"step": step, "ranks": len(blocks), "gpus": gpus,
                     "flops": float(np.nansum([b.get("flops") or 0.0 for b in blocks])), "wall_us": float(wall),
                     "mfu": _ratio(sum(_peak_seconds(b, "mfu") for b in blocks), gpus, wall),
                     "hfu": _ratio(sum(_peak_seconds(b, "hfu") for b in blocks), gpus, wall),
                     "rank_mfu": _spread(b.get("mfu") for b in blocks)})
    return {"steps_aligned": True, "steps_note": f"every rank records ProfilerStep {', '.join(map(str, step_sets[0]))}",
            "per_step": rows}

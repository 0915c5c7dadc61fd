"""Many rank traces at once: one task per rank, run in local processes or on a Dask cluster.

Each task analyzes one trace and writes its tables straight into a Parquet dataset partitioned by rank
(`OUT/kernels/rank=N/part-0.parquet`, `OUT/ops/rank=N/part-0.parquet`; pandas, pyarrow and DuckDB read
the folder as one table with a `rank` column) plus `OUT/ranks/rank=N/summary.json`. Only a small dict per
rank goes back to the driver, which writes the combined `OUT/summary.json` with per-rank totals and
stragglers.

Executors: "local" (concurrent.futures.ProcessPoolExecutor, `jobs` processes; 1 runs in-process),
"dask://HOST:PORT" (an existing Dask scheduler, via distributed.Client.map), "dask://local" (a
LocalCluster started for the run). Every worker must see the input files and OUT at the same paths.
"""
import json
import os
import statistics
import sys
from pathlib import Path

STRAGGLER_PCT = 10.0


def analyze_rank(path, index, outdir, devices=None, max_bytes=None, report=False):
    """One rank: analyze `path`, write its partition under `outdir`, return a small summary dict.
    `devices`: the run's roofline.Devices (resolved once by the caller)."""
    from ..ingest import DEFAULT_MAX_BYTES
    from ..outputs import summary_json, write_parquet
    from ..pipeline import analyze

    # ranks already run one process per core: no nested decoding workers
    a = analyze(path, devices=devices, max_bytes=max_bytes or DEFAULT_MAX_BYTES, workers=1)
    rank = a.summary["trace"].get("rank")
    try:
        rank = int(rank)
    except (TypeError, ValueError):
        rank = index  # no distributedInfo.rank: the file's position in the list
    out = Path(outdir)
    written = {}
    for table, df in (("kernels", a.kernels), ("ops", a.ops)):
        part = out / table / f"rank={rank}"
        part.mkdir(parents=True, exist_ok=True)
        write_parquet(df, part / "part-0.parquet")
        written[table] = str(part / "part-0.parquet")
    rdir = out / "ranks" / f"rank={rank}"
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "summary.json").write_text(summary_json(a.summary), encoding="utf-8")
    if report:
        from ..outputs.report.html import write_report
        write_report(a, rdir / "report.html")
    mfu = a.summary.get("mfu") or {}
    steps = [s.get("wall_us") for s in mfu.get("per_step") or [] if s.get("wall_us")]
    return {
        "rank": rank, "index": index, "trace": a.name, "path": str(path),
        "world_size": a.summary["trace"].get("world_size"),
        "totals": a.summary["totals"],
        "step_time_us": float(statistics.median(steps)) if steps else mfu.get("wall_us"),
        "steps": len(steps),
        "mfu": mfu.get("mfu"),
        "warnings": a.summary.get("warnings", []),
        "files": written,
    }


def run_ranks(files, outdir, *, jobs=None, executor="local", straggler_pct=STRAGGLER_PCT, device=None,
              device_file=None, **kw):
    """Analyze every file as one rank; returns the combined summary (also written to OUT/summary.json).
    The device catalog and --device are resolved once, here, for every rank."""
    from ..roofline import Devices
    kw["devices"] = kw.get("devices") or Devices.load(device, device_file)
    files = [str(f) for f in files]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    if executor.startswith("dask://"):
        results = _run_dask(executor[len("dask://"):], files, outdir, jobs, kw)
    elif executor == "local":
        results = _run_local(files, outdir, jobs, kw)
    else:
        raise ValueError(f"unknown executor {executor!r} (use local, dask://HOST:PORT or dask://local)")
    summary = combine(results, straggler_pct)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _run_local(files, outdir, jobs, kw):
    args = [(f, i, str(outdir)) for i, f in enumerate(files)]
    if jobs <= 1 or len(files) <= 1:
        return [analyze_rank(*a, **kw) for a in args]
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp
    # fork on Linux: the driver holds only its imports here, so each worker starts with pandas and pyarrow
    # loaded instead of importing them again (0.5 s a worker, the most of a small rank's work); elsewhere
    # forkserver/spawn, as fork with these libraries loaded is not safe on macOS
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") and "fork" in methods
                         else "forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=ctx) as pool:
        futures = [pool.submit(analyze_rank, *a, **kw) for a in args]
        return [f.result() for f in futures]


def _run_dask(address, files, outdir, jobs, kw):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--executor dask://… needs Dask: pip install 'traceflops[dask]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=min(jobs, len(files)), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address if "://" in address else f"tcp://{address}")
    try:
        futures = client.map(analyze_rank, files, range(len(files)), [str(outdir)] * len(files),
                             pure=False, **kw)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def combine(results, straggler_pct=STRAGGLER_PCT):
    """Combined summary: per-rank totals, medians and stragglers (> straggler_pct % above the median)."""
    results = sorted(results, key=lambda r: (r["rank"], r["index"]))
    ranks = [r["rank"] for r in results]
    warnings = []
    dup = sorted({r for r in ranks if ranks.count(r) > 1})
    if dup:
        warnings.append(f"rank(s) {dup} appear in more than one file; their partitions overwrite each other")

    def med(key):
        vals = [v for v in (key(r) for r in results) if v is not None]
        return float(statistics.median(vals)) if vals else None

    busy_med = med(lambda r: r["totals"].get("gpu_busy_us"))
    step_med = med(lambda r: r["step_time_us"])
    stragglers = []
    for r in results:
        why = []
        busy = r["totals"].get("gpu_busy_us")
        if busy_med and busy is not None and busy > busy_med * (1 + straggler_pct / 100):
            why.append(f"GPU busy {100 * (busy / busy_med - 1):.1f}% above the median")
        if step_med and r["step_time_us"] is not None and r["step_time_us"] > step_med * (1 + straggler_pct / 100):
            why.append(f"step time {100 * (r['step_time_us'] / step_med - 1):.1f}% above the median")
        if why:
            stragglers.append({"rank": r["rank"], "why": why})
    for r in results:
        warnings.extend(f"rank {r['rank']}: {w}" for w in r["warnings"])
    return {
        "ranks": [{k: r[k] for k in ("rank", "trace", "path", "world_size", "totals", "step_time_us", "steps", "mfu")}
                  for r in results],
        "rank_count": len(results),
        "median": {"gpu_busy_us": busy_med, "step_time_us": step_med},
        "straggler_threshold_pct": straggler_pct,
        "stragglers": stragglers,
        "layout": {"kernels": "kernels/rank=N/part-0.parquet", "ops": "ops/rank=N/part-0.parquet",
                   "per_rank_summary": "ranks/rank=N/summary.json"},
        "warnings": warnings,
    }


def read_dataset(outdir, table="kernels"):
    """A rank-partitioned table back as one DataFrame (with an int `rank` column), sorted by rank."""
    import pandas as pd
    import pyarrow.parquet as pq
    base = Path(outdir) / table
    frames = []
    for part in sorted(base.glob("rank=*"), key=lambda p: int(p.name.split("=", 1)[1])):
        df = pq.read_table(part / "part-0.parquet").to_pandas()
        df.insert(0, "rank", int(part.name.split("=", 1)[1]))
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

"""Many rank traces at once: one task per rank, run in local processes or on a Dask cluster.

Each task analyzes one trace and writes its tables straight into a Parquet dataset partitioned by rank
(`OUT/kernels/rank=N/part-0.parquet`, `OUT/ops/rank=N/part-0.parquet`; pandas, pyarrow and DuckDB read
the folder as one table with a `rank` column) plus `OUT/ranks/rank=N/summary.json`. Only a small dict per
rank goes back to the driver, which writes the combined `OUT/summary.json` with per-rank totals,
stragglers and the job's MFU over all its GPUs (metrics/job.py).

Two files that report the same rank (two jobs, or a re-run beside the first) never overwrite each other:
then every partition is keyed by file as well, `OUT/kernels/rank=N/file=NAME/part-0.parquet` (NAME: the trace's
file name without .json/.gz), and the dataset has a `file` column beside `rank`. Either way Σ rows over the
folder = Σ GPU events over the traces.

Executors: "local" (concurrent.futures.ProcessPoolExecutor, `jobs` processes; 1 runs in-process),
"dask://HOST:PORT" (an existing Dask scheduler, via distributed.Client.map), "dask://local" (a
LocalCluster started for the run). Every worker must see the input files and OUT at the same paths.
"""
import json
import os
import re
import shutil
import statistics
import sys
from pathlib import Path

STRAGGLER_PCT = 10.0
TREES = ("kernels", "ops", "ranks")  # the folders partitioned by rank


def file_keys(files):
    """A partition value per file: its name without .json/.gz, made path-safe, unique within the run."""
    from ..ingest import trace_name
    keys = [re.sub(r"[^A-Za-z0-9._-]+", "_", trace_name(f)).strip("._") or "trace" for f in files]
    seen = {}
    for i, k in enumerate(keys):
        if keys.count(k) > 1:
            seen[k] = seen.get(k, 0) + 1
            keys[i] = f"{k}-{seen[k]}"
    return keys


def analyze_rank(path, index, outdir, devices=None, max_bytes=None, report=False, file_key=None):
    """One rank: analyze `path`, write its partition under `outdir`, return a small summary dict.
    `devices`: the run's roofline.Devices (resolved once by the caller). The partition is
    `rank=N/file=FILE_KEY`; the driver moves it up to `rank=N` when no other file reports rank N."""
    from ..ingest import DEFAULT_MAX_BYTES
    from ..metrics.job import rank_clock
    from ..outputs import summary_json, write_parquet
    from ..pipeline import analyze

    # ranks already run one process per core: no nested decoding workers
    a = analyze(path, devices=devices, max_bytes=max_bytes or DEFAULT_MAX_BYTES, workers=1)
    rank = a.summary["trace"].get("rank")
    try:
        rank = int(rank)
    except (TypeError, ValueError):
        rank = index  # no distributedInfo.rank: the file's position in the list
    file_key = file_key or file_keys([path])[0]
    part = f"rank={rank}/file={file_key}"
    out = Path(outdir)
    for table, df in (("kernels", a.kernels), ("ops", a.ops)):
        (out / table / part).mkdir(parents=True, exist_ok=True)
        write_parquet(df, out / table / part / "part-0.parquet")
    rdir = out / "ranks" / part
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "summary.json").write_text(summary_json(a.summary), encoding="utf-8")
    if report:
        from ..outputs.report.html import write_report
        write_report(a, rdir / "report.html")
    mfu = a.summary.get("mfu") or {}
    steps = [s.get("wall_us") for s in mfu.get("per_step") or [] if s.get("wall_us")]
    return {
        "rank": rank, "index": index, "trace": a.name, "path": str(path), "file": file_key, "partition": part,
        "world_size": a.summary["trace"].get("world_size"),
        "totals": a.summary["totals"],
        "step_time_us": float(statistics.median(steps)) if steps else mfu.get("wall_us"),
        "steps": len(steps),
        "mfu": mfu.get("mfu"),
        "mfu_block": {k: mfu.get(k) for k in ("mfu", "hfu", "flops", "wall_us", "gpus", "kernels_with_flops_but_no_peak")},
        "per_step": [{k: s.get(k) for k in ("step", "mfu", "hfu", "flops", "wall_us", "gpus")} for s in mfu.get("per_step") or []],
        "clock": rank_clock(a),
        "warnings": a.summary.get("warnings", []),
    }


def run_ranks(files, outdir, *, jobs=None, executor="local", straggler_pct=STRAGGLER_PCT, device=None,
              device_file=None, **kw):
    """Analyze every file as one rank; returns the combined summary (also written to OUT/summary.json).
    The device catalog and --device are resolved once, here, for every rank."""
    from ..roofline import Devices
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    kw["devices"] = kw.get("devices") or Devices.load(device, device_file)
    files = [str(f) for f in files]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    keys = file_keys(files)
    if executor.startswith("dask://"):
        results = _run_dask(executor[len("dask://"):], files, keys, outdir, jobs, kw)
    elif executor == "local":
        results = _run_local(files, keys, outdir, jobs, kw)
    else:
        raise ValueError(f"unknown executor {executor!r} (use local, dask://HOST:PORT or dask://local)")
    _settle_partitions(outdir, results)
    summary = combine(results, straggler_pct)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _settle_partitions(outdir, results):
    """Drop what an earlier run left in the rank folders this run wrote, then move each partition up to
    `rank=N` unless two files report rank N (then every partition keeps its `file=` level, so the dataset
    has one depth)."""
    ranks = [r["rank"] for r in results]
    collide = len(set(ranks)) < len(ranks)
    mine = {}
    for r in results:
        mine.setdefault(r["rank"], set()).add(f"file={r['file']}")
    for tree in TREES:
        for rank, names in mine.items():
            rdir = outdir / tree / f"rank={rank}"
            for child in list(rdir.iterdir()) if rdir.is_dir() else []:
                if child.name not in names:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
    for r in results:
        if collide:
            continue
        for tree in TREES:
            src = outdir / tree / r["partition"]
            if not src.is_dir():
                continue
            for f in src.iterdir():
                os.replace(f, src.parent / f.name)
            src.rmdir()
        r["partition"] = f"rank={r['rank']}"


def _run_local(files, keys, outdir, jobs, kw):
    args = [(f, i, str(outdir)) for i, f in enumerate(files)]
    if jobs <= 1 or len(files) <= 1:
        return [analyze_rank(*a, file_key=k, **kw) for a, k in zip(args, keys)]
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp
    # fork on Linux: the driver holds only its imports here, so each worker starts with pandas and pyarrow
    # loaded instead of importing them again (0.5 s a worker, the most of a small rank's work); elsewhere
    # forkserver/spawn, as fork with these libraries loaded is not safe on macOS
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") and "fork" in methods
                         else "forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=ctx) as pool:
        futures = [pool.submit(analyze_rank, *a, file_key=k, **kw) for a, k in zip(args, keys)]
        return [f.result() for f in futures]


def _run_dask(address, files, keys, outdir, jobs, kw):
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
        futures = client.map(_analyze_keyed, files, range(len(files)), [str(outdir)] * len(files), keys,
                             pure=False, **kw)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _analyze_keyed(path, index, outdir, file_key, **kw):
    return analyze_rank(path, index, outdir, file_key=file_key, **kw)


def combine(results, straggler_pct=STRAGGLER_PCT):
    """Combined summary: per-rank totals, medians, stragglers (> straggler_pct % above the median) and the job's
    MFU over all its GPUs."""
    from ..metrics.job import job_mfu
    results = sorted(results, key=lambda r: (r["rank"], r["index"]))
    ranks = [r["rank"] for r in results]
    warnings = []
    dup = sorted({r for r in ranks if ranks.count(r) > 1})
    if dup:
        warnings.append(f"rank(s) {dup} appear in more than one file: every partition is keyed by file as well "
                        "(kernels/rank=N/file=NAME/part-0.parquet), no rows are dropped")

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
            stragglers.append({"rank": r["rank"], "trace": r["trace"], "why": why})
    for r in results:
        warnings.extend(f"rank {r['rank']}: {w}" for w in r["warnings"])
    layout = "rank=N/file=NAME" if dup else "rank=N"
    return {
        "ranks": [{k: r.get(k) for k in ("rank", "trace", "path", "file", "partition", "world_size", "totals",
                                         "step_time_us", "steps", "mfu")} for r in results],
        "rank_count": len(results),
        "median": {"gpu_busy_us": busy_med, "step_time_us": step_med},
        "straggler_threshold_pct": straggler_pct,
        "stragglers": stragglers,
        "job": job_mfu(results),
        "layout": {"kernels": f"kernels/{layout}/part-0.parquet", "ops": f"ops/{layout}/part-0.parquet",
                   "per_rank_summary": f"ranks/{layout}/summary.json",
                   "keyed_by_file": bool(dup)},
        "warnings": warnings,
    }


def _partitions(base):
    """(rank, file or None, parquet path) of every partition below `base`, by rank then file."""
    out = []
    for rdir in base.glob("rank=*"):
        try:
            rank = int(rdir.name.split("=", 1)[1])
        except ValueError:
            continue
        if (rdir / "part-0.parquet").exists():
            out.append((rank, None, rdir / "part-0.parquet"))
        out += [(rank, f.name.split("=", 1)[1], f / "part-0.parquet") for f in rdir.glob("file=*")
                if (f / "part-0.parquet").exists()]
    return sorted(out, key=lambda t: (t[0], t[1] or ""))


def read_dataset(outdir, table="kernels"):
    """A rank-partitioned table back as one DataFrame (with an int `rank` column, and a `file` column when
    partitions are keyed by file), sorted by rank."""
    import pandas as pd
    import pyarrow.parquet as pq
    frames = []
    parts = _partitions(Path(outdir) / table)
    by_file = any(f is not None for _, f, _ in parts)
    for rank, file, path in parts:
        df = pq.read_table(path).to_pandas()
        df.insert(0, "rank", rank)
        if by_file:
            df.insert(1, "file", file)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

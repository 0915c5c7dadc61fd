"""Write an Analysis to disk: kernels.parquet, ops.parquet, summary.json, report.html (and steps.parquet).

Outputs are deterministic: the same trace gives byte-identical Parquet and JSON (no timestamps,
no hostnames, stable column order and types).
"""
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import TraceError
from ..memory import gc_paused
from .parquet import write_parquet
from .redact import redact


def json_safe(o):
    """Plain JSON types: numpy scalars unwrapped, NaN/inf and pd.NA as null."""
    if isinstance(o, dict):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.bool_):
        return bool(o)
    if o is pd.NA:
        return None
    return o


def summary_json(summary):
    return json.dumps(json_safe(redact(summary)), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write_outputs(analysis, outdir, report=True):
    """Write kernels.parquet, ops.parquet, summary.json (and report.html) of `analysis` into `outdir`."""
    with gc_paused():
        return _write(analysis, Path(outdir), report)


def writable_dir(outdir):
    """Create `outdir` and check a file can be written there: one clear TraceError otherwise (a file in the way,
    no permission), before any output is half-written."""
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        probe = outdir / ".traceflops-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise TraceError(f"{outdir}: cannot write output folder ({e.strerror or e})") from None
    return outdir


def _write(analysis, outdir, report):
    writable_dir(outdir)
    paths = {"kernels": outdir / "kernels.parquet", "ops": outdir / "ops.parquet", "summary": outdir / "summary.json"}
    steps = getattr(analysis, "steps", None)
    if steps is not None and len(steps):  # serving traces: one row per engine step (docs/serving.md)
        paths["steps"] = outdir / "steps.parquet"
        write_parquet(steps, paths["steps"])
    # Parquet encoding and compression run in Arrow's C++ without the GIL: a thread writes the tables (one
    # row group at a time) while this one renders the report. (A forked renderer was faster by 0.4 s on a
    # 505 MB trace but copied 150 MB of shared pages: docs/performance.md.)
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = pool.submit(lambda: [write_parquet(analysis.kernels, paths["kernels"]),
                                       write_parquet(analysis.ops, paths["ops"])])
        try:
            paths["summary"].write_text(summary_json(analysis.summary), encoding="utf-8")
            if report:
                from .report.html import write_report
                paths["report"] = outdir / "report.html"
                write_report(analysis, paths["report"])
        finally:
            err = written.exception()  # waits; an error of the report itself goes up first
    if err is not None:
        raise err
    return paths

"""Write an Analysis to disk: kernels.parquet, ops.parquet, summary.json, report.html.

Outputs are deterministic: the same trace gives byte-identical Parquet and JSON (no timestamps,
no hostnames, stable column order and types).
"""
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import TraceError
from .redact import redact


ROW_GROUP = 1 << 17  # rows converted and written at a time: one slice of Arrow strings alive, not the whole table


def _arrow(df, types=None):
    """Plain Arrow types: text columns become strings, flag columns bools; the schema does not depend on
    the data (an all-null text column is still a string column), so outputs stay comparable. `types`
    fixes the type of object columns (a slice's type must be the whole table's)."""
    out = {}
    for c in df.columns:
        s = df[c]
        if str(s.dtype) in ("str", "string"):
            out[c] = pa.array(s, type=pa.string(), from_pandas=True)
        elif s.dtype == object:
            out[c] = _object_column(s)
            want = (types or {}).get(c)
            if want is not None and out[c].type != want:
                out[c] = out[c].cast(want)
        elif str(s.dtype) in ("Int64", "Int32"):
            out[c] = pa.array(s, type=pa.int64())
        else:
            out[c] = pa.array(s.to_numpy(), from_pandas=True)
    return pa.table(out)


def _object_column(s):
    try:
        arr = pa.array(s, from_pandas=True)  # C speed for the usual all-str / all-bool columns
        if pa.types.is_string(arr.type) or pa.types.is_boolean(arr.type):
            return arr
        if pa.types.is_null(arr.type):
            return arr.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    vals = [None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else
            (v if isinstance(v, str) else (bool(v) if isinstance(v, (bool, np.bool_)) else str(v))) for v in s]
    types = {type(v) for v in vals if v is not None}
    return pa.array(vals, type=pa.bool_() if types == {bool} else pa.string())


def _object_types(df):
    """The Arrow type `_object_column` gives each object column of the whole table (bool only when every
    value is a bool)."""
    return {c: pa.bool_() if pd.api.types.infer_dtype(df[c], skipna=True) == "boolean" else pa.string()
            for c in df.columns if df[c].dtype == object}


def write_parquet(df, path):
    if len(df) <= ROW_GROUP:
        pq.write_table(_arrow(df), path, **PARQUET)
        return
    types = _object_types(df)
    writer = None
    try:
        for start in range(0, len(df), ROW_GROUP):
            table = _arrow(df.iloc[start:start + ROW_GROUP], types)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, **PARQUET)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


PARQUET = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}


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
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        probe = outdir / ".traceflops-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise TraceError(f"{outdir}: cannot write output folder ({e.strerror or e})") from None
    paths = {"kernels": outdir / "kernels.parquet", "ops": outdir / "ops.parquet", "summary": outdir / "summary.json"}
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

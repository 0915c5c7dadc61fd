"""Parquet files of the kernel and op tables: plain Arrow types, written in row groups."""
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


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
    if {type(v) for v in vals if v is not None} == {bool}:
        return pa.array(vals, type=pa.bool_())
    # mixed with other values a bool is text too ("True"), as every other value is
    return pa.array([v if v is None or isinstance(v, str) else str(v) for v in vals], type=pa.string())


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

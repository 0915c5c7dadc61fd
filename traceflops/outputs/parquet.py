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


LONG_TEXT = 64  # mean characters per value above which repeated text is converted once per distinct value


def _long_text(s):
    """Whether a sample of the column's values averages more than LONG_TEXT characters of text: converting each
    distinct value once then costs less than copying every row's characters (module paths: 96 ms against 25 for
    341k rows of 114 characters; 42-character types were faster row by row)."""
    sample = [v for v in s.to_numpy(object)[:: max(1, len(s) // 1000)] if isinstance(v, str)]
    return bool(sample) and sum(map(len, sample)) > LONG_TEXT * len(sample)


def _by_value(s):
    """A string array built from each distinct value once, or None when some value is not text."""
    codes, uniq = pd.factorize(s.to_numpy(object), use_na_sentinel=True)
    if not all(isinstance(u, str) for u in uniq):
        return None
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(uniq, type=pa.string()))
    return dictionary.cast(pa.string())


def _object_column(s):
    if len(s) and _long_text(s):
        arr = _by_value(s)
        if arr is not None:
            return arr
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
    return {c: pa.bool_() if _all_bool(df[c]) else pa.string() for c in df.columns if df[c].dtype == object}


def _all_bool(s):
    """Whether every value that is not missing is a bool. Text among the first rows settles it without inferring
    the type of every row (most object columns are text)."""
    values = s.to_numpy(object)
    if any(isinstance(v, str) for v in values[:64]):
        return False
    return pd.api.types.infer_dtype(values, skipna=True) == "boolean"


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

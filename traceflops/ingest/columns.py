"""Small column coercions shared by the table builders: lenient in, typed out."""
import numpy as np
import pandas as pd
import pyarrow as pa

import msgspec

_INT_OR_NONE = {int, type(None)}


def _scalar(v, limit):
    """A number or numeric string, else None (lists, dicts, bools and out-of-range ints are unusable)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    if isinstance(v, int) and abs(v) >= limit:
        return None
    return v


def floats(values):
    """float64 array; strings like "inf"/"12.5" are parsed, anything else unusable becomes NaN."""
    if values.count(None) == len(values):  # an arg most events lack: numpy converts None one by one
        return np.full(len(values), np.nan)
    try:
        arr = np.array(values, dtype=np.float64)
        if arr.ndim == 1 and len(arr) == len(values):
            return arr
    except (TypeError, ValueError, OverflowError):
        pass
    clean = [_scalar(v, 1e308) for v in values]
    return pd.to_numeric(pd.Series(clean, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def ints(values):
    """Nullable Int64; values outside int64 or not integral become <NA>."""
    n = len(values)
    nones = values.count(None)
    if nones == n:  # an arg most events lack
        return pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
    if nones and set(map(type, values)) == _INT_OR_NONE:  # pandas infers such a list one value at a time
        obj = np.array(values, dtype=object)
        mask = np.equal(obj, None)
        obj[mask] = 0
        try:
            return pd.arrays.IntegerArray(obj.astype(np.int64), mask)
        except OverflowError:
            pass
    return _ints_general(values)


def _ints_general(values):
    try:
        with np.errstate(invalid="ignore"):  # a NaN among floats: numpy warns before pandas refuses it
            return pd.array(values, dtype="Int64")
    except (TypeError, ValueError, OverflowError):
        clean = [_scalar(v, 2**62) for v in values]
        f = pd.to_numeric(pd.Series(clean, dtype=object), errors="coerce")
        f = f.where((f.abs() < 2**62) & (f == f.round()))
        return pd.array(f.astype("Float64"), dtype="Int64")


def keys(values):
    """pid/tid as text: ints and digit strings agree ("1890023232" == 1890023232), other strings kept."""
    types = set(map(type, values))
    if types <= {str}:
        return list(values)
    if types <= {int}:
        try:  # pids and tids repeat: each distinct one is written once, as str() writes it
            codes, uniques = pd.factorize(np.fromiter(values, np.int64, len(values)))
        except OverflowError:
            return list(map(str, values))
        return pa.array(list(map(str, uniques.tolist())), pa.large_string()).take(pa.array(codes))
    out = []
    for v in values:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(None if v is None else str(v))
    return out


def stream_of(tids):
    """GPU stream from a tid when args lack it: 7, "7" or the 2021 "stream 7"."""
    out = []
    for t in tids:
        if isinstance(t, int):
            out.append(t)
        elif isinstance(t, str):
            digits = t.replace("stream", "").strip().split(" ")[0]
            out.append(int(digits) if digits.isdigit() else None)
        else:
            out.append(None)
    return out


def raw_json(raws, keep=None, derive=None):
    """Raw JSON slices (an empty one for a missing key), each distinct value decoded once →
    (canonical compact text per row, decoded value per row[, derive(value) per row]).

    Values for which keep(decoded) is false, and missing ones, are None in both. Canonical text makes shapes
    comparable across traces whose writers space JSON differently; the decoded values are shared objects
    (one per distinct value): later stages read them and never parse the text again.
    """
    try:
        data = b"".join(raws)  # Raw slices are joined without a bytes object per row
    except TypeError:  # a None among them (a caller outside the table builders): read as missing
        raws = [b"" if r is None else r for r in raws]
        data = b"".join(raws)
    n = len(raws)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, raws), np.int64, n), out=offsets[1:])
    arr = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    enc = arr.dictionary_encode()
    decoded = [_decode(u, keep) for u in enc.dictionary.to_pylist()]
    codes = enc.indices.to_numpy()
    text = np.array([None if v is None else msgspec.json.encode(v).decode() for v in decoded], dtype=object)
    values = np.empty(len(decoded), dtype=object)
    for i, v in enumerate(decoded):  # one by one: a slice assignment would read nested lists as dimensions
        values[i] = v
    out = (text[codes], values[codes])
    if derive is not None:
        out += (np.array([derive(v) for v in decoded] or [np.nan], dtype=float)[codes],)
    return out


def raw_text(raws, keep=None):
    """Canonical compact JSON text per row of Raw slices (see raw_json)."""
    return raw_json(raws, keep)[0]


def _decode(b, keep=None):
    try:
        v = msgspec.json.decode(b)
    except msgspec.DecodeError:  # b"" (a missing key) lands here
        return None
    if v is None or (keep is not None and not keep(v)):
        return None
    return v


def size_of(dims):
    """The product of a grid/block [x, y, z]: blocks in the grid, threads in a block (NaN when unknown)."""
    if not isinstance(dims, list) or not dims:
        return np.nan
    try:
        return float(np.prod([int(x) for x in dims]))
    except (TypeError, ValueError, OverflowError):
        return np.nan


def has_zero_stride(strides):
    """True when some tensor input has a stride-0 (expand()ed) dimension, the only strides that change a byte count."""
    return isinstance(strides, list) and any(isinstance(s, list) and 0 in s for s in strides)


def text_column(values, index=None):
    """An object column for repeated text (shapes, module paths, labels): from a plain array pandas 3 infers
    "str" and copies every row's characters into Arrow, and back to Python on each read (72 MB for one
    505 MB trace's module paths). Only an object Series escapes the inference."""
    return pd.Series(values, index=index, dtype=object, copy=False)


def names(values):
    if set(map(type, values)) <= {str}:
        return list(values)
    return [v if isinstance(v, str) else ("" if v is None else str(v)) for v in values]


def text_at(values, rows):
    """values[rows] of a text Series, missing where a row is -1. Arrow text is taken as it is: no Python str per
    row, and the result is text again."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.array.take(rows, allow_fill=True)
    return np.where(rows >= 0, values.to_numpy(object)[np.clip(rows, 0, None)] if len(values) else None, None)

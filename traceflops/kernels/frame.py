"""Vectorized costing of an op table: each formula runs once per unique signature."""
from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd

from .registry import has_formula, op_cost

KEY_COLS = ["name", "input_dims", "input_types", "concrete_inputs"]
EXTRA_COLS = ["kernel_flop", "kernel_num_gb", "collective", "in_msg_nelems", "out_msg_nelems", "group_size",
              "comm_dtype", "dtype_hint", "input_strides"]
# the decoded lists ingest puts beside each recorded text column (read instead of parsing the text again)
PARSED = {"input_dims": "shapes", "input_types": "types", "concrete_inputs": "concrete", "input_strides": "strides"}
FLOAT_OUT = ["flops", "recompute_flops", "bytes", "comm_bytes", "algbw_factor", "busbw_factor"]
OBJ_OUT = ["dtype", "flops_source", "family", "cost_note"]


def json_list(text):
    """A recorded JSON list value (already decoded by ingest, or text from a hand-made table) -> list;
    anything else -> []."""
    if isinstance(text, list):
        return text
    if isinstance(text, (str, bytes)) and text:
        try:
            v = orjson.loads(text)
        except orjson.JSONDecodeError:
            return []
        return v if isinstance(v, list) else []
    return []


def _missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def cost_ops(ops: pd.DataFrame) -> pd.DataFrame:
    """Columns flops, recompute_flops, bytes, comm_bytes, algbw_factor, busbw_factor (float64, NaN
    unknown) and dtype, flops_source, family, cost_note (str or None), on the input's index."""
    n = len(ops)
    out = {c: np.full(n, np.nan) for c in FLOAT_OUT}
    out.update({c: np.full(n, None, dtype=object) for c in OBJ_OUT})
    if n == 0 or "name" not in ops.columns:
        return pd.DataFrame(out, index=ops.index)
    name_codes, name_uniques = pd.factorize(ops["name"], use_na_sentinel=True)
    known = np.array([has_formula(u) for u in name_uniques], dtype=bool)
    rows = np.flatnonzero((name_codes >= 0) & known[np.where(name_codes >= 0, name_codes, 0)])
    if len(rows) == 0:
        return pd.DataFrame(out, index=ops.index)
    cols = [c for c in KEY_COLS + EXTRA_COLS if c in ops.columns]
    sub = ops.iloc[rows][cols]
    codes = sub.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    n_sig = len(first)
    sig = {c: np.full(n_sig, np.nan) for c in FLOAT_OUT}
    sig.update({c: np.full(n_sig, None, dtype=object) for c in OBJ_OUT})
    values = {c: sub[c].to_numpy() for c in cols}
    for text_col, parsed_col in PARSED.items():
        if text_col in values and parsed_col in ops.columns:
            values[text_col] = ops[parsed_col].to_numpy(object)[rows]
    extra_cols = [c for c in EXTRA_COLS if c in cols]
    for g, r in enumerate(first):
        extra = {c: values[c][r] for c in extra_cols if not _missing(values[c][r])}
        if "input_strides" in extra:
            extra["input_strides"] = json_list(extra["input_strides"])
        res = op_cost(values["name"][r],
                      json_list(values["input_dims"][r]) if "input_dims" in values else [],
                      json_list(values["input_types"][r]) if "input_types" in values else [],
                      json_list(values["concrete_inputs"][r]) if "concrete_inputs" in values else [],
                      extra or None)
        if res is None:
            continue
        for c, attr in (("flops", "flops"), ("recompute_flops", "recompute_flops"), ("bytes", "bytes"),
                        ("comm_bytes", "comm_bytes"), ("algbw_factor", "algbw_factor"),
                        ("busbw_factor", "busbw_factor")):
            v = getattr(res, attr)
            if v is not None:
                sig[c][g] = v
        sig["dtype"][g] = res.dtype
        sig["flops_source"][g] = res.source
        sig["family"][g] = res.family
        sig["cost_note"][g] = res.note
    for c in FLOAT_OUT + OBJ_OUT:
        out[c][rows] = sig[c][codes]
    return pd.DataFrame(out, index=ops.index)

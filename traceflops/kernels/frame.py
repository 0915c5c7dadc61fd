"""Vectorized costing of an op table: each formula runs once per unique signature.

Ops no formula costs get lower-bound bytes (fallback.py) where the op tree allows it: with a `parent`
column (the linked op table) the bound goes only to ops that launch kernels (optional bool column
`launches_kernels`) and sit outside every formula-costed op, without counting their sub-ops' bytes twice.
"""
from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd

from .args import Args
from .fallback import SOURCE as LOWER_BOUND
from .fallback import lower_bound, place
from .registry import context_of, has_formula, is_sparse, op_cost

KEY_COLS = ["name", "input_dims", "input_types", "concrete_inputs"]
EXTRA_COLS = ["kernel_flop", "kernel_num_gb", "collective", "in_msg_nelems", "out_msg_nelems", "group_size",
              "comm_dtype", "dtype_hint", "input_strides"]
# the decoded lists ingest puts beside each recorded text column (read instead of parsing the text again)
PARSED = {"input_dims": "shapes", "input_types": "types", "concrete_inputs": "concrete", "input_strides": "strides"}
FLOAT_OUT = ["flops", "recompute_flops", "bytes", "comm_bytes", "algbw_factor", "busbw_factor"]
OBJ_OUT = ["dtype", "flops_source", "bytes_source", "family", "cost_note", "flops_parts"]


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


def _signatures(ops, rows, cols):
    """(codes per row, first row of each signature, column values) for the op rows `rows`."""
    sub = ops[cols].iloc[rows]  # the key columns first: their rows are taken, not those of every column
    codes = sub.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    values = {c: sub[c].to_numpy() for c in cols}
    for text_col, parsed_col in PARSED.items():
        if text_col in values and parsed_col in ops.columns:
            values[text_col] = ops[parsed_col].to_numpy(object)[rows]
    return codes, first, values


ANCESTORS = 4  # levels of enclosing ops a context="ancestors" formula sees (a collective nests 4 deep)
COMM = ("collective", "in_msg_nelems", "out_msg_nelems", "group_size", "comm_dtype")


class _Recorded:
    """(name, dims, types, concrete[, collective args]) of op rows, read from columns extracted once."""

    def __init__(self, ops):
        col = lambda parsed, text: ops[parsed] if parsed in ops.columns else ops[text] if text in ops.columns else None
        self.name = ops["name"].to_numpy(object)
        self.cols = [c.to_numpy(object) if c is not None else None
                     for c in (col("shapes", "input_dims"), col("types", "input_types"), col("concrete", "concrete_inputs"))]
        # numbers stay float arrays: a Python float per op row only for the few rows a context reads
        self.comm = {c: ops[c].to_numpy(float if ops[c].dtype == np.float64 else object)
                     for c in COMM if c in ops.columns}

    def __call__(self, r, comm=False):
        rec = (self.name[r],) + tuple(json_list(c[r]) if c is not None else [] for c in self.cols)
        if comm:
            ex = {c: v[r] for c, v in self.comm.items() if not _missing(v[r])}
            rec += ({k: (v if isinstance(v, str) else float(v)) for k, v in ex.items()},)
        return rec


def _contexts(ops, rows, name_codes, name_uniques):
    """Per op row, the JSON text of the parent's or the children's recorded inputs where the op's formula reads
    them (registry context=); None when no formula in the table does."""
    kinds = np.array([context_of(u) for u in name_uniques] + [None], dtype=object)[name_codes]
    need = np.flatnonzero(pd.notna(kinds))
    if not len(need) or "parent" not in ops.columns:
        return None
    parent = ops["parent"].to_numpy()
    rec = _Recorded(ops)
    out = np.full(len(ops), None, dtype=object)
    kids = {}
    if (kinds[need] == "children").any():
        want = need[kinds[need] == "children"]
        for c in np.flatnonzero(np.isin(parent, want)):
            kids.setdefault(int(parent[c]), []).append(int(c))
    for r in need:
        if kinds[r] == "parent":
            val = {"parent": rec(parent[r]) if parent[r] >= 0 else None}
        elif kinds[r] == "ancestors":
            chain, p = [], parent[r]
            while p >= 0 and len(chain) < ANCESTORS:
                chain.append(rec(p, comm=True))
                p = parent[p]
            val = {"ancestors": chain}
        else:
            val = {"children": [rec(c) for c in kids.get(int(r), [])]}
        out[r] = orjson.dumps(val).decode()
    return out


def _args(values, r, extra_cols):
    extra = {c: values[c][r] for c in extra_cols if not _missing(values[c][r])}
    if "context" in extra:
        for k, v in orjson.loads(extra.pop("context")).items():
            extra[k] = None if v is None else tuple(v) if k == "parent" else tuple(tuple(c) for c in v)
    if "input_strides" in extra:
        extra["input_strides"] = json_list(extra["input_strides"])
    get = lambda c: json_list(values[c][r]) if c in values else []
    return get("input_dims"), get("input_types"), get("concrete_inputs"), extra or None


def _store(sig, g, res):
    for c in ("flops", "recompute_flops", "bytes", "comm_bytes", "algbw_factor", "busbw_factor"):
        v = getattr(res, c)
        if v is not None:
            sig[c][g] = v
    sig["dtype"][g] = res.dtype
    sig["flops_source"][g] = res.source
    sig["bytes_source"][g] = (res.bytes_source or res.source) if res.bytes is not None else None
    sig["family"][g] = res.family
    sig["cost_note"][g] = res.note
    sig["flops_parts"][g] = res.flops_parts


def cost_ops(ops: pd.DataFrame) -> pd.DataFrame:
    """Columns flops, recompute_flops, bytes, comm_bytes, algbw_factor, busbw_factor (float64, NaN
    unknown) and dtype, flops_source, bytes_source, family, cost_note (str or None), on the input's index."""
    n = len(ops)
    out = {c: np.full(n, np.nan) for c in FLOAT_OUT}
    out.update({c: np.full(n, None, dtype=object) for c in OBJ_OUT})
    if n == 0 or "name" not in ops.columns:
        return _frame(out, ops.index)
    name_codes, name_uniques = pd.factorize(ops["name"], use_na_sentinel=True)
    known = np.array([has_formula(u) for u in name_uniques], dtype=bool)
    rows = np.flatnonzero((name_codes >= 0) & known[np.where(name_codes >= 0, name_codes, 0)])
    cols = [c for c in KEY_COLS + EXTRA_COLS if c in ops.columns]
    extra_cols = [c for c in EXTRA_COLS if c in cols]
    if len(rows):
        ctx = _contexts(ops, rows, name_codes, name_uniques)
        if ctx is not None:
            ops = ops.assign(context=pd.Series(ctx, index=ops.index, dtype=object, copy=False))  # no str inference
            cols, extra_cols = cols + ["context"], extra_cols + ["context"]
        codes, first, values = _signatures(ops, rows, cols)
        sig = {c: np.full(len(first), np.nan) for c in FLOAT_OUT}
        sig.update({c: np.full(len(first), None, dtype=object) for c in OBJ_OUT})
        for g, r in enumerate(first):
            res = op_cost(values["name"][r], *_args(values, r, extra_cols))
            if res is not None:
                _store(sig, g, res)
        for c in FLOAT_OUT + OBJ_OUT:
            out[c][rows] = sig[c][codes]
    _lower_bounds(ops, out, cols)
    return _frame(out, ops.index)


def _frame(out, index):
    """The cost columns; text stays object: from a plain object array pandas 3 infers "str" and copies every row
    into Arrow, and each reader (attribute, the op table) copies it back."""
    return pd.DataFrame({c: pd.Series(v, index=index, dtype=object if v.dtype == object else None, copy=False)
                         for c, v in out.items()}, copy=False)  # the arrays are fresh: no copy


def _lower_bounds(ops, out, cols):
    """Lower-bound bytes for ops whose formula left bytes unknown and for ops no formula costs (see module doc)."""
    if "input_dims" not in ops.columns:
        return
    no_bytes = np.isnan(out["bytes"])
    costed = (np.nan_to_num(out["flops"]) > 0) | ~no_bytes | (np.nan_to_num(out["recompute_flops"]) > 0)
    launches = ops["launches_kernels"].to_numpy(bool) if "launches_kernels" in ops.columns else None
    codes, uniques = pd.factorize(ops["name"], use_na_sentinel=True)
    sparse = np.array([is_sparse(u) for u in uniques] + [False], dtype=bool)[codes]
    want = no_bytes & ops["input_dims"].notna().to_numpy(bool) & ~sparse
    if launches is not None:
        want &= launches | costed
    rows = np.flatnonzero(want)
    if not len(rows):
        return
    key = [c for c in ("input_dims", "input_types", "input_strides") if c in cols]
    codes, first, values = _signatures(ops, rows, key)
    lb = np.full(len(first), np.nan)
    dtype = np.full(len(first), None, dtype=object)
    note = np.full(len(first), None, dtype=object)
    for g, r in enumerate(first):
        strides = {"input_strides": json_list(values["input_strides"][r])} if "input_strides" in values else None
        res = lower_bound(Args(json_list(values["input_dims"][r]),
                               json_list(values["input_types"][r]) if "input_types" in values else [], [], strides))
        if res is not None:
            lb[g], dtype[g], note[g] = res.bytes, res.dtype, res.note
    lower = np.full(len(ops), np.nan)
    lower[rows] = lb[codes]
    lb_dtype, lb_note = np.full(len(ops), None, dtype=object), np.full(len(ops), None, dtype=object)
    lb_dtype[rows], lb_note[rows] = dtype[codes], note[codes]
    # a formula that knows the FLOPs but not the bytes (no dtype recorded) takes the bound as its bytes
    fill = costed & no_bytes & np.isfinite(lower)
    out["bytes"][fill] = lower[fill]
    out["bytes_source"][fill] = LOWER_BOUND
    out["cost_note"][fill] = [_join(a, b) for a, b in zip(out["cost_note"][fill], lb_note[fill])]
    if "parent" in ops.columns:
        parent = ops["parent"].to_numpy().astype(np.int64)
        walk = parent
        if "cat" in ops.columns:  # kernels never walk past a user annotation to a costed op
            walk = np.where((ops["cat"] == "user_annotation").to_numpy(bool), -1, parent)
        carried = place(parent, lower, costed, out["bytes"], launches, walk_parent=walk)
    else:
        carried = np.where(~costed, lower, np.nan)
    put = np.isfinite(carried)
    blocked = np.isfinite(lower) & ~put & ~costed & pd.isna(out["cost_note"])
    if launches is not None:
        blocked &= launches
    out["cost_note"][blocked] = "its sub-ops already carry its lower bound; its own kernels get none"
    out["bytes"][put] = carried[put]
    out["bytes_source"][put] = LOWER_BOUND
    # a formula that gave nothing did not cost the op: the bound's family says so
    out["family"][put] = np.where(pd.isna(out["family"][put]) | np.isnan(out["flops"][put]), "unknown",
                                  out["family"][put])
    out["dtype"][put] = np.where(pd.isna(out["dtype"][put]), lb_dtype[put], out["dtype"][put])
    partial = put & (carried < lower)
    out["cost_note"][put] = [_join(a, b) for a, b in zip(out["cost_note"][put], lb_note[put])]
    out["cost_note"][partial] = [_join(a, "the part its sub-ops do not carry") for a in out["cost_note"][partial]]


def _join(a, b):
    return b if not a else a if not b else f"{a}; {b}"

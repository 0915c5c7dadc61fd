"""Prefill vs decode, from what the trace says: serving-engine annotations, else attention query lengths.

Annotations: sglang `step[EXTEND ...]` / `step[DECODE ...]`, vLLM/TraceLens-style
`execute_<n>_context_<c>(...)_generation_<g>(...)`, and any annotation naming prefill or decode.
Without one, an attention op whose query length is 1 is decode and one with many queries is prefill.
"""
import re

import numpy as np
import pandas as pd

from .step_formats import FIELDS, parse_step_annotation

_MIXED = re.compile(r"context_(\d+).*generation_(\d+)", re.I)
_PREFILL = re.compile(r"prefill|extend|context", re.I)
_DECODE = re.compile(r"decode|generation", re.I)
_ATTN_Q = {"aten::_scaled_dot_product_flash_attention": -2, "aten::_scaled_dot_product_efficient_attention": -2,
           "aten::_scaled_dot_product_cudnn_attention": -2, "aten::_scaled_dot_product_flash_attention_for_cpu": -2,
           "aten::_flash_attention_forward": 1, "aten::_efficient_attention_forward": 1}


def phase_of_annotation(name):
    if not isinstance(name, str):
        return None
    m = _MIXED.search(name)
    if m:
        c, g = int(m.group(1)), int(m.group(2))
        return "mixed" if c and g else "prefill" if c else "decode" if g else None
    if _DECODE.search(name):
        return "decode"
    if _PREFILL.search(name):
        return "prefill"
    return None


def _query_len(op, shapes):
    """The query length of an attention op from its recorded input shapes (query first)."""
    axis = _ATTN_Q.get(op)
    if axis is None or not isinstance(shapes, list) or not shapes:
        return None
    q = shapes[0]
    return q[axis] if isinstance(q, list) and len(q) >= 3 else None


_REQUESTS = ("prefill_requests", "prefill_tokens", "decode_requests", "decode_tokens")


def phase_requests(steps):
    """Requests and query tokens per phase, summed over the engine steps whose annotation states them all
    (vllm_detailed: `execute_<n>_context_<c>(sq<tokens>...)_generation_<g>(sq<tokens>...)`); None when none
    does. `steps`: the steps table (steps.py), or step annotation names, one step each."""
    if not isinstance(steps, pd.DataFrame):
        steps = pd.DataFrame([p for p in map(parse_step_annotation, steps) if p is not None], columns=list(FIELDS))
    t = steps[(steps["format"] == "vllm_detailed").to_numpy(bool)]
    if not len(t):
        return None
    return {c: int(pd.to_numeric(t[c]).sum()) for c in _REQUESTS}


def _phases_of(annotations):
    """phase_of_annotation per row, computed once per distinct annotation."""
    codes, uniques = pd.factorize(annotations, use_na_sentinel=True)
    phases = np.array([phase_of_annotation(a) for a in uniques] + [phase_of_annotation(None)], dtype=object)
    return phases[codes]


def kernel_phases(k, ops):
    """Phase per kernel row: from its annotation (or an enclosing one), else from attention shapes in its step."""
    ann = pd.Series(_phases_of(k["annotation"]))
    if len(ops):
        # The innermost annotation may be a sub-region; any annotation on the op's ancestor chain can say it.
        op_phase = _phases_of(ops["annotation"])
        row = k["op_row"].to_numpy() if "op_row" in k else np.full(len(k), -1)
        from_op = np.where(row >= 0, op_phase[np.clip(row, 0, None)], None)
        ann = ann.where(ann.notna(), pd.Series(from_op))
    if ann.notna().any():
        return ann.to_numpy(object)
    # One look per distinct (op, shapes) pair, not per kernel; the text keys the pair, the decoded shapes are read.
    pairs = pd.DataFrame({"op": k["op"].astype(object), "dims": k["input_dims"].astype(object)})
    codes, uniq = pd.factorize(pd.MultiIndex.from_frame(pairs.fillna("")))
    shapes = k["shapes"].to_numpy(object) if "shapes" in k else np.full(len(k), None, dtype=object)
    first = np.full(len(uniq), -1, dtype=np.int64)
    ok = codes >= 0
    np.maximum.at(first, codes[ok], np.flatnonzero(ok))  # any row of each pair: they share the shapes
    qlen = np.array([_query_len(o or None, shapes[first[i]]) for i, (o, _) in enumerate(uniq)] + [None], dtype=float)
    q = pd.Series(qlen[codes])
    by_attn = np.where(q == 1, "decode", np.where(q > 1, "prefill", None))
    if not np.any(by_attn != None):  # noqa: E711
        return np.full(len(k), None, dtype=object)
    # Non-attention kernels take the phase of the attention in the same step (or trace).
    s = pd.Series(by_attn, dtype=object)
    grp = k["step"].astype("float").fillna(-1).to_numpy()
    fill = s.groupby(grp).transform(lambda x: x.dropna().iloc[0] if x.notna().any() else None)
    out = s.where(s.notna(), fill)
    return out.astype(object).where(out.notna(), None).to_numpy(object)

"""Interval trees per thread: who encloses whom, and which span encloses a point in time.

Nesting on a thread is not always proper (record_function spans outlive their frame, 1 ns overhangs),
so the policy is: a span that starts inside another is its child, whatever its end.
"""
import numpy as np
import pandas as pd


def nest(groups, starts, durs):
    """Parent index (-1 for roots) of each span, by start-containment within its group.

    Returns (order, parent) where `order` sorts spans by (group, start, longest first) and `parent`
    holds original row positions.

    In that order a span's parent is the latest earlier span of its group still open at its start (end > start):
    what a walk with a stack of open spans finds, as every span that ends after this start is still on the stack.
    Each span keeps a pointer below which it has not looked yet; a closed span's spans in between all closed
    before it started, so the pointer jumps to that span's own pointer (a few dozen rounds of numpy instead of
    a Python step per span). A span without a start takes the span before it, as the stack walk did.
    """
    n = len(starts)
    ends = starts + np.nan_to_num(durs, nan=0.0)
    order = np.lexsort((-ends, starts, groups))
    g, s, e = groups[order], starts[order], ends[order]
    ptr = np.arange(n, dtype=np.int64) - 1
    if n:
        ptr[np.r_[True, g[1:] != g[:-1]]] = -1
    todo = np.flatnonzero(ptr >= 0)
    todo = todo[~np.isnan(s[todo])]
    while len(todo):
        todo = todo[e[ptr[todo]] <= s[todo]]  # the span at the pointer closed before this one started
        ptr[todo] = ptr[ptr[todo]]
        todo = todo[ptr[todo] >= 0]
    parent = np.full(n, -1, dtype=np.int64)
    parent[order] = np.where(ptr >= 0, order[np.clip(ptr, 0, None)], -1)
    return order, parent


def enclosing(span_groups, span_starts, span_durs, parent, q_groups, q_times):
    """For each query (group, time): row of the innermost span of that group containing the time, or -1."""
    out = np.full(len(q_times), -1, dtype=np.int64)
    if len(span_starts) == 0 or len(q_times) == 0:
        return out
    ends = span_starts + np.nan_to_num(span_durs, nan=0.0)
    span_groups, q_groups = np.asarray(span_groups), np.asarray(q_groups)
    for g in np.intersect1d(np.unique(span_groups), np.unique(q_groups)):
        rows = np.flatnonzero(span_groups == g)
        rows = rows[np.argsort(span_starts[rows], kind="stable")]
        qs = np.flatnonzero(q_groups == g)
        t = q_times[qs]
        pos = np.searchsorted(span_starts[rows], t, side="right") - 1
        cand = np.where(pos >= 0, rows[np.clip(pos, 0, None)], -1)
        for _ in range(256):  # walk up past spans that ended before t (siblings' subtrees)
            bad = (cand >= 0) & (ends[np.clip(cand, 0, None)] < t)
            if not bad.any():
                break
            cand[bad] = parent[cand[bad]]
        out[qs] = cand
    return out


def group_codes(*cols):
    """One int code per distinct combination of key columns (pid, tid)."""
    code = np.zeros(len(cols[0]) if cols else 0, dtype=np.int64)
    for c in cols:
        if not (isinstance(c, pd.Series) and isinstance(c.dtype, pd.StringDtype)):
            c = pd.Series(c, dtype=object)  # Arrow strings factorize as they are, without a Python str per row
        part, uniq = pd.factorize(c.fillna(""), sort=False)
        code = code * (len(uniq) + 1) + part
    return pd.factorize(code)[0].astype(np.int64)


def propagate(parent, values, is_null):
    """Fill each null with its nearest non-null ancestor's value."""
    values = values.copy()
    todo = np.flatnonzero(is_null(values) & (parent >= 0))
    anc = parent[todo]
    while len(todo):
        got = values[anc]
        ok = ~is_null(got)
        values[todo[ok]] = got[ok]
        todo, anc = todo[~ok], parent[anc[~ok]]
        keep = anc >= 0
        todo, anc = todo[keep], anc[keep]
    return values


def union_length(starts, ends):
    """Total length covered by intervals (concurrent streams counted once)."""
    s = np.asarray(starts, float)
    _, seg_len = union_segments(np.zeros(len(s), dtype=np.intp), s, np.asarray(ends, float))
    return float(np.sum(seg_len))


def union_segments(codes, starts, ends):
    """(group, length) of each covered segment, groups of intervals at once. An interval without both ends
    covers nothing we can place."""
    ok = np.isfinite(starts) & np.isfinite(ends)
    order = np.lexsort((starts, codes))  # by group, then start (stable)
    order = order[ok[order]]
    c, s, e = codes[order], starts[order], ends[order]
    if not len(c):
        return c, s
    if c[0] == c[-1]:  # one group: a running max
        reach = np.maximum.accumulate(e)
    else:
        reach = pd.Series(e).groupby(c).cummax().to_numpy()
    new = np.r_[True, (c[1:] != c[:-1]) | (s[1:] > reach[:-1])]
    last = np.flatnonzero(np.r_[new[1:], True])  # reach only grows: a segment's last value is its max
    return c[new], reach[last] - s[new]

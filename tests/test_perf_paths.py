"""The vectorized paths of the speed work (docs/performance.md, round 8) against the plain loops they replaced."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from traceflops.ingest.columns import text_at
from traceflops.link.intervals import nest
from traceflops.metrics.breakdown import _gaps
from traceflops.outputs.parquet import LONG_TEXT, _all_bool, _by_value, _long_text, _object_column


def _nest_by_stack(groups, starts, durs):
    """The stack walk nest() used to run: a span that starts inside another is its child, whatever its end."""
    n = len(starts)
    ends = starts + np.nan_to_num(durs, nan=0.0)
    order = np.lexsort((-ends, starts, groups))
    parent = np.full(n, -1, dtype=np.int64)
    stack, stack_ends, current = [], [], None
    for k in order.tolist():
        if groups[k] != current:
            stack, stack_ends, current = [], [], groups[k]
        while stack and stack_ends[-1] <= starts[k]:
            stack.pop()
            stack_ends.pop()
        if stack:
            parent[k] = stack[-1]
        stack.append(k)
        stack_ends.append(ends[k])
    return order, parent


@pytest.mark.parametrize("seed", range(4))
def test_nest_is_the_stack_walk(seed):
    rng = np.random.default_rng(seed)
    for case in range(1500):
        n = int(rng.integers(0, 50))
        groups = rng.integers(0, 3, n)
        starts = rng.integers(0, 30, n).astype(float)
        durs = rng.integers(0, 12, n).astype(float)
        if n and case % 3 == 0:
            durs[rng.integers(0, n, 3)] = np.nan  # no duration: a point
        if n and case % 5 == 0:
            starts[rng.integers(0, n, 2)] = np.nan  # no start: takes the span before it
        if n and case % 7 == 0:
            durs[rng.integers(0, n)] = np.inf
        order, parent = nest(groups, starts, durs)
        want_order, want_parent = _nest_by_stack(groups, starts, durs)
        assert order.tolist() == want_order.tolist()
        assert parent.tolist() == want_parent.tolist(), (groups, starts, durs)


def test_nest_deep_and_long_sibling_chains():
    # 2000 siblings under one root, then a 500-deep chain: pointer jumping must still find every parent
    starts = np.r_[0.0, np.arange(1, 2001, dtype=float), 3000 + np.arange(500, dtype=float)]
    durs = np.r_[5000.0, np.full(2000, 0.5), 1000 - np.arange(500, dtype=float)]
    groups = np.zeros(len(starts), dtype=np.int64)
    assert nest(groups, starts, durs)[1].tolist() == _nest_by_stack(groups, starts, durs)[1].tolist()


def _gaps_by_loop(starts, ends, lo, hi):
    order = np.argsort(starts, kind="stable")
    out, reach = [], lo
    for a, b in zip(np.asarray(starts, float)[order].tolist(), np.asarray(ends, float)[order].tolist()):
        if a > reach:
            out.append((reach, a))
        reach = max(reach, b)
    if hi > reach:
        out.append((reach, hi))
    return out


def test_gaps_match_the_loop():
    rng = np.random.default_rng(7)
    for _ in range(3000):
        n = int(rng.integers(0, 15))
        s = rng.integers(0, 40, n).astype(float)
        e = s + rng.integers(0, 10, n)
        lo, hi = float(rng.integers(-5, 20)), float(rng.integers(10, 60))
        a, b = _gaps(s, e, lo, hi)
        assert list(zip(a.tolist(), b.tolist())) == _gaps_by_loop(s, e, lo, hi)


def _direct(s):
    arr = pa.array(s, from_pandas=True)
    return arr.cast(pa.string()) if pa.types.is_null(arr.type) else arr


@pytest.mark.parametrize("values", [
    ["m" * 100, None, np.nan, "m" * 99 + "x", pd.NA, "m" * 100],  # long text with every kind of missing
    ["é" * 80, "ü" * 90, None],  # not ASCII
    ["short", None, "text"],
    [None, None],
])
def test_object_column_by_value_is_the_direct_column(values):
    s = pd.Series(values * 50, dtype=object)
    assert _object_column(s).equals(_direct(s))
    assert _by_value(s).equals(_direct(s))


@pytest.mark.parametrize("values", [["m" * 100, 3, None], ["m" * 100, True]])
def test_long_text_mixed_with_other_values_goes_row_by_row(values):
    s = pd.Series(values * 50, dtype=object)
    assert _by_value(s) is None  # the row-by-row path writes a number or bool among text as text
    assert _object_column(s).to_pylist()[:len(values)] == [v if v is None or isinstance(v, str) else str(v) for v in values]


def test_long_text_is_judged_by_length():
    assert _long_text(pd.Series(["m" * (LONG_TEXT + 1)] * 10, dtype=object))
    assert not _long_text(pd.Series(["m" * (LONG_TEXT - 1)] * 10, dtype=object))
    assert not _long_text(pd.Series([None] * 10, dtype=object))


@pytest.mark.parametrize("dtype", ["str", object])
def test_text_at_takes_rows_or_missing(dtype):
    names = pd.Series(["a", "bb", "ccc"], dtype=dtype)
    got = text_at(names, np.array([2, -1, 0, 0]))
    assert [None if pd.isna(v) else v for v in list(got)] == ["ccc", None, "a", "a"]


@pytest.mark.parametrize("values", [[None, True, False], [None, np.nan], [True, "x"], ["x", True], [None] * 70 + ["x"],
                                    [np.bool_(True), None, False], [None, 1, True], [pd.NA, True], [True] * 70 + [1]])
def test_all_bool_is_the_inferred_type(values):
    s = pd.Series(values, dtype=object)
    assert _all_bool(s) == (pd.api.types.infer_dtype(s, skipna=True) == "boolean")


def test_aggregate_groups_arrow_text_as_object_text():
    # report tables group Arrow text columns without converting every row: same groups, names and sums
    from traceflops.outputs.report.tables import aggregate
    rng = np.random.default_rng(3)
    n = 400
    names = np.array(["gemm", "add", "", None, "softmax"], dtype=object)[rng.integers(0, 5, n)]
    dims = np.array(["[[2,3]]", None, "[[4]]"], dtype=object)[rng.integers(0, 3, n)]
    base = pd.DataFrame({"dur_us": rng.random(n), "flops": rng.random(n), "bytes": rng.random(n),
                         "bound": np.array(["memory", "compute", None], dtype=object)[rng.integers(0, 3, n)]})
    as_obj = base.assign(name=pd.Series(names, dtype=object), input_dims=pd.Series(dims, dtype=object))
    as_arrow = base.assign(name=pd.Series(names, dtype="str"), input_dims=pd.Series(dims, dtype="str"),
                           bound=base["bound"].astype("str"))
    assert isinstance(as_arrow["name"].dtype, pd.StringDtype)
    a, b = aggregate(as_obj, ["name", "input_dims"]), aggregate(as_arrow, ["name", "input_dims"])
    assert len(a) == len(set(zip(pd.Series(names).fillna(""), pd.Series(dims).fillna(""))))
    pd.testing.assert_frame_equal(a.astype({"top_name": object, "bound": object}),
                                  b.astype({"top_name": object, "bound": object}), check_exact=True)

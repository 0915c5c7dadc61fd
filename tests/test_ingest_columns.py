"""The column coercions' fast paths give exactly what the general paths give, and the known-value decoder of
the streaming reader changes no table."""
import json
import random

import msgspec
import numpy as np
import pandas as pd
import pytest

from traceflops.ingest import read_trace, stream
from traceflops.ingest.columns import _ints_general, floats, ints, keys, raw_text
from traceflops.ingest.schema import CATEGORIES, MISSING, PHASES
from traceflops.ingest.tables import FLOW_CATS, GPU_KINDS, LAUNCH_CATS, OP_CATS


INT_POOL = [None, 0, 1, -7, 2**40, 2**63 - 1, -(2**63), 2**63, 10**30, True, False, 3.0, 2.5, "12", "x", float("nan")]
IN_INT64 = [0, 1, -7, 2**40, 2**63 - 1, -(2**63)]


def _values(rng, path):
    """A list that takes `path` through ints(): all None, the int/None fast path (and its overflow exit into
    the general path), or the general path."""
    n = rng.randint(0, 30)
    if path == "all_none":
        return [None] * n
    if path == "int_none":
        v = [rng.choice(IN_INT64 + [None]) for _ in range(n)] + [None, rng.choice(IN_INT64)]
    elif path == "int_none_overflow":
        v = [rng.choice(IN_INT64 + [None]) for _ in range(n)] + [None, rng.choice([2**63, -(2**63) - 1, 10**30])]
    else:  # no None, or some other type among the values
        v = [rng.choice(INT_POOL) for _ in range(n + 1)]
        if None in v and set(map(type, v)) <= {int, type(None)}:
            v.append(rng.choice([True, 2.5, "12", float("nan")]))
    rng.shuffle(v)
    return v


@pytest.mark.parametrize("path", ["all_none", "int_none", "int_none_overflow", "general"])
@pytest.mark.parametrize("seed", range(12))
def test_ints_match_the_general_path(monkeypatch, seed, path):
    from traceflops.ingest import columns
    values = _values(random.Random(seed), path)
    general = []
    monkeypatch.setattr(columns, "_ints_general", lambda v: general.append(1) or _ints_general(v))
    got = ints(values)
    assert len(general) == (path in ("int_none_overflow", "general")), path  # the path it is named for was taken
    want = _ints_general(values)  # pandas' inference, then the per-value route
    assert got.dtype == "Int64"
    pd.testing.assert_extension_array_equal(got, want)


def test_ints_common_shapes():
    pd.testing.assert_extension_array_equal(ints([None, None]), pd.array([None, None], dtype="Int64"))
    pd.testing.assert_extension_array_equal(ints([5, None, -3]), pd.array([5, None, -3], dtype="Int64"))
    pd.testing.assert_extension_array_equal(ints([2**63, None]), pd.array([None, None], dtype="Int64"))


def _pylist(x):
    return x.to_pylist() if hasattr(x, "to_pylist") else list(x)


def test_keys_write_ints_as_str_does():
    vals = [21587, 21587, -1, 0, 1890023232, 2**63 - 1, -(2**63)]
    assert _pylist(keys(vals)) == [str(v) for v in vals]
    assert _pylist(keys([2**64, 3])) == [str(2**64), "3"]  # beyond int64: still the digits
    assert _pylist(keys(["a", "b"])) == ["a", "b"]
    assert _pylist(keys([7, "stream 7", None, 3.0])) == ["7", "stream 7", None, "3"]


def test_floats_of_missing_args_are_nan():
    assert np.isnan(floats([None, None, None])).all() and len(floats([])) == 0
    assert list(floats([None, 1, "2.5"])[1:]) == [1.0, 2.5]


def _canonical(b, keep):
    """Row by row, by definition: compact JSON text of the decoded value; None when missing, null or not kept."""
    if not b:
        return None
    v = json.loads(b)
    return None if v is None or (keep is not None and not keep(v)) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)


RAW_POOL = [b"[[1, 2], []]", b"[[1,2],[]]", b" [ [1,2] , [] ] ", b"null", b"", b"[]", b'["c10::BFloat16", ""]',
            b'[["\\u00e9", 1]]', b"[[0, 1], [4096]]", b"[[8, 0]]", b"7", b'{"a": [1]}']


@pytest.mark.parametrize("keep", [None, lambda v: isinstance(v, list) and any(isinstance(s, list) and 0 in s for s in v)])
@pytest.mark.parametrize("seed", range(20))
def test_raw_text_matches_the_general_path(seed, keep):
    rng = random.Random(seed)
    raws = [msgspec.Raw(rng.choice(RAW_POOL)) for _ in range(rng.randint(0, 40))]
    got = raw_text(raws, keep)
    assert got.dtype == object and list(got) == [_canonical(bytes(r), keep) for r in raws]


def test_raw_text_canonical_and_missing():
    out = raw_text([msgspec.Raw(b"[[1, 2], []]"), MISSING, msgspec.Raw(b"null"), msgspec.Raw(b"[[1,2],[]]")])
    assert list(out) == ["[[1,2],[]]", None, None, "[[1,2],[]]"]
    assert list(raw_text([b"[1]", None])) == ["[1]", None]  # plain bytes and None take the general path


def test_every_routed_category_and_phase_is_a_known_value():
    routed = set(GPU_KINDS) | OP_CATS | LAUNCH_CATS | FLOW_CATS | {"gpu_user_annotation", "python_function"}
    assert routed <= set(CATEGORIES)
    assert {"X", "s", "f", "t", "M", "i"} <= set(PHASES)


def _events(n, odd_at=None):
    evs = []
    for i in range(n):
        cat = ["cpu_op", "python_function", "kernel", "cuda_runtime", "ac2g"][i % 5]
        if i == odd_at:
            cat = "my_custom_category"
        e = {"ph": "X" if cat != "ac2g" else "s", "cat": cat, "name": f"nn.Module: L{i}" if cat == "python_function" else f"op{i % 7}",
             "pid": 1 if cat != "kernel" else 0, "tid": 1 if cat != "kernel" else 7, "ts": i, "dur": 1,
             "args": {"correlation": i, "External id": i, "Input Dims": [[i % 3, 4]], "Input type": ["float"]}}
        if cat == "ac2g":
            e["id"] = i
            e["bp"] = "e"
        evs.append(e)
    evs.append({"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "GPU 0"}})
    return evs


def _starting_known(known):
    real = stream._Heads.__init__

    def init(self):
        real(self)
        self.known = known
    return init


@pytest.mark.parametrize("odd_at", [None, 5, 3000])
def test_unknown_category_midway_changes_no_table(tmp_path, monkeypatch, odd_at):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"traceEvents": _events(4000, odd_at)}))
    monkeypatch.setattr(stream, "CHUNK_BYTES", 16 << 10)
    used = []
    real_decode = stream._Heads.decode

    def decode(self, chunk):
        used.append(self.known)
        return real_decode(self, chunk)
    monkeypatch.setattr(stream._Heads, "decode", decode)
    a = read_trace(p, workers=1)
    assert used[0] is True and (odd_at is None) == all(used)  # an unknown value turns the known decoder off
    monkeypatch.setattr(stream._Heads, "__init__", _starting_known(False))
    b = read_trace(p, workers=1)
    for t in ("gpu", "ops", "launches", "flows", "python"):
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t), check_exact=True)
    assert a.skipped_categories == b.skipped_categories
    assert len(a.gpu) == 800 - (odd_at is not None and odd_at % 5 == 2)
    if odd_at is not None:
        assert a.skipped_categories.get("my_custom_category") == 1

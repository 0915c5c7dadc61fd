"""Issue #8 property tests (hypothesis): generated and mutated traces never crash the CLI.

Only two outcomes are allowed: exit 0 with outputs whose GPU rows equal the GPU events that were read, or
exit 2 with one 'traceflops: error:' line. An uncaught exception (CliRunner keeps it) fails the test.
"""
import gzip
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.robust_helpers import (BUNDLED, analyze_cli, assert_cli_error, is_gpu_event, kernels, raw_bytes,
                                  summary)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

CATS = ["kernel", "Kernel", "gpu_memcpy", "gpu_memset", "memcpy", "cpu_op", "cuda_runtime", "ac2g", "python_function",
        "user_annotation", "gpu_user_annotation", "weird", ""]
junk = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                 st.text(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                           st.integers(), max_size=2))
number_or_junk = st.one_of(st.integers(0, 10**12), st.floats(0, 1e9), junk)
ARG_KEYS = ["External id", "correlation", "device", "stream", "grid", "block", "registers per thread",
            "Input Dims", "Input type", "Sequence number", "bytes", "name", "labels", "kernel_flop"]


@st.composite
def events(draw):
    e = {}
    if draw(st.integers(0, 9)):
        e["ph"] = draw(st.sampled_from(["X", "X", "X", "s", "f", "M", "i", None, 7]))
    if draw(st.integers(0, 9)):
        e["cat"] = draw(st.one_of(st.sampled_from(CATS), junk))
    for k in ("name", "pid", "tid", "ts", "dur", "id"):  # strings, nulls, lists, dicts where numbers belong
        if draw(st.integers(0, 5)):
            e[k] = draw(st.text(max_size=12) if k == "name" else number_or_junk)
    if draw(st.booleans()):
        e["args"] = {k: draw(number_or_junk) for k in draw(st.lists(st.sampled_from(ARG_KEYS), max_size=5))}
    elif draw(st.integers(0, 9)) == 0:  # args that is no object: the event is still kept, without them
        e["args"] = draw(junk)
    if "name" in e and isinstance(e["name"], str) and draw(st.integers(0, 20)) == 0:
        e["name"] += draw(st.sampled_from(['"', '\\', '\n', '\u00e9', '\ud7ff']))
    return e


def _gpu_count(evs):
    """Every GPU event, whatever its fields hold: each must become a row (unusable args are dropped, not the event)."""
    return sum(1 for e in evs if is_gpu_event(e))


def _check(data, name="t.json", expect_rows=None, must_name_file=False):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        res = analyze_cli(p, Path(d) / "out")
        exc = res.exception if not isinstance(res.exception, SystemExit) else None
        assert exc is None, f"uncaught {type(exc).__name__}: {exc}"
        assert res.exit_code in (0, 2), res.exit_code
        if res.exit_code == 2:
            assert_cli_error(res, name=p if must_name_file else None)  # one line (naming the file)
            return None
        s = summary(Path(d) / "out")
        assert len(kernels(Path(d) / "out")) == s["totals"]["gpu_events"]
        if expect_rows is not None:
            assert s["totals"]["gpu_events"] == expect_rows, (s["totals"], s["warnings"])
        return s


@SETTINGS
@given(st.lists(events(), max_size=25), st.booleans(), st.booleans())
def test_generated_traces_never_crash(evs, obj_form, gz):
    doc = {"schemaVersion": 1, "traceEvents": evs} if obj_form else evs
    data = json.dumps(doc, allow_nan=True).encode()
    _check(gzip.compress(data) if gz else data, "t.json.gz" if gz else "t.json")


@SETTINGS
@given(st.lists(events(), max_size=25), st.booleans())
@example([{"cat": "kernel", "ts": []}], False)  # the shrunk counterexample hypothesis found
def test_generated_errors_name_the_file(evs, gz):
    data = json.dumps({"traceEvents": evs}, allow_nan=True).encode()
    _check(gzip.compress(data) if gz else data, "t.json.gz" if gz else "t.json", must_name_file=True)


@SETTINGS
@given(st.lists(events(), max_size=25))
@example([{"ph": "X", "cat": "kernel", "name": "k", "ts": [1], "dur": {"a": 1}, "pid": [0], "tid": {}, "id": [2],
           "args": {"correlation": [1], "device": {"x": 1}, "stream": [7], "External id": {"y": 2}}},
          {"ph": "X", "cat": "gpu_memcpy", "name": "m", "ts": 5, "dur": 1, "args": {"bytes": [8], "grid": {"x": 1}}}])
@example([7, {"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 1, "args": "not an object"}, "text"])
def test_generated_traces_keep_every_gpu_event(evs):
    data = json.dumps({"traceEvents": evs}, allow_nan=True).encode()
    _check(data, expect_rows=_gpu_count(json.loads(data)["traceEvents"]))


RAW = raw_bytes(BUNDLED)


@st.composite
def mutations(draw):
    data = bytearray(RAW)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["delete", "insert", "flip", "truncate"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "delete":
            del data[at:at + draw(st.integers(1, 200))]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b'"', b"{", b"}", b"]", b",", b"\xff", b"NaN", b"\n", b'"x": [']))
        elif kind == "flip":
            data[at] = draw(st.integers(0, 255))
        else:
            del data[at:]
    return bytes(data)


@SETTINGS
@given(mutations(), st.booleans())
def test_mutated_real_trace_never_crashes(data, gz):
    _check(gzip.compress(data, 1) if gz else data, "m.json.gz" if gz else "m.json")


@SETTINGS
@given(st.integers(0, len(RAW)))
def test_gzip_of_any_truncation_keeps_complete_events(cut):
    from tests.robust_helpers import gpu_events_before
    expected = gpu_events_before(RAW.decode(), cut)
    s = _check(gzip.compress(RAW[:cut], 1), "c.json.gz", expect_rows=expected if cut > 30000 else None)
    if s is None:
        assert cut < RAW.index(b'"traceEvents"') + 20  # errors only when the cut is inside the header

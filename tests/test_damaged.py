"""Issue #8: damaged traces. Every damaged input is made here from a real trace.

Recoverable damage → exit 0, everything before/around the damage kept, a warning in summary.json and on stderr
that says what was skipped and where. Unrecoverable → exit 2 and one line 'traceflops: error: <file>: <problem>'.
"""
import gzip
import json
import os
import re
import time
import zlib

import pytest

from tests.conftest import SHARED
from tests.robust_helpers import (BUNDLED, analyze_cli, assert_cli_error, assert_ok, event_spans, gpu_events_before,
                                  gzip_bomb, is_gpu_event, kernels, raw_bytes, stderr_warnings, stdlib_gpu_count,
                                  subprocess_cli, summary, warnings_of)

RAW = raw_bytes(BUNDLED)  # h100 bert-small: 2551 events, 61 GPU activities, deviceProperties after traceEvents
TEXT = RAW.decode()
N_GPU = stdlib_gpu_count(RAW)
QUOTES = SHARED / "cpu" / "cpu_edge_INVALID_quotes_in_names.json" if SHARED else None


def write(tmp_path, name, data, gz=False):
    p = tmp_path / (name + (".json.gz" if gz else ".json"))
    p.write_bytes(gzip.compress(data, 6) if gz else data)
    return p


def run_ok(tmp_path, name, data, gz=False, *extra):
    p = write(tmp_path, name, data, gz)
    out = tmp_path / f"out_{name}{'_gz' if gz else ''}"
    res = analyze_cli(p, out, *extra)
    assert_ok(res, name)
    return p, out, res


def run_err(tmp_path, name, data, *extra, gz=False):
    p = write(tmp_path, name, data, gz)
    res = analyze_cli(p, tmp_path / f"out_{name}", *extra)
    return assert_cli_error(res, name=p, what=name)


def test_corpus_is_real():
    assert N_GPU == 61 and len(event_spans(TEXT)) == 2551


# --- truncation ------------------------------------------------------------------------------------------------

def _gpu_event_offsets():
    return [end for end, e in event_spans(TEXT) if is_gpu_event(e)]


CUTS = [0.03, 0.2, 0.45, 0.7, 0.9, 0.97, 0.999]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip-of-truncated"])
@pytest.mark.parametrize("frac", CUTS)
def test_truncated_keeps_every_complete_event(tmp_path, frac, gz):
    cut = int(len(RAW) * frac)
    p, out, res = run_ok(tmp_path, "trunc", RAW[:cut], gz)
    assert len(kernels(out)) == gpu_events_before(TEXT, cut)
    w = warnings_of(out)
    assert any("cut off" in x and str(p) in x and "kept" in x for x in w), w
    assert any("cut off" in x for x in stderr_warnings(res))


def test_truncated_exactly_after_an_event_and_before_the_closing_bracket(tmp_path):
    """The Chrome trace format allows a missing closing ']' (and '}'): all events kept."""
    ends = _gpu_event_offsets()
    for cut in (ends[len(ends) // 2], ends[-1], ends[-1] + 1):
        _, out, _ = run_ok(tmp_path, f"cut{cut}", RAW[:cut])
        assert len(kernels(out)) == gpu_events_before(TEXT, cut)
    last = TEXT.rindex("]", 0, TEXT.index('"deviceProperties"'))  # the traceEvents ']'
    _, out, _ = run_ok(tmp_path, "nobracket", RAW[:last])
    assert len(kernels(out)) == N_GPU


def test_truncated_every_kernel_boundary_offsets(tmp_path):
    """Cuts one byte before and at the end of a kernel event: the kernel is lost, then kept."""
    end = _gpu_event_offsets()[30]
    _, out_a, _ = run_ok(tmp_path, "a", RAW[:end - 1])
    _, out_b, _ = run_ok(tmp_path, "b", RAW[:end])
    assert len(kernels(out_b)) == len(kernels(out_a)) + 1 == 31


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_truncated_gzip_file(tmp_path, frac):
    comp = gzip.compress(RAW, 6)
    p = tmp_path / "gztrunc.json.gz"
    p.write_bytes(comp[: int(len(comp) * frac)])
    res = analyze_cli(p, tmp_path / "o")
    inflated = zlib.decompressobj(31).decompress(comp[: int(len(comp) * frac)])
    if len(inflated) < RAW.index(b'"traceEvents"') + 20:  # cut inside the metadata header: nothing to keep
        assert "no 'traceEvents'" in assert_cli_error(res, name=p)
        return
    assert_ok(res, "gz truncated")
    w = warnings_of(tmp_path / "o")
    assert any("gzip stream ends early" in x and str(p) in x for x in w), w
    assert len(kernels(tmp_path / "o")) == gpu_events_before(TEXT, len(inflated))


def test_truncated_inside_header_is_an_error(tmp_path):
    run_err(tmp_path, "hdr", RAW[:200])


# --- bad content inside events -----------------------------------------------------------------------------------

@pytest.mark.skipif(QUOTES is None or not QUOTES.exists(), reason="shared traces absent")
def test_unescaped_quotes_torch_213(tmp_path):
    data = QUOTES.read_bytes()
    with pytest.raises(json.JSONDecodeError):
        json.loads(data)
    n_events = len(re.findall(rb'^\s*"ph":', data, re.M))
    p, out, res = run_ok(tmp_path, "quotes", data)
    assert any("unescaped quotes" in x for x in warnings_of(out))
    import pandas as pd
    ops = pd.read_parquet(out / "ops.parquet")
    assert 'quote"d /backslash' in set(ops["name"])
    s = summary(out)
    # every event survived: count ops through an independent regex over the raw text
    n_ops = len(re.findall(rb'"cat": "(?:cpu_op|user_annotation)"', data))
    assert s["totals"]["cpu_ops"] == n_ops and n_events > n_ops


def test_unescaped_quote_in_kernel_name_keeps_neighbours(tmp_path):
    i = TEXT.index('"cat": "kernel"')
    j = TEXT.index('"name": "', i) + len('"name": "')
    bad = (TEXT[:j] + 'my "quoted" ' + TEXT[j:]).encode()
    _, out, _ = run_ok(tmp_path, "kq", bad)
    k = kernels(out)
    assert len(k) == N_GPU
    assert any(n.startswith('my "quoted" ') for n in k["name"])


def test_properly_escaped_quotes_are_not_rewritten_during_salvage(tmp_path):
    """Salvage (forced by a truncation) must not mangle names whose quotes are already escaped."""
    i = TEXT.index('"cat": "kernel"')
    j = TEXT.index('"name": "', i) + len('"name": "')
    data = (TEXT[:j] + r'esc \"q\" C:\\dir ' + TEXT[j:]).encode()
    data = data[: len(data) - 300]  # cut off: forces the salvage path
    _, out, _ = run_ok(tmp_path, "esc", data)
    assert any(n.startswith('esc "q" C:\\dir ') for n in kernels(out)["name"])


def test_invalid_utf8_in_a_name(tmp_path):
    i = TEXT.index('"cat": "kernel"')
    j = RAW.index(b'"name": "', i) + len(b'"name": "')
    data = RAW[:j] + b"bad\xff\xfe\xc3name " + RAW[j:]
    p, out, res = run_ok(tmp_path, "utf8", data)
    assert len(kernels(out)) == N_GPU
    assert any(n.startswith("bad\ufffd") for n in kernels(out)["name"])
    w = [x for x in warnings_of(out) if "invalid UTF-8" in x]
    assert w and f"byte {j + 3:,}" in w[0] and str(p) in w[0]


def test_nan_and_infinity_literals(tmp_path):
    data = re.sub(rb'"dur": [0-9.]+', b'"dur": NaN', RAW, count=5)
    data = re.sub(rb'"ts": [0-9.]+', b'"ts": Infinity', data, count=3)
    data = re.sub(rb'"registers per thread": [0-9]+', b'"registers per thread": -Infinity', data, count=3)
    _, out, _ = run_ok(tmp_path, "nan", data)
    assert len(kernels(out)) == N_GPU


@pytest.mark.parametrize("digits", [25, 400])
def test_huge_integers_keep_events(tmp_path, digits):
    data = re.sub(rb'"correlation": [0-9]+', b'"correlation": ' + b"9" * digits, RAW)
    data = re.sub(rb'"dur": [0-9.]+', b'"dur": 1' + b"0" * digits, data, count=3)
    _, out, _ = run_ok(tmp_path, "bigint", data)
    k = kernels(out)
    assert len(k) == N_GPU and k["correlation"].isna().all()


def test_integer_beyond_python_digit_limit_keeps_the_event_with_a_warning(tmp_path):
    """5000 digits exceeds CPython's int-parsing limit (4300): the event is kept without its args, loudly."""
    data = re.sub(rb'"correlation": [0-9]+', b'"correlation": ' + b"9" * 5000, RAW, count=1)
    _, out, res = run_ok(tmp_path, "hugeint", data)
    assert len(kernels(out)) == N_GPU
    assert any("1 event(s) have unusable args" in x for x in warnings_of(out)), warnings_of(out)


def test_negative_durations_keep_rows(tmp_path):
    data = re.sub(rb'"dur": [0-9.]+', b'"dur": -5', RAW)
    _, out, _ = run_ok(tmp_path, "neg", data)
    assert len(kernels(out)) == N_GPU


def test_negative_durations_are_clamped(tmp_path):
    data = re.sub(rb'"dur": [0-9.]+', b'"dur": -5', RAW)
    _, out, _ = run_ok(tmp_path, "neg", data)
    assert (kernels(out)["dur_us"].fillna(0) >= 0).all()
    assert summary(out)["totals"]["gpu_time_us"] >= 0 and summary(out)["totals"]["gpu_busy_us"] >= 0


def test_missing_durations(tmp_path):
    data = re.sub(rb'"dur": [0-9.]+,\s*', b"", RAW)
    _, out, _ = run_ok(tmp_path, "nodur", data)
    k = kernels(out)
    assert len(k) == N_GPU and k["dur_us"].isna().all()


def test_unknown_categories_are_counted_not_fatal(tmp_path):
    data = RAW.replace(b'"cat": "cuda_runtime"', b'"cat": "weird_cat"').replace(b'"cat": "cpu_instant_event"', b'"cat": 17')
    _, out, _ = run_ok(tmp_path, "unk", data)
    assert len(kernels(out)) == N_GPU


def test_missing_args(tmp_path):
    obj = json.loads(RAW)
    for e in obj["traceEvents"]:
        e.pop("args", None)
    _, out, _ = run_ok(tmp_path, "noargs", json.dumps(obj).encode())
    assert len(kernels(out)) == N_GPU


def test_wrong_value_types_in_numbers(tmp_path):
    obj = json.loads(RAW)
    for i, e in enumerate(obj["traceEvents"]):
        for k, v in (("ts", "abc"), ("dur", None), ("pid", {"x": 1}), ("tid", 1.5)):
            if k in e and i % 3 == 0:
                e[k] = v
        if isinstance(e.get("args"), dict) and i % 2:
            e["args"]["stream"] = "seven"
            e["args"]["correlation"] = None
            e["args"]["grid"] = "not-a-list"
    _, out, _ = run_ok(tmp_path, "types", json.dumps(obj).encode())
    assert len(kernels(out)) == N_GPU


def test_lists_where_numbers_are_expected(tmp_path):
    data = re.sub(rb'"(dur|ts)": [0-9.]+', rb'"\1": [1, 2]', RAW)
    _, out, _ = run_ok(tmp_path, "lists", data)
    assert len(kernels(out)) == N_GPU


def test_deep_nesting_is_not_a_recursion_crash(tmp_path):
    ev = b'{"ph": "X", "cat": "kernel", "name": "k%d", "pid": 0, "tid": 7, "ts": %d, "dur": 1}'
    deep = b'{"ph": "X", "cat": "kernel", "name": "deep", "args": {"grid": ' + b"[" * 100000 + b"]" * 100000 + b"}}"
    data = b'{"traceEvents": [\n' + ev % (1, 1) + b",\n" + deep + b",\n" + ev % (2, 2) + b"\n]}"
    _, out, _ = run_ok(tmp_path, "deep", data)
    assert set(kernels(out)["name"]) >= {"k1", "k2"}


def test_damaged_metadata_header_keeps_events(tmp_path):
    data = RAW.replace(b'"metadata": {', b'"metadata": {"broken": "a"b" , ', 1)
    _, out, _ = run_ok(tmp_path, "hdr", data + b"")
    assert len(kernels(out)) == N_GPU


# --- wrong top-level shape, not a trace at all ---------------------------------------------------------------------

@pytest.mark.parametrize("name,data,needle", [
    ("number", b"42", "not a JSON trace"),
    ("string", b'"hello"', "not a JSON trace"),
    ("null", b"null", "not a JSON trace"),
    ("no_events", b'{"schemaVersion": 1, "deviceProperties": []}', "no 'traceEvents'"),
    ("events_number", b'{"traceEvents": 5}', "'traceEvents' is not a list"),
    ("events_object", b'{"traceEvents": {"a": 1}}', "'traceEvents' is not a list"),
    ("events_string", b'{"traceEvents": "[]"}', "'traceEvents' is not a list"),
    ("empty", b"", "empty file"),
    ("whitespace", b"  \n\t ", "empty file"),
    ("random", bytes(range(256)) * 20, "not a JSON trace"),
    ("random_brace", b"{" + bytes(range(256)) * 20, ""),
])
def test_not_a_trace_is_one_line_error(tmp_path, name, data, needle):
    line = run_err(tmp_path, name, data)
    assert needle in line


def test_random_bytes_seeded(tmp_path):
    import random
    rng = random.Random(8)
    for i in range(5):
        data = bytes(rng.randrange(256) for _ in range(3000))
        res = analyze_cli(write(tmp_path, f"r{i}", data), tmp_path / f"o{i}")
        assert_cli_error(res, what=f"random {i}")


def test_corrupt_gzip_header(tmp_path):
    comp = bytearray(gzip.compress(RAW))
    comp[10:40] = bytes(30)
    p = tmp_path / "corrupt.json.gz"
    p.write_bytes(bytes(comp))
    line = assert_cli_error(analyze_cli(p, tmp_path / "o"), name=p)
    assert "corrupt gzip" in line


def test_corrupt_gzip_middle_keeps_what_came_before(tmp_path):
    big = RAW * 8  # ~8.6 MB inflated: the corruption sits far past the first output step
    comp = bytearray(gzip.compress(big, 6))
    at = int(len(comp) * 0.8)
    comp[at:at + 64] = bytes(64)
    p = tmp_path / "mid.json.gz"
    p.write_bytes(bytes(comp))
    res = analyze_cli(p, tmp_path / "o")
    assert_ok(res, "corrupt middle")
    w = warnings_of(tmp_path / "o")
    assert any("corrupt gzip data after" in x for x in w), w
    assert len(kernels(tmp_path / "o")) >= N_GPU  # at least the whole first copy of the trace


def test_concatenated_gzip_members_are_all_read(tmp_path):
    """`cat a.gz b.gz` (and pigz/bgzip output) is valid gzip: every member must be inflated."""
    cut = len(RAW) // 2
    p = tmp_path / "multi.json.gz"
    p.write_bytes(gzip.compress(RAW[:cut]) + gzip.compress(RAW[cut:]))
    res = analyze_cli(p, tmp_path / "o")
    assert_ok(res)
    assert len(kernels(tmp_path / "o")) == N_GPU and warnings_of(tmp_path / "o") == warnings_of_valid(tmp_path)


def warnings_of_valid(tmp_path):
    res = analyze_cli(BUNDLED, tmp_path / "valid")
    assert_ok(res)
    return warnings_of(tmp_path / "valid")


# --- size limits and bombs -----------------------------------------------------------------------------------------

def test_gzip_bomb_is_refused_quickly(tmp_path):
    p = tmp_path / "bomb.json.gz"
    inflated = gzip_bomb(p, inflated_gib=10)
    assert p.stat().st_size < 12 << 20 and inflated > 10 << 30
    t = time.monotonic()
    res = analyze_cli(p, tmp_path / "o")
    line = assert_cli_error(res, name=p)
    assert time.monotonic() - t < 20
    assert "bomb" in line or "limit" in line
    assert not (tmp_path / "o" / "summary.json").exists()


def test_gzip_bomb_under_a_small_max_size(tmp_path):
    p = tmp_path / "bomb.json.gz"
    gzip_bomb(p, inflated_gib=1)
    line = assert_cli_error(analyze_cli(p, tmp_path / "o", "--max-size", "0.05"), name=p)
    assert "limit" in line and "--max-size" in line


@pytest.mark.parametrize("gz", [False, True])
def test_max_size_flag(tmp_path, gz):
    p = write(tmp_path, "sized", RAW, gz)
    line = assert_cli_error(analyze_cli(p, tmp_path / "o", "--max-size", "0.0005"), name=p)  # ~0.5 MiB < 1.03 MB
    assert "limit" in line
    assert_ok(analyze_cli(p, tmp_path / "o2", "--max-size", "0.01"))  # ~10 MiB: fine


# --- files and folders -----------------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    p = tmp_path / "nope.json"
    line = assert_cli_error(analyze_cli(p, tmp_path / "o"), name=p)
    assert "no such file" in line


def test_folder_without_traces(tmp_path):
    d = tmp_path / "emptydir"
    d.mkdir()
    line = assert_cli_error(analyze_cli(d, tmp_path / "o"), name=d)
    assert "no .json" in line


def test_directory_named_like_a_trace_is_not_opened_as_a_file(tmp_path):
    from traceflops.errors import TraceError
    from traceflops.ingest.source import read_bytes
    d = tmp_path / "dir.json"
    d.mkdir()
    with pytest.raises(TraceError, match="directory"):
        read_bytes(str(d))


def test_output_under_a_regular_file(tmp_path):
    f = tmp_path / "somefile"
    f.write_text("x")
    out = f / "sub"
    line = assert_cli_error(analyze_cli(BUNDLED, out), name=out)
    assert "cannot write" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_output_folder(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        line = assert_cli_error(analyze_cli(BUNDLED, d / "out"), name=d)
        assert "cannot write" in line
    finally:
        d.chmod(0o700)


# --- subprocess: the real entry point prints no traceback -----------------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "missing", "bomb", "badout"])
def test_subprocess_errors_are_one_line(tmp_path, kind):
    if kind == "random":
        p = write(tmp_path, "r", bytes(range(256)) * 10)
    elif kind == "missing":
        p = tmp_path / "missing.json.gz"
    elif kind == "bomb":
        p = tmp_path / "b.json.gz"
        gzip_bomb(p, inflated_gib=2)
    out = tmp_path / "o"
    if kind == "badout":
        p = BUNDLED
        (tmp_path / "f").write_text("x")
        out = tmp_path / "f" / "sub"
    r = subprocess_cli("analyze", p, "-o", out, "--no-report", "-q")
    from tests.robust_helpers import assert_one_line_error
    assert_one_line_error(r.returncode, r.stderr, what=kind)


def test_subprocess_truncated_recovers_with_warnings(tmp_path):
    p = write(tmp_path, "t", RAW[: len(RAW) // 2], gz=True)
    r = subprocess_cli("analyze", p, "-o", tmp_path / "o", "--no-report", "-q")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert any(ln.startswith("warning: ") and "cut off" in ln and str(p) in ln for ln in r.stderr.splitlines())
    assert summary(tmp_path / "o")["totals"]["gpu_events"] == gpu_events_before(TEXT, len(RAW) // 2)


# --- source.py directly: the whole-buffer/salvage path that every fallback lands in ---------------------------------

def test_source_repairs_invalid_utf8_and_reports_the_offset():
    from traceflops.ingest.source import split_top
    j = RAW.index(b'"name": "', RAW.index(b'"cat": "kernel"')) + 9
    w = []
    header, events = split_top(RAW[:j] + b"\xff" + RAW[j:], "t.json", w)
    assert len(events) == 2551 and w == [f"t.json: invalid UTF-8 (first at byte {j:,}); replaced with U+FFFD"]
    assert sum(is_gpu_event(json.loads(bytes(e))) for e in events) == N_GPU


def test_source_survives_deep_nesting():
    from traceflops.ingest.source import split_top
    ev = b'{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 1}'
    data = b'{"traceEvents": [' + ev + b",\n" + b'{"ph": "X", "args": ' + b"[" * 100000 + b"]" * 100000 + b"},\n" + ev + b"]}"
    w = []
    _, events = split_top(data, "d.json", w)
    assert len(events) == 2 and any("skipped 1 unparseable" in x for x in w)


def test_source_reads_every_gzip_member_and_pads(tmp_path):
    from traceflops.ingest.source import read_bytes
    p = tmp_path / "m.gz"
    p.write_bytes(gzip.compress(b"abc") + b"\0" * 10 + gzip.compress(b"def") + gzip.compress(b"") + gzip.compress(b"g"))
    w = []
    assert read_bytes(str(p), warnings=w) == b"abcdefg" and w == []
    p.write_bytes(gzip.compress(b"abc") + b"garbage")
    assert read_bytes(str(p), warnings=w) == b"abc" and "non-gzip bytes" in w[0]


def test_source_bomb_is_refused_after_little_output(tmp_path):
    import tracemalloc
    from traceflops.errors import TraceError
    from traceflops.ingest.source import read_bytes
    p = tmp_path / "bomb.gz"
    gzip_bomb(p, inflated_gib=4)
    tracemalloc.start()
    with pytest.raises(TraceError, match="bomb"):
        read_bytes(str(p))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 600 << 20  # refused after ~256 MB, never anywhere near the 4 GiB it would inflate to


def test_endless_device_is_read_with_a_bound(tmp_path):
    """/dev/zero reports size 0 and never ends: reading stops at --max-size."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    line = assert_cli_error(analyze_cli("/dev/zero", tmp_path / "o", "--max-size", "0.001"), name="/dev/zero")
    assert "limit" in line


def test_kernel_with_unusable_args_is_kept(tmp_path):
    import json as _json
    events = [{"ph": "X", "cat": "kernel", "name": f"k{i}", "pid": 0, "tid": 7, "ts": 1 + 4 * i, "dur": 2, "args": a}
              for i, a in enumerate([[1, 2], "str", 5, {"device": 0, "stream": 7}])]
    p = tmp_path / "args.json"
    p.write_text(_json.dumps({"traceEvents": events}))
    from traceflops.ingest import read_trace
    t = read_trace(p)
    assert list(t.gpu["name"]) == ["k0", "k1", "k2", "k3"]
    assert any("unusable args" in w for w in t.warnings)

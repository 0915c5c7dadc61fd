"""Every shared trace loads, and every GPU activity event becomes exactly one row."""
import gzip
import json

import pytest

from traceflops.ingest import read_trace

from .conftest import SAMPLES, all_shared_traces, needs_shared

GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset", "memcpy", "memset"}


def count_gpu_events(path):
    """Independent count with the stdlib: X events whose category is a GPU activity."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        return None
    events = doc.get("traceEvents", []) if isinstance(doc, dict) else doc
    return sum(1 for e in events if isinstance(e, dict) and str(e.get("cat", "")).lower() in GPU_CATS
               and e.get("ph", "X") == "X")


@needs_shared
@pytest.mark.parametrize("path", all_shared_traces(), ids=lambda p: p.name[:60])
def test_every_gpu_event_is_a_row(path):
    t = read_trace(path)
    expected = count_gpu_events(path)
    if expected is not None:
        assert len(t.gpu) == expected
    assert t.gpu["kind"].isin(["kernel", "memcpy", "memset"]).all()


def test_gzip_detected_by_magic_not_extension(tmp_path):
    src = SAMPLES / "h100__gaunernst_bert-small-uncased__1016001.json.gz"
    renamed = tmp_path / "trace.json"  # gzip bytes under a plain name
    renamed.write_bytes(src.read_bytes())
    plain = tmp_path / "plain.json"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    a, b = read_trace(renamed), read_trace(plain)
    assert len(a.gpu) == len(b.gpu) == 61
    assert (a.gpu["dur_us"].to_numpy() == b.gpu["dur_us"].to_numpy()).all()


def test_bare_array_form(tmp_path):
    events = [
        {"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7, "ts": 10, "dur": 5, "args": {"correlation": 1, "device": 0, "stream": 7}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 2, "dur": 1, "args": {"correlation": 1}},
        {"ph": "X", "cat": "cpu_op", "name": "aten::relu", "pid": 1, "tid": 1, "ts": 1, "dur": 4, "args": {"Input Dims": [[4, 4]], "Input type": ["float"]}},
    ]
    p = tmp_path / "a.json"
    p.write_text(json.dumps(events))
    t = read_trace(p)
    assert len(t.gpu) == 1 and len(t.ops) == 1 and len(t.launches) == 1
    assert t.ops["input_dims"][0] == "[[4,4]]"


@needs_shared
def test_unescaped_quotes_trace_loads_everything(tmp_path):
    from .conftest import SHARED
    bad = SHARED / "cpu" / "cpu_edge_INVALID_quotes_in_names.json"
    good = SHARED / "cpu" / "cpu_edge_names_dtypes.json"
    t = read_trace(bad)
    assert any("unescaped quotes" in w for w in t.warnings)
    assert len(t.ops) == len(read_trace(good).ops)
    assert t.ops["name"].str.contains('quote"d', regex=False).any()
    assert t.meta.flag("record_shapes") == 1


def test_truncated_trace_keeps_events_before_the_cut(tmp_path):
    raw = gzip.decompress((SAMPLES / "h100__gaunernst_bert-small-uncased__1016001.json.gz").read_bytes())
    full = read_trace(SAMPLES / "h100__gaunernst_bert-small-uncased__1016001.json.gz")
    cut = tmp_path / "cut.json"
    cut.write_bytes(raw[: int(len(raw) * 0.1)])
    t = read_trace(cut)
    assert any("cut off" in w for w in t.warnings)
    assert 0 < len(t.ops) < len(full.ops)
    # what survived is exactly the prefix of the full trace
    assert list(t.ops["name"]) == list(full.ops["name"][: len(t.ops)])


def test_huge_ints_inf_strings_and_string_pids(tmp_path):
    events = {"traceEvents": [
        {"ph": "X", "cat": "kernel", "name": "k", "pid": "0", "tid": "stream 7", "ts": "100.5", "dur": 2,
         "args": {"correlation": 99999999999999999999999, "blocks per SM": "inf", "grid": [1, 1, 1]}},
        {"ph": "X", "cat": "cpu_op", "name": "x", "pid": 1, "tid": 1, "ts": 1, "dur": 1, "args": {"Comms Id": 10159970886766084423}},
    ]}
    p = tmp_path / "t.json"
    p.write_text(json.dumps(events))
    t = read_trace(p)
    assert t.gpu["ts_us"][0] == 100.5
    assert t.gpu["stream"][0] == 7
    assert t.gpu["blocks_per_sm"][0] == float("inf")
    assert t.gpu["correlation"].isna()[0]  # out of int64: unusable as a key, not a crash


def test_relative_ts_with_base_time_and_2021_names():
    t = read_trace(SAMPLES / "cpu_fwdbwd_shapes_flops_modules.json.gz")
    assert t.meta.relative_time and t.meta.base_time_ns > 0
    assert t.ops["input_dims"].notna().any()
    assert set(t.flows["cat"]) >= {"fwdbwd"}

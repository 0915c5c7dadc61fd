"""Ingest paths the trace corpus does not reach: how many processes a run may use, a forked worker's side of the
pipe, workers that are gone, the salvage reader's per-event fallback, and the typed header of odd metadata."""
import gzip
import json
import os
import pickle
import zlib

import pandas as pd
import pytest

from traceflops.ingest import forks, read_trace
from traceflops.ingest.meta import TraceMeta

from .robust_helpers import gpu_events_before, is_gpu_event


# ---------------------------------------------------------------- forks.processes

@pytest.mark.parametrize("value,want", [("3", 3), ("1", 1), ("0", 1), ("-2", 1), ("many", 1)])
def test_processes_from_the_environment(monkeypatch, value, want):
    monkeypatch.setenv(forks.ENV, value)
    assert forks.processes() == want


def test_processes_from_the_cores(monkeypatch):
    monkeypatch.delenv(forks.ENV, raising=False)
    monkeypatch.setattr(forks.sys, "platform", "linux")
    monkeypatch.setattr(forks.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert forks.processes() == forks.MAX_WORKERS  # capped: more decoding processes stop paying

    def no_affinity(pid):
        raise OSError("not permitted")
    monkeypatch.setattr(forks.os, "sched_getaffinity", no_affinity, raising=False)
    monkeypatch.setattr(forks.os, "cpu_count", lambda: 2)
    assert forks.processes() == 2
    monkeypatch.setattr(forks.os, "cpu_count", lambda: None)
    assert forks.processes() == 1
    monkeypatch.setattr(forks.sys, "platform", "darwin")  # fork with Arrow loaded is not safe there
    assert forks.processes() == 1


# ---------------------------------------------------------------- a worker's side of fork()

class _Exited(Exception):
    def __init__(self, code):
        self.code = code


@pytest.fixture
def as_child(monkeypatch):
    """forks.fork() taking the child's branch in this process: os.fork returns 0, os._exit raises, and the read
    end of the pipe stays open so the test can read what the worker sent."""
    real_pipe, real_close = os.pipe, os.close
    fds = {}

    def pipe():
        fds["r"], fds["w"] = real_pipe()
        return fds["r"], fds["w"]

    def exit_(code):
        raise _Exited(code)
    monkeypatch.setattr(forks.os, "pipe", pipe)
    monkeypatch.setattr(forks.os, "fork", lambda: 0)
    monkeypatch.setattr(forks.os, "close", lambda fd: None if fd == fds.get("r") else real_close(fd))
    monkeypatch.setattr(forks.os, "_exit", exit_)
    yield fds
    monkeypatch.undo()
    for fd in fds.values():
        try:
            os.close(fd)
        except OSError:
            pass


def test_worker_sends_its_result_and_exits_0(as_child):
    with pytest.raises(_Exited) as e:
        forks.fork(lambda a, b: {"sum": a + b, "rows": list(range(3))}, 2, 3)
    assert e.value.code == 0
    with open(as_child.pop("r"), "rb") as f:
        assert pickle.load(f) == {"sum": 5, "rows": [0, 1, 2]}


def test_worker_that_fails_exits_1_and_sends_nothing(as_child):
    def boom():
        raise MemoryError("out of memory")
    with pytest.raises(_Exited) as e:
        forks.fork(boom)
    assert e.value.code == 1
    os.close(as_child.pop("w"))  # what the real worker's exit does to its end of the pipe
    with open(as_child.pop("r"), "rb") as f:
        assert f.read() == b""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork: POSIX only")
def test_real_workers_result_death_and_reap():
    ok = forks.fork(lambda: ("rows", 7))
    assert forks.join(ok) == ("rows", 7) and ok.done
    dead = forks.fork(lambda: 1 / 0)
    assert forks.join(dead) is None  # died without sending: the caller reads its range itself
    slow = forks.fork(__import__("time").sleep, 30)
    forks.reap([slow, ok])  # the parent gave up early: killed, collected; a joined one is left alone
    assert slow.done
    gone = forks.Child(pid=slow.pid, fd=slow.fd)  # already reaped: every step fails quietly
    forks.reap([gone])
    assert gone.done


# ---------------------------------------------------------------- odd events in the salvage reader

def _events():
    evs = [{"ph": "X", "cat": "kernel", "name": f"k{i}", "pid": 0, "tid": 7, "ts": 10 + i, "dur": 1,
            "args": {"correlation": i, "device": 0, "stream": 7}} for i in range(40)]
    evs[4]["args"] = "not an object"
    evs[9]["args"] = [1, 2]
    evs[6:6] = [5, "text", None]  # not events at all
    return evs


@pytest.mark.parametrize("form", ["list", "object"])
def test_events_that_are_not_objects_are_skipped_and_args_that_are_not_kept_without(tmp_path, form):
    evs = _events()
    p = tmp_path / "t.json"
    p.write_text(json.dumps(evs if form == "list" else {"traceEvents": evs}))
    t = read_trace(p)
    assert len(t.gpu) == 40 == sum(map(is_gpu_event, evs))
    assert any("skipped 3 event(s) whose fields have impossible types" in w for w in t.warnings), t.warnings
    assert any("2 event(s) have unusable args (not an object); kept without them" in w for w in t.warnings), t.warnings


def test_salvage_of_a_truncated_gzip_keeps_odd_events(tmp_path):
    """A cut gzip goes to the whole-buffer reader: its chunk with non-events is decoded one event at a time."""
    text = json.dumps({"traceEvents": _events()}, indent=1)
    data = gzip.compress(text.encode())[:-40]  # the gzip stream itself is cut
    kept = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    p = tmp_path / "cut.json.gz"
    p.write_bytes(data)
    t = read_trace(p)
    assert len(t.gpu) == gpu_events_before(text, len(kept)) > 30
    assert any("gzip stream ends early" in w for w in t.warnings), t.warnings
    k = t.gpu.set_index("name")
    assert k.loc["k4", "correlation"] is pd.NA and k.loc["k9", "correlation"] is pd.NA  # kept, args dropped
    assert k.loc["k5", "correlation"] == 5


# ---------------------------------------------------------------- the typed header

def test_trace_meta_of_odd_headers():
    m = TraceMeta.from_header({"deviceProperties": [{"id": 3, "name": "A"}, "junk", {"name": "B"}, {"id": "x"}],
                               "distributedInfo": {"rank": 5, "world_size": 8}, "baseTimeNanoseconds": True,
                               "record_shapes": 1})
    assert [p.get("name") for p in m.device_properties] == ["A", "B", None]
    assert m.device_properties_by_id == {3: {"id": 3, "name": "A"}, 1: {"name": "B"}}  # no id: its position
    assert m.rank == 5 and m.world_size == 8
    assert m.base_time_ns is None and m.relative_time and m.time_format == "relative-ns"  # a bool is no time base
    assert m.flag("record_shapes") == 1 and m.flag("with_stack") is None
    empty = TraceMeta.from_header(["not", "a", "header"])
    assert empty.raw == {} and empty.rank is None and empty.time_format == "absolute-us"
    assert TraceMeta.from_header({"deviceProperties": {"id": 0}, "distributedInfo": [1]}).device_properties == ()

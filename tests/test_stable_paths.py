"""Paths of the stable stages that no trace reaches: the progress bar on a terminal, the CLI's line for a bug,
JSON of numpy values, Parquet of object columns with mixed values, write and annotate errors, heap release
without glibc."""
import gzip
import io
import json

import click
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import traceflops
from traceflops.errors import TraceError
from traceflops.outputs import parquet as pqout
from traceflops.outputs.write import json_safe, summary_json

from .robust_helpers import BUNDLED, is_gpu_event, raw_bytes


def test_progress_bar_on_a_terminal_reports_the_whole_ingest(monkeypatch):
    from rich.console import Console

    from traceflops.cli import render
    monkeypatch.setattr(render, "console", Console(file=io.StringIO(), force_terminal=True))
    seen = []
    with render.progress_bar() as p:
        assert callable(p)
        traceflops.analyze(BUNDLED, progress=lambda done, total: (seen.append((done, total)), p(done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 0  # the last call says everything was read
    assert all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
    with render.progress_bar(quiet=True) as q:
        assert q is None


def test_a_bug_is_one_line_that_says_it_is_ours(capsys):
    from traceflops.cli.errors import run_guarded

    def bug():
        raise KeyError("flops")
    with pytest.raises(click.exceptions.Exit) as e:
        run_guarded(bug)
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert err == "traceflops: error: internal error (KeyError: 'flops'); please report it\n"


def test_json_safe_unwraps_numpy_and_drops_non_finite():
    o = {1: np.int64(3), "f": np.float32(0.5), "nan": float("nan"), "inf": np.inf, "b": np.bool_(True),
         "na": pd.NA, "t": (1, np.int8(2)), "s": "x"}
    assert json_safe(o) == {"1": 3, "f": 0.5, "nan": None, "inf": None, "b": True, "na": None, "t": [1, 2], "s": "x"}
    assert json.loads(summary_json({"totals": {"flops": np.float64(2.0)}, "HF_TOKEN": "x"})) == {
        "totals": {"flops": 2.0}, "HF_TOKEN": "[redacted]"}


def test_parquet_object_columns_with_mixed_values(tmp_path):
    df = pd.DataFrame({
        "mixed": pd.Series([1, "a", None, 2.5, True], dtype=object),  # no Arrow type fits: text
        "flags": pd.Series([True, None, np.bool_(False), None, True], dtype=object),  # bools with gaps: bool
        "empty": pd.Series([None] * 5, dtype=object),  # all missing: still a text column
        "nullable": pd.array([1, None, 3, None, 5], dtype="Int32"),
    })
    pqout.write_parquet(df, tmp_path / "t.parquet")
    t = pq.read_table(tmp_path / "t.parquet")
    assert [str(f.type) for f in t.schema] == ["string", "bool", "string", "int64"]
    assert t.column("mixed").to_pylist() == ["1", "a", None, "2.5", "True"]
    assert t.column("flags").to_pylist() == [True, None, False, None, True]


def test_parquet_slice_types_follow_the_whole_table(tmp_path, monkeypatch):
    """A flag that is missing in every row of the first slice is still a bool column (the slices share one
    schema), and text missing from a whole slice is still text."""
    monkeypatch.setattr(pqout, "ROW_GROUP", 4)
    df = pd.DataFrame({"late_flag": pd.Series([None] * 8 + [True, False], dtype=object),
                       "late_text": pd.Series([None] * 4 + ["x"] * 6, dtype=object)})
    pqout.write_parquet(df, tmp_path / "t.parquet")
    f = pq.ParquetFile(tmp_path / "t.parquet")
    assert f.metadata.num_row_groups == 3
    t = f.read()
    assert str(t.schema.field("late_flag").type) == "bool" and t.column("late_flag").to_pylist()[-2:] == [True, False]
    assert str(t.schema.field("late_text").type) == "string"


def test_write_into_a_file_is_one_clear_error(tmp_path):
    a = traceflops.analyze(BUNDLED)
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    with pytest.raises(TraceError, match="cannot write output folder"):
        a.write(blocker / "out")


def test_annotate_gives_args_to_events_without_and_reports_unwritable_output(tmp_path):
    from traceflops.apps.annotate import annotate
    d = json.loads(raw_bytes(BUNDLED))
    gpu = [e for e in d["traceEvents"] if is_gpu_event(e)]
    memcpy = next(e for e in gpu if e["cat"] == "gpu_memcpy")
    memcpy_bytes = memcpy["args"].get("bytes")
    bare = max((e for e in gpu if e["cat"] == "kernel"), key=lambda e: e["dur"])
    del bare["args"]
    src = tmp_path / "t.json"
    src.write_text(json.dumps(d))
    r = annotate(src, tmp_path / "out.json.gz")
    assert r["annotated"] == r["gpu_events"] == len(gpu)
    out = [e for e in json.loads(gzip.decompress((tmp_path / "out.json.gz").read_bytes()))["traceEvents"]
           if is_gpu_event(e)]
    again = next(e for e in out if e["name"] == bare["name"] and e["ts"] == bare["ts"])
    assert isinstance(again["args"], dict) and again["args"]["bound"] in ("compute", "memory")
    m = next(e for e in out if e["cat"] == "gpu_memcpy")
    assert m["args"]["bytes"] == memcpy_bytes and m["args"]["traceflops_bytes"] > 0  # the trace's own kept
    blocker = tmp_path / "taken"
    blocker.write_text("")
    with pytest.raises(TraceError, match="cannot write"):
        annotate(src, blocker / "x.json")


def test_heap_release_without_glibc(monkeypatch):
    import ctypes

    from traceflops import memory

    def no_libc(name):
        raise OSError(f"{name}: cannot open shared object file")
    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    memory.release_heap()  # a platform without glibc: nothing to hand back, and no error


@pytest.mark.parametrize("raised,code,err", [(None, 0, ""), (0, 0, ""), (2, 2, ""),
                                             ("no such thing", 1, "no such thing\n")])
def test_console_entry_exit_codes(monkeypatch, capsys, raised, code, err):
    """The console script turns click's exit into the process's exit code, runs the exit handlers and flushes,
    then leaves at once (os._exit): a message instead of a code is printed and exits 1."""
    import atexit
    import os

    from traceflops import cli

    class Exited(Exception):
        pass
    handlers = []

    def main():
        raise SystemExit(raised)

    def leave(c):
        raise Exited(c)
    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: handlers.append(1))
    monkeypatch.setattr(os, "_exit", leave)
    with pytest.raises(Exited) as e:
        cli.entry()
    assert e.value.args == (code,) and handlers == [1]
    assert capsys.readouterr().err == err

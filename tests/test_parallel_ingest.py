"""Parallel decoding (forks.py + ingest/stream.py) gives exactly the tables of a one-process read.

Chunks and the parallel threshold are shrunk so that small bundled traces are split among forked workers.
"""
import gzip
import json
import os
import sys

import pandas as pd
import pytest

from traceflops.ingest import forks
from traceflops.ingest import read_trace, stream

from .conftest import SAMPLES

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parallel decoding forks (Linux only)")

TRACES = sorted(SAMPLES.glob("*.json.gz")) + sorted((SAMPLES / "gpu").glob("*.json.gz"))[:6]
TABLES = ("gpu", "ops", "launches", "gpu_annotations", "flows", "python")


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(stream, "PARALLEL_MIN_BYTES", 0)
    made = []
    real = forks.fork

    def counted(*a):
        made.append(1)
        return real(*a)
    monkeypatch.setattr(forks, "fork", counted)
    return made


def assert_same(a, b):
    for t in TABLES:
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t), check_exact=True)
    assert a.meta == b.meta
    assert a.processes == b.processes
    assert a.warnings == b.warnings
    assert list(a.skipped_categories.items()) == list(b.skipped_categories.items())


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_workers_give_the_same_tables(small_chunks, path):
    one = read_trace(path, workers=1)
    assert not small_chunks
    for workers in (2, 3):
        many = read_trace(path, workers=workers)
        assert_same(one, many)
    assert len(small_chunks) == 1 + 2  # the split really happened: one worker, then two


def write_trace(path, events, obj=True):
    body = {"traceEvents": events, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}]} if obj else events
    path.write_text(json.dumps(body, indent=1))
    return path


def kernels(n, name="k"):
    evs = []
    for i in range(n):
        evs.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 10 * i,
                    "dur": 2, "args": {"correlation": i + 1}})
        evs.append({"ph": "X", "cat": "kernel", "name": f"{name}{i}", "pid": 0, "tid": 7, "ts": 10 * i + 3, "dur": 5,
                    "args": {"correlation": i + 1, "device": 0, "stream": 7}})
    return evs


def test_split_inside_a_string_is_never_trusted(small_chunks, tmp_path, monkeypatch):
    # one long kernel name in the middle of the file holds "}, {" every 3 KB, so the byte offset where a
    # worker's range should begin lands inside a string: that worker reads nonsense, the range before it
    # cannot decode up to the split, and the parent reads on from its last true event start instead
    evs = kernels(300)
    evs[300]["name"] = ("x" * 3000 + '"}, {"ph": "X", "cat": "kernel", "name": "fake", "ts": 1, "dur": 1') * 40
    p = write_trace(tmp_path / "trap.json", evs)
    one = read_trace(p, workers=1)
    wrong = []
    real = stream._WrongSplit.__init__

    def seen(self, *a):
        wrong.append(a)
        real(self, *a)
    monkeypatch.setattr(stream._WrongSplit, "__init__", seen)
    for workers in (2, 4):
        assert_same(one, read_trace(p, workers=workers))
    assert small_chunks and wrong  # the trap was reached, and read around
    assert len(one.gpu) == 300 and "fake" not in set(one.gpu["name"])


def test_a_worker_that_dies_is_replaced_by_the_parent(small_chunks, tmp_path, monkeypatch):
    p = write_trace(tmp_path / "t.json", kernels(300))
    one = read_trace(p, workers=1)
    monkeypatch.setattr(stream, "_child_span", lambda *a: os._exit(3))
    assert_same(one, read_trace(p, workers=2))
    assert small_chunks


def test_damage_in_a_workers_range_reads_as_one_process_does(small_chunks, tmp_path):
    p = write_trace(tmp_path / "t.json", kernels(300))
    text = p.read_text()
    cut = text.rindex('"name": "k250"')
    p.write_text(text[:cut] + '"name": "k250", "ts": [1, 2}, ' + text[cut + len('"name": "k250"'):])  # broken JSON
    one = read_trace(p, workers=1)
    assert_same(one, read_trace(p, workers=2))
    assert small_chunks and len(one.gpu) >= 249


@pytest.mark.parametrize("obj", [True, False], ids=["object", "bare-array"])
def test_gzip_and_both_top_level_forms(small_chunks, tmp_path, obj):
    p = write_trace(tmp_path / "t.json", kernels(300), obj=obj)
    gz = tmp_path / "t.json.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    for path in (p, gz):
        assert_same(read_trace(path, workers=1), read_trace(path, workers=2))
    assert len(small_chunks) == 2


def test_small_files_are_read_in_one_process(monkeypatch, tmp_path):
    p = write_trace(tmp_path / "t.json", kernels(50))
    monkeypatch.setattr(forks, "fork", lambda *a: pytest.fail("forked for a small file"))
    assert len(read_trace(p, workers=4).gpu) == 50


def test_process_count(monkeypatch):
    monkeypatch.setenv(forks.ENV, "1")
    assert forks.processes() == 1
    monkeypatch.setenv(forks.ENV, "3")
    assert forks.processes() == 3
    monkeypatch.delenv(forks.ENV)
    assert 1 <= forks.processes() <= forks.MAX_WORKERS


def test_progress_covers_the_whole_file(small_chunks, tmp_path):
    p = write_trace(tmp_path / "t.json", kernels(400))
    seen = []
    read_trace(p, workers=2, progress=lambda done, total: seen.append((done, total)))
    assert small_chunks and len(seen) > 3
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1] == p.stat().st_size
    assert any(d > 0.6 * seen[-1][1] for d in done[:-1])  # our half is shown as the whole, not stuck at 48%

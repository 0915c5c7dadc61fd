"""Shared helpers for the robustness tests (issue #8): run the CLI, read its outputs, count events independently.

The independent counts use only the standard library (json), never traceflops' own ingest, so a test that
compares them with `kernels.parquet` can fail when ingest drops or invents events.
"""
import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from traceflops.cli import main

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
COMMITTED = sorted(REPO.glob("sample_traces/*.json.gz")) + sorted((REPO / "traceflops" / "sample_data").glob("*.json*"))

# What the Chrome/Kineto format calls a GPU activity (cat, case-insensitive; ph "X" or absent).
GPU_CATS = {"kernel", "gpu_memcpy", "memcpy", "gpu_memset", "memset"}


def raw_bytes(path):
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def is_gpu_event(e):
    return (isinstance(e, dict) and isinstance(e.get("cat"), str) and e["cat"].lower() in GPU_CATS
            and e.get("ph") in ("X", None))


def events_of(obj):
    if isinstance(obj, list):
        return obj
    return obj.get("traceEvents") if isinstance(obj, dict) else None


def stdlib_gpu_count(data):
    """GPU activity events in a *valid* JSON trace, counted with the json module alone."""
    return sum(1 for e in events_of(json.loads(data)) if is_gpu_event(e))


def event_spans(text):
    """[(end offset, event)] for every event of a valid trace text, found with json.JSONDecoder alone."""
    dec = json.JSONDecoder()
    i = text.index("[", text.index('"traceEvents"')) + 1 if text.lstrip()[0] == "{" else text.index("[") + 1
    out = []
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return out
        obj, i = dec.raw_decode(text, i)
        out.append((i, obj))


def gpu_events_before(text, cut):
    """GPU events that end (closing brace included) before char `cut`: what a truncation at `cut` must keep."""
    return sum(1 for end, e in event_spans(text) if end <= cut and is_gpu_event(e))


def cli(args, **kw):
    """Invoke the click command in-process; stdout and stderr stay separate (click >= 8.2)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True, **kw)


def analyze_cli(path, out, *extra):
    return cli(["analyze", path, "-o", out, "--no-report", "-q", *extra])


def subprocess_cli(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "traceflops", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(REPO))


def assert_ok(res, what=""):
    """Exit 0 and no uncaught exception (CliRunner keeps the exception on the result)."""
    exc = res.exception if not isinstance(res.exception, SystemExit) else None
    assert exc is None, f"{what}: uncaught {type(exc).__name__}: {exc}"
    assert res.exit_code == 0, f"{what}: exit {res.exit_code}; stderr:\n{res.stderr}"


def assert_one_line_error(exit_code, stderr, exception=None, name=None, what=""):
    """Exit 2 and exactly one non-empty stderr line 'traceflops: error: ...' naming the file; no traceback."""
    exc = exception if not isinstance(exception, SystemExit) else None
    assert exc is None, f"{what}: uncaught {type(exc).__name__}: {exc}"
    assert exit_code == 2, f"{what}: exit {exit_code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"{what}: expected one error line, got:\n{stderr}"
    assert lines[0].startswith("traceflops: error: "), lines[0]
    if name is not None:
        assert str(name) in lines[0], f"{what}: error line does not name {name}: {lines[0]}"
    return lines[0]


def assert_cli_error(res, name=None, what=""):
    return assert_one_line_error(res.exit_code, res.stderr, res.exception, name, what)


def summary(out):
    return json.loads((Path(out) / "summary.json").read_text(encoding="utf-8"))


def kernels(out):
    return pd.read_parquet(Path(out) / "kernels.parquet")


def warnings_of(out):
    return summary(out)["warnings"]


def stderr_warnings(res):
    return [ln[len("warning: "):] for ln in res.stderr.splitlines() if ln.startswith("warning: ")]


# --- gzip bomb: many GB of zeros from a few MB, built without ever holding or writing the inflated data ---------

def _gf2_times(mat, vec):
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1, crc2, len2):
    """zlib's crc32_combine: CRC of A+B from CRC(A), CRC(B) and len(B) (GF(2) matrix powers)."""
    if len2 <= 0:
        return crc1
    op = [0xEDB88320] + [1 << (n - 1) for n in range(1, 32)]  # the CRC of one more zero bit
    op = _gf2_square(_gf2_square(op))  # four zero bits
    while len2:
        op = _gf2_square(op)  # one zero byte, then 2, 4, ... bytes
        if len2 & 1:
            crc1 = _gf2_times(op, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def gzip_bomb(path, inflated_gib=10.0, prefix=b'{"traceEvents": [', segment=1 << 24):
    """A valid one-member gzip file: `prefix` then `inflated_gib` GiB of zero bytes.

    After a Z_FULL_FLUSH deflate restarts from an empty window, so the compressed form of one all-zero
    segment is the same every time: write it once, repeat it. CRC and ISIZE are computed, not inflated.
    """
    co = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(segment)
    seg = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    assert seg == co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)  # the repetition trick holds
    n = max(1, int(inflated_gib * (1 << 30)) // segment)
    tail = co.flush(zlib.Z_FINISH)
    crc_seg = zlib.crc32(zeros)
    crc_zeros, length, k, crc_pow, len_pow = 0, 0, n, crc_seg, segment  # CRC of n segments by doubling
    while k:
        if k & 1:
            crc_zeros = crc32_combine(crc_zeros, crc_pow, len_pow) if length else crc_pow
            length += len_pow
        crc_pow = crc32_combine(crc_pow, crc_pow, len_pow)
        len_pow *= 2
        k >>= 1
    crc = crc32_combine(zlib.crc32(prefix), crc_zeros, n * segment)
    total = len(prefix) + n * segment
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    with open(path, "wb") as f:
        f.write(header + head)
        for _ in range(n):
            f.write(seg)
        f.write(tail + crc.to_bytes(4, "little") + (total & 0xFFFFFFFF).to_bytes(4, "little"))
    return total

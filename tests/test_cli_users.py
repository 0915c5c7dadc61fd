"""The CLI as users call it: the installed `traceflops` command in a fresh process, in a folder of its own.

The README's quick start (bare `traceflops analyze`), the summary table it prints, `devices`, a folder of rank
traces with `--jobs 2` and with `--executor dask://local` (worker processes), `--model/--tokens`, `compare` in each
format and its regression gate, `annotate`; and for bad input the exit code and the one line that says why.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import traceflops
from traceflops.apps.ranks import read_dataset

from .conftest import SHARED, needs_shared
from .robust_helpers import BUNDLED, events_of, is_gpu_event, raw_bytes

REPO = Path(__file__).resolve().parents[1]
QWEN_TRACE = REPO / "sample_traces" / "inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz"
QWEN_CONFIG = REPO / "tests" / "data" / "models" / "Qwen__Qwen3-8B.json"
PARAM = SHARED / "param" if SHARED else None


def command():
    """The console script of the environment the tests run in (what `pip install .` puts on PATH)."""
    script = Path(sys.executable).parent / "traceflops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "traceflops"]


def run(*args, cwd, timeout=180, env=None):
    e = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="220",
             TERM="dumb", **(env or {}))
    return subprocess.run(command() + [str(a) for a in args], capture_output=True, text=True, cwd=str(cwd),
                          timeout=timeout, env=e)


def one_error_line(res, *needles):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("traceflops: error: "), res.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert "Traceback" not in res.stderr + res.stdout
    return lines[0]


def gpu_events(path):
    return sum(1 for e in events_of(json.loads(raw_bytes(path))) if is_gpu_event(e))


# ---------------------------------------------------------------- analyze, as in the quick start

@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("quickstart")
    return cwd, run("analyze", cwd=cwd)


def test_bare_analyze_writes_the_bundled_sample(bare):
    cwd, res = bare
    assert res.returncode == 0, res.stderr
    out = cwd / "traceflops-out" / "h100_bert_small"
    assert sorted(p.name for p in out.iterdir()) == ["kernels.parquet", "ops.parquet", "report.html", "summary.json"]
    s = json.loads((out / "summary.json").read_text())
    assert s["totals"]["gpu_events"] == len(pd.read_parquet(out / "kernels.parquet")) == gpu_events(BUNDLED) == 61
    assert s["device"]["key"] == "h100-sxm"


def test_bare_analyze_prints_the_summary_table(bare):
    cwd, res = bare
    s = json.loads((cwd / "traceflops-out" / "h100_bert_small" / "summary.json").read_text())
    out = res.stdout
    tot, cov, mfu = s["totals"], s["coverage"], s["mfu"]

    def row(label):
        m = re.search(rf"│ {re.escape(label)}\s*│ (.*?)\s*│", out)
        assert m, f"no {label!r} row in:\n{out}"
        return m.group(1)
    assert "traceflops: h100_bert_small" in out
    assert row("device") == s["device"]["name"] == "NVIDIA H100 SXM5 80GB"
    assert row("GPU events") == (f"{tot['gpu_events']:,} ({tot['kernels']:,} kernels, {tot['memcpy']} memcpy, "
                                 f"{tot['memset']} memset)")
    assert row("GPU busy") == f"{tot['gpu_busy_us'] / 1e3:,.3f} ms"
    assert row("FLOPs counted") == f"{tot['flops']:.4g}"
    assert row("kernels linked to an op") == f"{100 * cov['link_rate_in_window']:.1f}%"
    assert row("MFU (wall) / busy-time MFU") == f"{100 * mfu['mfu']:.3g}% / {100 * mfu['busy_mfu']:.3g}%"
    assert row("wrote summary") == str(Path("traceflops-out") / "h100_bert_small" / "summary.json")
    # the top-kernels table: the eight biggest groups of kernel + op + shapes + dtype, biggest first, with their
    # calls and GPU time, each op under its kernel
    from traceflops.outputs.report.tables import fmt_us
    k = pd.read_parquet(cwd / "traceflops-out" / "h100_bert_small" / "kernels.parquet")
    g = k.groupby(["name", "op", "input_dims", "dtype", "category"], dropna=False)["dur_us"].agg(["size", "sum"])
    g = g.sort_values("sum", ascending=False).head(8)
    body = out.split("top kernels by GPU time", 1)[1]
    rows = re.findall(r"^ (\S.*?)\s{2,}([\d,]+)\s+(\S+ [µm]?s)\s+[\d.]+%.*\n (\S+)", body, re.M)
    assert [(calls, time, op) for _, calls, time, op in rows] == [
        (f"{n:,}", fmt_us(us), op) for (_, op, *_), n, us in zip(g.index, g["size"], g["sum"])]


def test_analyze_in_a_terminal(tmp_path):
    """On a terminal the command shows a progress bar while it reads, then the tables."""
    import pty
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="120",
               TERM="xterm")
    proc = subprocess.Popen(command() + ["analyze"], stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env)
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(timeout=120)
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "traceflops: h100_bert_small" in text and "error" not in text
    assert (tmp_path / "traceflops-out" / "h100_bert_small" / "report.html").exists()


def test_quiet_prints_nothing_and_no_report(tmp_path):
    res = run("analyze", BUNDLED, "-o", tmp_path / "o", "-q", "--no-report", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == "", res.stdout
    assert not (tmp_path / "o" / "report.html").exists() and (tmp_path / "o" / "kernels.parquet").exists()


def test_devices_lists_the_catalog(tmp_path):
    from traceflops.roofline import catalog_table, load_catalog
    rows = catalog_table(load_catalog())
    res = run("devices", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == json.loads(json.dumps(rows))
    table = run("devices", cwd=tmp_path)
    assert table.returncode == 0 and "Device catalog (dense peaks)" in table.stdout
    keys = [r["key"] for r in rows]
    assert len(keys) > 40 and all(re.search(rf"^{re.escape(k)} ", table.stdout, re.M) for k in keys)
    as_csv = run("devices", "--csv", cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stderr
    import csv
    import io
    got = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["key"] for r in got] == keys and all(re.search(r"https?://", r["source"]) for r in got)
    one_error_line(run("devices", "--json", "--csv", cwd=tmp_path), "--json and --csv")


# ---------------------------------------------------------------- ranks: --jobs 2 and dask://local

RANK_FILES = {"a.json": 3, "b.json": 0, "c.json": 1}  # copied name -> worker file: positions differ from ranks


@pytest.fixture(scope="module")
def rank_folder(tmp_path_factory):
    if PARAM is None:
        pytest.skip("../shared/traces not present")
    d = tmp_path_factory.mktemp("ranks")
    for name, worker in RANK_FILES.items():
        (src,) = PARAM.glob(f"worker{worker}_step_12.*.pt.trace.json")
        shutil.copy(src, d / name)
    return d


@pytest.fixture(scope="module")
def jobs2(rank_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("jobs2") / "out"
    res = run("analyze", rank_folder, "-o", out, "--jobs", "2", "--no-report", cwd=out.parent)
    assert res.returncode == 0, res.stderr
    return out, res


def _rank_of_file(path):
    return json.loads(Path(path).read_text())["distributedInfo"]["rank"]


@needs_shared
def test_rank_folder_with_two_jobs(jobs2, rank_folder):
    out, res = jobs2
    s = json.loads((out / "summary.json").read_text())
    assert s["rank_count"] == 3
    by_rank = {r["rank"]: r for r in s["ranks"]}
    for name in RANK_FILES:  # each file's partition is the rank its distributedInfo says, not its position
        f = rank_folder / name
        r = by_rank[_rank_of_file(f)]
        assert Path(r["path"]).name == name
        assert r["totals"]["gpu_events"] == gpu_events(f)
    assert sorted(by_rank) == [0, 1, 3]
    k = read_dataset(out, "kernels")
    assert sorted(set(k["rank"])) == [0, 1, 3]
    for rank, r in by_rank.items():
        assert (k["rank"] == rank).sum() == r["totals"]["gpu_events"]
    assert f"3 ranks -> {out}" in res.stdout
    assert all(re.search(rf"│ {rank}\s+│", res.stdout) for rank in (0, 1, 3))


@needs_shared
def test_rank_folder_on_a_local_dask_cluster(jobs2, rank_folder, tmp_path):
    """dask://local starts a LocalCluster of worker processes (2 here: --jobs 2): the same tables as local
    processes give, rank for rank."""
    pytest.importorskip("distributed")
    out0, _ = jobs2
    out = tmp_path / "dask"
    res = run("analyze", rank_folder, "-o", out, "--executor", "dask://local", "--jobs", "2", "-q", "--no-report",
              cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    a, b = json.loads((out0 / "summary.json").read_text()), json.loads((out / "summary.json").read_text())
    strip = lambda s: [{k: v for k, v in r.items() if k != "path"} for r in s["ranks"]]  # noqa: E731
    assert strip(a) == strip(b)
    for table in ("kernels", "ops"):
        pd.testing.assert_frame_equal(read_dataset(out0, table), read_dataset(out, table))


# ---------------------------------------------------------------- --model / --tokens

def test_model_and_tokens_reconcile(tmp_path):
    """The sglang Qwen3-8B prefill trace ran 15,360 tokens (its projections are [15360, 4096] matmuls)."""
    res = run("analyze", QWEN_TRACE, "-o", tmp_path / "o", "--no-report", "--model", QWEN_CONFIG, "--tokens", 15360,
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    r = s["model_reconciliation"]
    want = traceflops.analyze(QWEN_TRACE).reconcile(str(QWEN_CONFIG), 15360)
    assert r == json.loads(json.dumps(want))
    assert r["tokens"] == 15360 and r["phase"] == "prefill" and r["model_type"] == "qwen3"
    gemm = next(x for x in r["by_family"] if x["family"] == "gemm")
    # the trace's projection matmuls alone: 36 layers x (6144 + 4096 + 24576 + 12288 x 4096/4096) outputs of K=4096
    proj = 2 * 15360 * 36 * (4096 * 6144 + 4096 * 4096 + 4096 * 24576 + 12288 * 4096)
    assert gemm["trace_flops"] >= proj
    assert "model vs trace FLOPs (prefill, 15,360 tokens" in res.stdout


def test_model_needs_tokens(tmp_path):
    one_error_line(run("analyze", BUNDLED, "-o", tmp_path / "o", "--model", QWEN_CONFIG, cwd=tmp_path), "--tokens")


def test_model_config_unreadable(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    one_error_line(run("analyze", BUNDLED, "-o", tmp_path / "o", "-q", "--model", bad, "--tokens", 8, cwd=tmp_path))


# ---------------------------------------------------------------- compare and its gate

@pytest.fixture(scope="module")
def slower(tmp_path_factory):
    """The bundled sample with every GPU activity 1.5x as long."""
    d = json.loads(raw_bytes(BUNDLED))
    for e in d["traceEvents"]:
        if is_gpu_event(e):
            e["dur"] = e["dur"] * 1.5
    p = tmp_path_factory.mktemp("slower") / "slower.json.gz"
    p.write_bytes(gzip.compress(json.dumps(d).encode()))
    return p


def test_compare_in_every_format(slower, tmp_path):
    res = run("compare", BUNDLED, slower, "-o", tmp_path / "c", "--format", "html", "--format", "md", "--format",
              "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    c = tmp_path / "c"
    j = json.loads((c / "compare.json").read_text())
    assert j["summary"]["matched_delta_pct"] == pytest.approx(50.0, abs=0.01)
    assert j["summary"]["keys"]["new"] == j["summary"]["keys"]["missing"] == 0
    md = (c / "compare.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| GPU time, matched work |"))
    assert row.endswith("| +50.0% |"), row
    html = (c / "compare.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and 'data-figure="fig-shift"' in html
    for line in ("html", "md", "json"):
        assert f"{line}: {c / ('compare.' + line)}" in res.stdout
    assert "matched work:" in res.stdout and "(+50.00%)" in res.stdout


def test_compare_gate_fails_on_regression(slower, tmp_path):
    res = run("compare", BUNDLED, slower, "-o", tmp_path / "c", "--format", "json", "--fail-on-regression", 10,
              cwd=tmp_path)
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert res.stderr.strip() == "traceflops: regression: GPU time of matched work grew +50.00%, over the 10% limit"
    ok = run("compare", BUNDLED, slower, "-o", tmp_path / "c2", "--format", "json", "--fail-on-regression", 60,
             cwd=tmp_path)
    assert ok.returncode == 0 and "regression check passed: +50.00% <= 60%" in ok.stdout
    faster = run("compare", slower, BUNDLED, "-o", tmp_path / "c3", "-q", "--format", "json",
                 "--fail-on-regression", 0, cwd=tmp_path)
    assert faster.returncode == 0 and faster.stdout == ""


def test_compare_default_folder_and_bad_input(tmp_path):
    res = run("compare", BUNDLED, BUNDLED, "-q", cwd=tmp_path)
    assert res.returncode == 0
    assert (tmp_path / "traceflops-out" / "compare" / "h100_bert_small__vs__h100_bert_small" / "compare.html").exists()
    one_error_line(run("compare", BUNDLED, tmp_path / "nope.json", cwd=tmp_path), "nope.json")


# ---------------------------------------------------------------- annotate

def test_annotate(tmp_path):
    out = tmp_path / "ann.json.gz"
    res = run("annotate", BUNDLED, "-o", out, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"annotated 61 of 61 GPU events -> {out}"
    gpu = [e for e in events_of(json.loads(gzip.decompress(out.read_bytes()))) if is_gpu_event(e)]
    a = traceflops.analyze(BUNDLED)
    assert len(gpu) == 61
    assert sum(e["args"].get("flops") or 0 for e in gpu) == pytest.approx(a.summary["totals"]["flops"])
    # default output: beside the input
    src = tmp_path / "copy.json.gz"
    shutil.copy(BUNDLED, src)
    assert run("annotate", src, cwd=tmp_path).returncode == 0 and (tmp_path / "copy.annotated.json.gz").exists()


# ---------------------------------------------------------------- bad input: exit 2 and one line

def test_missing_file(tmp_path):
    one_error_line(run("analyze", tmp_path / "missing.json.gz", cwd=tmp_path), "missing.json.gz")


def test_garbage_file(tmp_path):
    bad = tmp_path / "garbage.json"
    bad.write_bytes(b"\x00\x01 this is not a trace \xff" * 10)
    one_error_line(run("analyze", bad, "-q", cwd=tmp_path), "garbage.json")
    gz = tmp_path / "garbage.json.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    one_error_line(run("analyze", gz, "-q", cwd=tmp_path), "garbage.json.gz")
    one_error_line(run("annotate", bad, cwd=tmp_path), "garbage.json")


def test_unknown_device(tmp_path):
    line = one_error_line(run("analyze", BUNDLED, "-q", "--device", "nvidia-z9000", cwd=tmp_path), "nvidia-z9000")
    assert "traceflops devices" in line or "unknown" in line.lower()
    one_error_line(run("compare", BUNDLED, BUNDLED, "--device", "nvidia-z9000", cwd=tmp_path), "nvidia-z9000")


def test_empty_folder_and_bad_jobs(tmp_path):
    (tmp_path / "empty").mkdir()
    one_error_line(run("analyze", tmp_path / "empty", cwd=tmp_path), "no .json or .json.gz")
    folder = tmp_path / "two"
    folder.mkdir()
    for n in ("r0.json.gz", "r1.json.gz"):
        shutil.copy(BUNDLED, folder / n)
    one_error_line(run("analyze", folder, "--jobs", 0, cwd=tmp_path), "--jobs")
    one_error_line(run("analyze", folder, "--executor", "ray://x", cwd=tmp_path), "ray://x")


@pytest.mark.parametrize("args,needle", [
    (["analyze", "--bogus"], "No such option '--bogus'"),
    (["analyze", "--jobs", "two"], "'two' is not a valid integer"),
    (["compare", str(BUNDLED)], "Missing argument 'NEW'"),
    (["compare", str(BUNDLED), str(BUNDLED), "--format", "pdf"], "'pdf' is not one of"),
    (["frobnicate"], "No such command 'frobnicate'"),
])
def test_bad_flags_are_usage_errors(tmp_path, args, needle):
    res = run(*args, cwd=tmp_path)
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("Error: ") and needle in res.stderr


def test_version_and_help(tmp_path):
    v = run("--version", cwd=tmp_path)
    assert v.returncode == 0 and traceflops.__version__ in v.stdout
    h = run("--help", cwd=tmp_path)
    assert h.returncode == 0 and all(c in h.stdout for c in ("analyze", "compare", "annotate", "devices", "model"))

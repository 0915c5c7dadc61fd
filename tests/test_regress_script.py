"""scripts/regress.py, the refactor harness: two writes of the same code compare equal, and a changed output of
each kind (Parquet, JSON, report, a missing trace) is a difference and exit 1."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "regress.py"
BUNDLED = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"


def regress(*args, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO), TRACEFLOPS_SHARED=str(cwd / "none")))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("regress")
    traces = d / "traces"
    traces.mkdir()
    shutil.copy(BUNDLED, traces / "bert.json.gz")
    shutil.copy(REPO / "sample_traces" / "gpu" / "gemm_bf16_square.json.gz", traces / "gemm.json.gz")
    for side in ("a", "b"):
        res = regress("write", d / side, "--jobs", "1", "--traces", traces, cwd=d)
        assert res.returncode == 0, res.stderr
        assert res.stdout.count("ok    ") == 2, res.stdout
    return d


def test_same_code_compares_equal(written):
    res = regress("compare", written / "a", written / "b", cwd=written)
    assert res.returncode == 0, res.stdout
    assert res.stdout.strip().endswith("2 traces compared, 0 difference(s)")
    folders = sorted(p.name for p in (written / "a").iterdir() if p.is_dir())
    assert len(folders) == 2
    for f in folders:
        assert sorted(p.name for p in (written / "a" / f).iterdir()) == [
            "kernels.parquet", "ops.parquet", "report.html", "summary.json"]


def test_every_kind_of_change_is_found(written, tmp_path):
    c = tmp_path / "c"
    shutil.copytree(written / "b", c)
    bert, gemm = sorted(p for p in c.iterdir() if p.is_dir())
    k = pd.read_parquet(bert / "kernels.parquet")
    k.loc[0, "flops"] = (k.loc[0, "flops"] or 0) + 1
    k.to_parquet(bert / "kernels.parquet")
    s = json.loads((gemm / "summary.json").read_text())
    s["totals"]["flops"] += 1
    (gemm / "summary.json").write_text(json.dumps(s))
    (gemm / "report.html").write_text((gemm / "report.html").read_text() + " ")
    (bert / "ops.parquet").unlink()
    res = regress("compare", written / "a", c, cwd=written)
    assert res.returncode == 1
    diffs = [line for line in res.stdout.splitlines() if line.startswith("DIFF ")]
    assert len(diffs) == 4, res.stdout
    assert any(f"{bert.name}/kernels.parquet" in d and "flops" in d for d in diffs)
    assert any(f"{bert.name}/ops.parquet: only on one side" in d for d in diffs)
    assert f"DIFF {gemm.name}/summary.json: JSON differs" in diffs
    assert f"DIFF {gemm.name}/report.html: bytes differ" in diffs

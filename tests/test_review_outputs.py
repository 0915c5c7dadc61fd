"""Fixes from the review of the outputs / CLI surfaces: each fails on the code before it."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from traceflops.outputs.report.tables import (
    _group_ids,
    fmt_gbps,
    fmt_num,
    fmt_pct,
    fmt_us,
)

from .conftest import SHARED, needs_shared

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_traces" / "h100__gaunernst_bert-small-uncased__1016001.json.gz"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "traceflops", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_formatters_take_any_value_without_raising():
    for f in (fmt_num, fmt_gbps, fmt_us, fmt_pct):
        assert f(10 ** 400) == "–" and f(None) == "–" and f("x") == "–" and f(float("inf")) == "–"
    assert fmt_num(1234567) == "1.23M" and fmt_us(1500) == "1.5 ms" and fmt_pct(12.3) == "12.3%"


def test_group_codes_do_not_wrap_over_many_key_columns():
    # 8 key columns of 255 distinct values each multiply the first column's code by 256**8 = 2**64, which wraps to
    # 0 in int64: rows that differ only in the first column must still be two groups
    r = np.arange(510)
    cols = [pd.Series((r // 255).astype(str))] + [pd.Series((r % 255).astype(str)) for _ in range(8)]
    gid, first = _group_ids(cols)
    assert len(first) == 510 and gid.tolist() == list(range(510)) and first.tolist() == list(range(510))


def test_truncated_gzip_without_data_says_truncated(tmp_path):
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(SAMPLE.read_bytes()[:30])
    p = _cli("analyze", cut, "-o", tmp_path / "out")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [f"traceflops: error: {cut}: gzip stream ends before any data (truncated file)"]


def test_infinite_config_value_names_its_field(tmp_path):
    cfg = tmp_path / "inf.json"
    cfg.write_text('{"model_type": "llama", "hidden_size": Infinity, "num_hidden_layers": 2, "num_attention_heads": 4,'
                   ' "vocab_size": 10, "intermediate_size": 8}')
    p = _cli("model", cfg)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "traceflops: error: config field 'hidden_size' must be an integer, got inf"


def test_compare_into_a_file_fails_before_analyzing(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    p = _cli("compare", SAMPLE, SAMPLE, "-o", blocker)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == f"traceflops: error: {blocker}: cannot write output folder (File exists)"
    assert p.stdout == ""  # nothing analyzed, nothing printed


@needs_shared
def test_gpu_timeline_markers_are_counted_and_named():
    # the Kineto docs' H100 trace holds 2 cuda_sync events on the GPU timeline: no work, not kernel rows, but said
    from traceflops import analyze
    a = analyze(SHARED / "kineto" / "before_fix_trace.json")
    assert a.summary["trace"]["events_not_tabled"] == {"cuda_sync": 2, "trace": 1}
    assert any(w.endswith("not rows of kernels.parquet): 2 cuda_sync") for w in a.summary["warnings"])
    assert len(a.kernels) == 1 and (a.kernels["kind"] == "kernel").all()

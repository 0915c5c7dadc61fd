"""Outputs no other test reached: Parquet written in row groups (tables over 131,072 rows), the profiler hook's
gzip option with a real torch.profiler run, and the compare PNG that kaleido renders."""
import gzip
import json
import struct

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import traceflops
from traceflops.outputs import parquet as pqout

from .robust_helpers import BUNDLED, is_gpu_event, raw_bytes


# ---------------------------------------------------------------- Parquet row groups

def big_table(n):
    """A kernels-like table: numbers with gaps, nullable ints, text that is missing in the first row group
    and present later, flags, pandas' own string dtype."""
    rng = np.random.default_rng(7)
    reason = np.full(n, None, dtype=object)
    reason[200_000::3] = "op aten::index_select moves bytes but does no counted FLOPs"
    flops = rng.integers(0, 10**12, n).astype(float)
    flops[::5] = np.nan
    flag = np.full(n, None, dtype=object)
    flag[1::2] = True
    flag[2::4] = False
    return pd.DataFrame({
        "ts_us": np.arange(n, dtype=float) * 1.5,
        "correlation": pd.array(np.where(np.arange(n) % 7 == 0, None, np.arange(n)), dtype="Int64"),
        "flops": flops,
        "flops_reason": pd.Series(reason, dtype=object),
        "suspect": pd.Series(flag, dtype=object),
        "name": pd.Series([f"kernel_{i % 97}" for i in range(n)], dtype="str"),
        "stream": np.full(n, 7, dtype=np.int64),
    })


def test_parquet_over_one_row_group_is_written_in_slices_and_reads_back(tmp_path):
    n = 2 * pqout.ROW_GROUP + 12_345
    assert pqout.ROW_GROUP == 131_072
    df = big_table(n)
    path = tmp_path / "kernels.parquet"
    pqout.write_parquet(df, path)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == n
    assert [meta.row_group(i).num_rows for i in range(3)] == [pqout.ROW_GROUP, pqout.ROW_GROUP, 12_345]
    got = pq.read_table(path)
    whole = pqout._arrow(df)  # the one-shot conversion a small table gets
    assert got.schema == whole.schema
    assert got.equals(whole)
    assert str(got.schema.field("flops_reason").type) == "string"  # all-null in the first slice, still text
    assert str(got.schema.field("suspect").type) == "bool"
    back = got.to_pandas()
    assert back["flops_reason"].iloc[200_000] == df["flops_reason"].iloc[200_000]
    assert back["flops_reason"].iloc[:200_000].isna().all()
    assert back["correlation"].isna().sum() == df["correlation"].isna().sum()
    np.testing.assert_array_equal(back["flops"].to_numpy(), df["flops"].to_numpy())


def test_small_parquet_is_one_row_group(tmp_path):
    df = big_table(1000)
    pqout.write_parquet(df, tmp_path / "k.parquet")
    assert pq.ParquetFile(tmp_path / "k.parquet").metadata.num_row_groups == 1
    assert pq.read_table(tmp_path / "k.parquet").equals(pqout._arrow(df))


# ---------------------------------------------------------------- the hook's gzip option

def test_on_trace_ready_gzip_with_torch_profiler(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.profiler import ProfilerActivity, profile, schedule
    handler = traceflops.on_trace_ready(tmp_path / "prof", worker_name="w", gzip=True, report=False)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True,
                 schedule=schedule(wait=0, warmup=1, active=2, repeat=1), on_trace_ready=handler) as prof:
        x = torch.randn(64, 32)
        w = torch.randn(32, 16)
        for _ in range(4):
            torch.mm(x, w).relu()
            prof.step()
    assert not handler.errors, handler.errors
    assert [t.name for t in handler.traces] == ["w.3.pt.trace.json.gz"]
    trace = handler.traces[0]
    assert not trace.with_name("w.3.pt.trace.json").exists()  # the plain export is replaced, not kept beside
    data = trace.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    doc = json.loads(gzip.decompress(data))
    mms = [e for e in doc["traceEvents"] if e.get("name") == "aten::mm" and e.get("cat") == "cpu_op"]
    assert len(mms) == 2 and mms[0]["args"]["Input Dims"] == [[64, 32], [32, 16]]
    folder = tmp_path / "prof" / "w.3"
    assert sorted(p.name for p in folder.iterdir()) == ["kernels.parquet", "ops.parquet", "summary.json"]
    summ = json.loads((folder / "summary.json").read_text())
    ops = pd.read_parquet(folder / "ops.parquet")
    mm = ops[ops["name"] == "aten::mm"]
    assert len(mm) == 2 and (mm["flops"] == 2 * 64 * 32 * 16).all()
    assert summ["totals"]["cpu_ops"] == len(ops)
    assert handler.outputs[0]["trace"] == trace


# ---------------------------------------------------------------- the compare PNG

def _kaleido_problem():
    """None when kaleido renders a trivial figure here, else why not."""
    import plotly.graph_objects as go
    try:
        go.Figure(go.Scatter(x=[1, 2], y=[1, 2])).to_image(format="png", width=40, height=30)
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def test_compare_png_is_rendered(tmp_path):
    from traceflops.outputs.compare import write_outputs
    d = json.loads(raw_bytes(BUNDLED))
    for e in d["traceEvents"]:
        if is_gpu_event(e):
            e["dur"] *= 2
    slower = tmp_path / "slower.json"
    slower.write_text(json.dumps(d))
    res = traceflops.compare(traceflops.analyze(BUNDLED), traceflops.analyze(slower))
    paths = write_outputs(res, tmp_path / "c", formats=("md",))
    md = paths["md"].read_text()
    if "png" not in paths:
        problem = _kaleido_problem()
        if problem:
            pytest.skip(f"kaleido cannot render here ({problem}); the markdown says so instead")
        pytest.fail(f"kaleido works but no roofline_shift.png was written: {md.splitlines()[:3]}")
    png = paths["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (1100, 560)
    assert len(png) > 20_000  # a drawn roofline, not an empty canvas
    assert "![roofline shift of matched work](roofline_shift.png)" in md

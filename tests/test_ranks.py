"""Many-rank analysis: local process pool and Dask give the same rank-partitioned tables."""
import glob
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from traceflops.apps.ranks import read_dataset, run_ranks

from .conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
PARAM = sorted(glob.glob(str(SHARED / "param" / "worker*_step_12*.json"))) if SHARED else []
SAMPLE = ROOT / "sample_traces" / "h100__gaunernst_bert-small-uncased__1016001.json.gz"


@pytest.fixture(scope="module")
def rank_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ranks")
    if len(PARAM) == 8:
        srcs = PARAM
    elif SAMPLE.exists():
        srcs = [str(SAMPLE)] * 8
    else:
        pytest.skip("no rank traces available")
    out = []
    for i, s in enumerate(srcs):
        dst = d / f"rank{i}_{Path(s).name}"
        shutil.copy(s, dst)
        out.append(str(dst))
    return out


@pytest.fixture(scope="module")
def local_out(rank_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    summary = run_ranks(rank_files, out, jobs=2, executor="local")
    return out, summary


def test_local_parallel_writes_partitioned_dataset(local_out, rank_files):
    out, summary = local_out
    assert summary["rank_count"] == len(rank_files) == 8
    ranks = [r["rank"] for r in summary["ranks"]]
    assert sorted(ranks) == ranks and len(set(ranks)) == 8
    for r in ranks:
        assert (out / "kernels" / f"rank={r}" / "part-0.parquet").exists()
        assert (out / "ops" / f"rank={r}" / "part-0.parquet").exists()
        assert (out / "ranks" / f"rank={r}" / "summary.json").exists()
    on_disk = json.loads((out / "summary.json").read_text())
    assert [r["rank"] for r in on_disk["ranks"]] == ranks
    assert "stragglers" in on_disk and "median" in on_disk
    k = read_dataset(out, "kernels")
    assert set(k["rank"]) == set(ranks) and len(k) == sum(r["totals"]["gpu_events"] for r in summary["ranks"])
    # pyarrow reads the folder as one hive-partitioned dataset
    import pyarrow.dataset as ds
    t = ds.dataset(out / "kernels", format="parquet", partitioning="hive").to_table()
    assert t.num_rows == len(k) and "rank" in t.column_names


def test_sequential_matches_parallel(local_out, rank_files, tmp_path):
    out, summary = local_out
    seq = run_ranks(rank_files, tmp_path, jobs=1, executor="local")
    assert seq["ranks"] == summary["ranks"]
    for table in ("kernels", "ops"):
        pd.testing.assert_frame_equal(read_dataset(out, table), read_dataset(tmp_path, table))


def test_dask_matches_local(local_out, rank_files, tmp_path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    out, summary = local_out
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dsum = run_ranks(rank_files, tmp_path, executor=f"dask://{cluster.scheduler_address}")
    assert [r["rank"] for r in dsum["ranks"]] == [r["rank"] for r in summary["ranks"]]
    assert dsum["ranks"] == summary["ranks"]
    for table in ("kernels", "ops"):
        pd.testing.assert_frame_equal(read_dataset(out, table), read_dataset(tmp_path, table))


def test_straggler_detection():
    from traceflops.apps.ranks import combine
    base = {"world_size": 3, "steps": 1, "mfu": None, "warnings": [], "path": "p", "trace": "t"}
    rs = [dict(base, rank=i, index=i, totals={"gpu_busy_us": b}, step_time_us=s)
          for i, (b, s) in enumerate([(100.0, 10.0), (101.0, 10.0), (150.0, 10.5)])]
    s = combine(rs, straggler_pct=10)
    assert [x["rank"] for x in s["stragglers"]] == [2]

"""The real 8-rank set (../shared/traces/param/worker*_step_12*.json) on a Dask cluster of worker processes:
every file lands in the partition of the rank its distributedInfo names, with the rows one process gives for
it, and the stragglers are the ranks the raw events say are slow."""
import json
import os
import shutil
import statistics

import pandas as pd
import pytest

import traceflops
from traceflops.apps.ranks import read_dataset, run_ranks

from .conftest import SHARED
from .robust_helpers import is_gpu_event

pytestmark = pytest.mark.skipif(SHARED is None, reason="../shared/traces not present")
PARAM = sorted((SHARED / "param").glob("worker*_step_12*.json")) if SHARED else []


def raw(path):
    return json.loads(path.read_text())


def busy_us(events):
    """Union of the GPU activity intervals, with the json module alone."""
    iv = sorted((float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in events if is_gpu_event(e))
    busy, end = 0.0, float("-inf")
    for a, b in iv:
        if b > end:
            busy += b - max(a, end)
            end = b
    return busy


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The eight rank files under names in reverse rank order: a file's position is never its rank."""
    assert len(PARAM) == 8
    d = tmp_path_factory.mktemp("param")
    out = []
    for i, src in enumerate(reversed(PARAM)):
        dst = d / f"trace_{i}.json"
        shutil.copy(src, dst)
        out.append(dst)
    return out


@pytest.fixture(scope="module")
def on_dask(files, tmp_path_factory):
    distributed = pytest.importorskip("distributed")
    out = tmp_path_factory.mktemp("dask")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
        summary = run_ranks(files, out, executor=f"dask://{cluster.scheduler_address}")
    return out, summary, pids


def test_workers_are_other_processes(on_dask):
    _, _, pids = on_dask
    assert len(pids) == 2 and os.getpid() not in pids


def test_each_file_lands_in_its_distributed_rank(on_dask, files, tmp_path):
    import pyarrow.parquet as pq

    from traceflops.outputs import write_parquet
    out, summary, _ = on_dask
    k = read_dataset(out, "kernels")
    by_rank = {r["rank"]: r for r in summary["ranks"]}
    assert sorted(by_rank) == list(range(8))
    for i, f in enumerate(files):
        info = raw(f)["distributedInfo"]
        assert info["world_size"] == 8 and info["rank"] == 7 - i
        r = by_rank[info["rank"]]
        assert r["path"] == str(f) and r["world_size"] == 8
        part = k[k["rank"] == info["rank"]].drop(columns="rank").reset_index(drop=True)
        write_parquet(traceflops.analyze(f).kernels, tmp_path / f"{i}.parquet")  # what one process writes
        alone = pq.read_table(tmp_path / f"{i}.parquet").to_pandas()
        pd.testing.assert_frame_equal(part, alone, check_dtype=False)  # concat of ranks widens int steps with NaN
        rank_summary = json.loads(next((out / "ranks").glob(f"rank={info['rank']}/**/summary.json")).read_text())
        assert rank_summary["trace"]["rank"] == info["rank"]


def test_stragglers_are_what_the_raw_events_say(on_dask, files):
    """GPU busy time per rank (the json module's interval union) and the ProfilerStep span per rank: ranks 1 and 3
    run ~65 more kernels and are 78% / 55% busier than the median; rank 4 is 11% busier; ranks 1, 3, 4 and 5 take
    more than 10% longer per step."""
    _, summary, _ = on_dask
    busy = {raw(f)["distributedInfo"]["rank"]: busy_us(raw(f)["traceEvents"]) for f in files}
    step = {raw(f)["distributedInfo"]["rank"]: next(e["dur"] for e in raw(f)["traceEvents"]
                                                    if str(e.get("name", "")).startswith("ProfilerStep#"))
            for f in files}
    for r in summary["ranks"]:
        assert r["totals"]["gpu_busy_us"] == busy[r["rank"]]
    med = statistics.median(busy.values())
    assert summary["median"]["gpu_busy_us"] == med
    slow_busy = {r for r, b in busy.items() if b > 1.1 * med}
    slow_step = {r for r, s in step.items() if s > 1.1 * statistics.median(step.values())}
    assert slow_busy == {1, 3, 4} and slow_step == {1, 3, 4, 5}
    flagged = {s["rank"]: s["why"] for s in summary["stragglers"]}
    assert set(flagged) == slow_busy | slow_step
    for rank, why in flagged.items():
        busy_why = [w for w in why if w.startswith("GPU busy")]
        assert (rank in slow_busy) == bool(busy_why), (rank, why)
        if busy_why:
            assert busy_why == [f"GPU busy {100 * (busy[rank] / med - 1):.1f}% above the median"]
        assert (rank in slow_step) == any(w.startswith("step time") for w in why), (rank, why)

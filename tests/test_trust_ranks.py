"""Issue 17, ranks: a folder where two files report the same rank keeps every row, and the combined summary has
the job's MFU over all its GPUs (from absolute time when the clocks are comparable)."""
import glob
import gzip
import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from traceflops.apps.ranks import read_dataset, run_ranks
from traceflops.cli import main
from traceflops.outputs import schema

from .conftest import SHARED
from .robust_helpers import events_of, is_gpu_event

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
PARAM = sorted(glob.glob(str(SHARED / "param" / "worker*_step_12*.json"))) if SHARED else []


def load_bundled():
    with gzip.open(BUNDLED, "rt", encoding="utf-8") as f:
        return json.load(f)


def write_rank(path, rank, shift_us=0.0, base_shift_ns=0):
    """The bundled sample as rank `rank`; every timestamp moved by `shift_us`, baseTimeNanoseconds by `base_shift_ns`."""
    d = load_bundled()
    d["distributedInfo"] = {"backend": "nccl", "rank": rank, "world_size": 2}
    for e in d["traceEvents"]:
        if isinstance(e.get("ts"), (int, float)):
            e["ts"] = e["ts"] + shift_us
    d["baseTimeNanoseconds"] += base_shift_ns
    Path(path).write_text(json.dumps(d), encoding="utf-8")
    return path


def gpu_events(path):
    data = Path(path).read_bytes()
    doc = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return sum(1 for e in events_of(doc) if is_gpu_event(e))


def test_duplicate_rank_keeps_every_row(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    files = [write_rank(src / "jobA_rank3.json", 3), write_rank(src / "jobB_rank3.json", 3),
             write_rank(src / "jobA_rank1.json", 1)]
    res = CliRunner().invoke(main, ["analyze", str(src), "-o", str(tmp_path / "out"), "-q", "--no-report", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    s = json.loads((out / "summary.json").read_text())
    assert s["layout"]["keyed_by_file"] is True
    assert not any("overwrite" in w for w in s["warnings"])
    assert sorted(r["partition"] for r in s["ranks"]) == [
        "rank=1/file=jobA_rank1", "rank=3/file=jobA_rank3", "rank=3/file=jobB_rank3"]
    expected = sum(gpu_events(f) for f in files)
    k = read_dataset(out, "kernels")
    assert len(k) == expected == sum(r["totals"]["gpu_events"] for r in s["ranks"])
    assert sorted(k.groupby(["rank", "file"]).size().to_dict()) == [(1, "jobA_rank1"), (3, "jobA_rank3"), (3, "jobB_rank3")]
    assert k["rank"].dtype.kind == "i"
    import pyarrow.dataset as ds
    t = ds.dataset(out / "kernels", format="parquet", partitioning="hive").to_table()
    assert t.num_rows == expected and {"rank", "file"} <= set(t.column_names)
    assert len(read_dataset(out, "ops")) == sum(r["totals"]["cpu_ops"] for r in s["ranks"])
    for r in s["ranks"]:
        assert (out / "ranks" / r["partition"] / "summary.json").exists()

    # the same folder again without the collision: back to rank=N, nothing stale left from the first run
    (src / "jobB_rank3.json").unlink()
    s2 = run_ranks(sorted(str(p) for p in src.iterdir()), out, jobs=1)
    assert s2["layout"]["keyed_by_file"] is False
    assert sorted(p.name for p in (out / "kernels" / "rank=3").iterdir()) == ["part-0.parquet"]
    k2 = read_dataset(out, "kernels")
    assert "file" not in k2 and len(k2) == gpu_events(files[0]) + gpu_events(files[2])


def _independent_job_mfu(k, gpus):
    """Σ flops/peak over every costed kernel of every rank ÷ (GPUs × first start to last end), from the tables."""
    m = (k["flops"] > 0) & (k["peak_tflops"] > 0)
    if "roof_flag" in k:  # suspect FLOP estimates are kept out of MFU (mfu.py)
        m &= k["roof_flag"].fillna("") != "suspect"
    ps = float((k.loc[m, "flops"] / (k.loc[m, "peak_tflops"] * 1e12)).sum())
    wall = float((k["ts_us"] + k["dur_us"]).max() - k["ts_us"].min())
    return ps / (gpus * wall * 1e-6), wall


@pytest.mark.skipif(len(PARAM) != 8, reason="../shared/traces/param worker traces not present")
def test_job_mfu_on_param_ranks(tmp_path):
    s = run_ranks(PARAM, tmp_path, jobs=2)
    job = s["job"]
    k = read_dataset(tmp_path, "kernels")
    gpus = int(k.groupby("rank")["device"].nunique().sum())
    want, wall = _independent_job_mfu(k, gpus)  # absolute-us traces: ts are comparable as recorded
    assert job["clocks_comparable"] is True and job["gpus"] == gpus == 8
    assert job["wall_us"] == pytest.approx(wall)
    assert job["mfu"] == pytest.approx(want, rel=1e-9)
    assert job["achieved_tflops"] == pytest.approx(float(np.nansum(k["flops"])) / (gpus * wall * 1e-6) / 1e12)
    rank_mfu = [r["mfu"] for r in s["ranks"]]
    assert job["rank_mfu"] == pytest.approx({"min": min(rank_mfu), "median": statistics.median(rank_mfu),
                                             "max": max(rank_mfu)})
    assert job["steps_aligned"] is True and [p["step"] for p in job["per_step"]] == [10]
    step = k[k["step"] == 10]
    want_step, _ = _independent_job_mfu(step, gpus)
    assert job["per_step"][0]["mfu"] == pytest.approx(want_step, rel=1e-9)
    assert _undocumented(s) == []


def test_job_wall_uses_base_time(tmp_path):
    """Rank 1's trace starts its clock one second later (baseTimeNanoseconds + 1 s) and its timestamps are one
    second smaller: the same absolute times, so the job wall is one rank's wall."""
    a = write_rank(tmp_path / "r0.json", 0)
    b = write_rank(tmp_path / "r1.json", 1, shift_us=-1e6, base_shift_ns=10**9)
    s = run_ranks([str(a), str(b)], tmp_path / "out", jobs=1)
    job = s["job"]
    k = read_dataset(tmp_path / "out", "kernels")
    own = k[k["rank"] == 0]
    wall0 = float((own["ts_us"] + own["dur_us"]).max() - own["ts_us"].min())
    assert job["clocks_comparable"] is True
    assert job["wall_us"] == pytest.approx(wall0, abs=1e-3)
    assert job["mfu"] == pytest.approx(s["ranks"][0]["mfu"], rel=1e-6)  # two identical ranks, side by side
    assert job["steps_aligned"] is True and job["per_step"]


def test_job_wall_falls_back_to_median_when_clocks_disagree(tmp_path):
    a = write_rank(tmp_path / "r0.json", 0)
    b = write_rank(tmp_path / "r1.json", 1, shift_us=3.6e9)  # an hour apart: not one job's clock
    s = run_ranks([str(a), str(b)], tmp_path / "out", jobs=1)
    job = s["job"]
    assert job["clocks_comparable"] is False and "median rank wall" in job["clock_note"]
    walls = [json.loads((tmp_path / "out" / "ranks" / r["partition"] / "summary.json").read_text())["mfu"]["wall_us"]
             for r in s["ranks"]]
    assert job["wall_us"] == pytest.approx(statistics.median(walls))
    assert _undocumented(s) == []


def _pattern(path):
    out = ""
    for part in re.split(r"(\.\*|\[\])", path):
        out += {".*": r"\.[^.]+", "[]": r"\[\]"}.get(part, re.escape(part))
    return re.compile(out + r"$")


def _paths(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            q = f"{p}.{k}" if p else str(k)
            yield q
            yield from _paths(v, q)
    elif isinstance(o, list):
        for v in o:
            if isinstance(v, (dict, list)):
                yield from _paths(v, p + "[]")


def _undocumented(summary):
    pats = [_pattern(f.name) for f in schema.RANKS_SUMMARY]
    return sorted({p for p in _paths(summary) if not any(r.match(p) or r.match(p + "[]") for r in pats)})


def test_rank_summary_schema_is_rendered():
    page = (REPO / "docs" / "schema.md").read_text()
    assert "## summary.json of a rank folder" in page and "`job.mfu`" in page and "`layout.keyed_by_file`" in page

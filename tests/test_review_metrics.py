"""Review fixes in ingest, link and metrics: the model config read before the trace, the requests per phase from
the steps table, the step fill of unstepped activity, first-wins device properties."""
import json

import numpy as np
import pandas as pd
import pytest

import traceflops.pipeline as pipeline
from traceflops import analyze
from traceflops.ingest.meta import TraceMeta
from traceflops.metrics.breakdown import _fill_steps_by_time
from traceflops.metrics.phases import phase_requests
from traceflops.modelflops.config import ConfigError

from .test_steps_model import TINY
from .test_steps_table import _ann, _kernel, _launch, _write

DECODE16 = "execute_16_context_0(sq0sk0sqsq0sqsk0)_generation_16(sq16sk8209sqsq16sqsk8209)"


def _decode_trace(tmp_path, steps=3):
    """`steps` vLLM detailed decode steps with the same name, one kernel each."""
    ev = []
    for i in range(steps):
        t0 = 1000 * i
        ev += [_ann(DECODE16, t0, 100, 10 + i), _launch(t0 + 10, 1 + i), _kernel(t0 + 200, 20, 1 + i)]
    return _write(tmp_path, ev)


@pytest.fixture
def no_read(monkeypatch):
    def fail(*a, **kw):
        raise AssertionError("the trace was read before the model config was checked")
    monkeypatch.setattr(pipeline, "read_trace", fail)


def test_bad_model_config_fails_before_the_read(tmp_path, no_read):
    p = _decode_trace(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        analyze(p, model=str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError):
        analyze(p, model=str(bad))
    with pytest.raises(ValueError, match="--tokens"):
        analyze(p, model=TINY, tokens=0)


def test_bad_draft_config_fails_before_the_read(tmp_path, no_read):
    with pytest.raises(ConfigError, match="not found"):
        analyze(_decode_trace(tmp_path), model=TINY, draft=str(tmp_path / "missing.json"))


def test_draft_config_read_once_reaches_the_steps(tmp_path):
    d = tmp_path / "draft.json"
    d.write_text(json.dumps({**TINY, "num_hidden_layers": 1}))
    a = analyze(_decode_trace(tmp_path, 1), model=TINY, draft=str(d))
    assert "speculative" in a.summary["serving"]["model"]  # the draft given as a path still marks the block


def test_repeated_step_names_each_count(tmp_path):
    """Three decode steps with one name are three steps: 48 requests, as the serving block says, not 16."""
    a = analyze(_decode_trace(tmp_path))
    pr, serving = a.summary["mfu"]["phase_requests"], a.summary["serving"]
    assert pr == {"prefill_requests": 0, "prefill_tokens": 0, "decode_requests": 48, "decode_tokens": 48}
    assert {k: serving[k] for k in pr} == pr
    assert phase_requests(a.steps) == pr
    assert phase_requests([DECODE16] * 3) == pr  # names: one step each
    assert phase_requests(["step[DECODE bs=16]", "my_region"]) is None  # only the formats that state them all


def _old_fill(k, step):
    """The per-activity loop _fill_steps_by_time replaced."""
    step = step.astype("Int64").copy()
    miss = step.isna().to_numpy(bool)
    if not miss.any() or step.notna().sum() == 0:
        return step
    ts = k["ts_us"].to_numpy(float)
    ext = (pd.DataFrame({"s": step, "d": k["device"], "lo": ts, "hi": ts + k["dur_us"].to_numpy(float)})
           .dropna(subset=["s"]).groupby(["d", "s"]).agg(lo=("lo", "min"), hi=("hi", "max")).reset_index())
    dev = k["device"].to_numpy(object)
    vals = step.to_numpy(object)
    for i in np.flatnonzero(miss):
        e = ext[(ext["d"] == dev[i]) & (ext["lo"] <= ts[i]) & (ext["hi"] >= ts[i])]
        if len(e):
            vals[i] = int(e["s"].iloc[0])
    return pd.Series(pd.array(list(vals), dtype="Int64"), index=k.index)


@pytest.mark.parametrize("seed", range(40))
def test_fill_steps_by_time_matches_the_old_loop(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    ts = np.round(rng.uniform(0, 1000, n), 1)
    dur = np.round(rng.uniform(0, 200, n), 1)  # long activities: overlapping extents, several steps contain a start
    dev = pd.array(rng.integers(0, 3, n), dtype="Int64")
    dev[rng.random(n) < 0.05] = pd.NA
    step = pd.array(rng.integers(0, 6, n), dtype="Int64")
    step[rng.random(n) < rng.uniform(0, 1)] = pd.NA
    k = pd.DataFrame({"ts_us": ts, "dur_us": dur, "device": dev}, index=rng.permutation(n) + 7)
    s = pd.Series(step, index=k.index)
    new, old = _fill_steps_by_time(k, s), _old_fill(k, s)
    assert new.dtype == "Int64"
    pd.testing.assert_series_equal(new, old)


def test_fill_steps_by_time_lowest_containing_step():
    k = pd.DataFrame({"ts_us": [0.0, 50.0, 10.0, 60.0, 55.0], "dur_us": [100.0, 50.0, 1.0, 1.0, 1.0],
                      "device": pd.array([0, 0, 0, 1, 0], dtype="Int64")})
    s = pd.Series(pd.array([3, 2, None, None, None], dtype="Int64"))
    # 10: only step 3's extent; 55: steps 2 and 3 contain it, the lower wins; device 1 has no extent
    assert _fill_steps_by_time(k, s).tolist() == [3, 2, 3, pd.NA, 2]


def test_device_properties_first_entry_wins():
    """As the device catalog resolves them: the launch-shape limits come from the entry the peaks came from."""
    m = TraceMeta.from_header({"deviceProperties": [{"id": 0, "name": "A", "numSms": 132},
                                                    {"id": 0, "name": "B", "numSms": 80}, {"name": "C"}]})
    assert m.device_properties_by_id == {0: {"id": 0, "name": "A", "numSms": 132}, 2: {"name": "C"}}

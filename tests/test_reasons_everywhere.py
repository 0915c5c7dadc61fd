"""The README's promise, on every shared trace and every committed sample: every GPU event in the file is a row of
kernels.parquet, and each row without FLOPs says why in `flops_reason`; and no kernel sits above its roofline
ceiling unless the L2 cache explains it."""
import pandas as pd
import pytest

import traceflops
from traceflops.outputs import write_parquet

from .conftest import all_shared_traces
from .robust_helpers import COMMITTED, raw_bytes, stdlib_gpu_count


def _traces():
    seen, out = set(), []
    gpu_fixtures = sorted((COMMITTED[0].parent / "gpu").glob("*.json.gz")) if COMMITTED else []
    for p in COMMITTED + gpu_fixtures + all_shared_traces():
        if (p.name, p.stat().st_size) not in seen:
            seen.add((p.name, p.stat().st_size))
            out.append(p)
    return out


TRACES = _traces()


def _valid_json_count(path):
    try:
        return stdlib_gpu_count(raw_bytes(path))
    except ValueError:  # torch <= 2.13 unescaped quotes in names: no json-module count (see test_damaged)
        return None


@pytest.mark.parametrize("trace", TRACES, ids=[p.name[:60] for p in TRACES])
def test_every_gpu_event_is_a_row_and_says_why_it_has_no_flops(trace, tmp_path):
    a = traceflops.analyze(trace)
    write_parquet(a.kernels, tmp_path / "kernels.parquet")
    k = pd.read_parquet(tmp_path / "kernels.parquet")
    want = _valid_json_count(trace)
    if want is not None:
        assert len(k) == want, f"{trace.name}: {len(k)} rows, {want} GPU events in the file"
    assert len(k) == a.summary["totals"]["gpu_events"]
    none = ~(k["flops"].fillna(0) > 0)
    reason = k.loc[none, "flops_reason"]
    blank = reason.isna() | (reason.astype(str).str.strip() == "")
    assert not blank.any(), (f"{trace.name}: {int(blank.sum())} of {int(none.sum())} rows without FLOPs give no "
                             f"reason: {k.loc[none][blank.to_numpy()]['name'].head(3).tolist()}")
    # and a row with FLOPs carries no leftover reason that would contradict them
    assert k.loc[~none, "flops_reason"].isna().all(), trace.name
    # issue 18: no kernel is above 105% of its ceiling unless L2 explains it (a wrong FLOP or byte count)
    over = k[(k["pct_of_ceiling"] > 105) & (k["roof_flag"] != "cache_resident")]
    assert over.empty, f"{trace.name}: {over[['name', 'op', 'pct_of_ceiling', 'roof_flag']].head(3).to_dict('records')}"


def test_the_check_runs_on_the_shared_corpus():
    from .conftest import SHARED
    if SHARED is None:
        pytest.skip("../shared/traces not present")
    assert len(TRACES) > 60

"""Helpers of the tests/test_cov_*.py files: record ops under the torch CPU profiler, read the trace back through
`traceflops.analyze`, and cost one recorded op from its inputs exactly as Kineto wrote them.

The ops table of an analysis already moves an op's cost to a same-family sub-op (`counted_below`), so a formula
is checked on the op's own recorded inputs (`recorded_cost`); `analysis_row` gives the analysed row itself.
"""
import orjson
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

import traceflops
from traceflops import op_cost


def profile_ops(fn, tmp_path, name="trace.json"):
    """Run fn under the CPU profiler with shapes; the analysed ops table of the exported trace."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        fn()
    path = tmp_path / name
    p.export_chrome_trace(str(path))
    return traceflops.analyze(path).ops


def _json(v):
    if isinstance(v, str) and v:
        return orjson.loads(v)
    return v if isinstance(v, list) else []


def rows_of(ops, name):
    """Recorded (dims, types, concrete) of every call of op `name`, in trace order."""
    sub = ops[ops["name"] == name].sort_values("ts_us")
    return [(_json(r.input_dims), _json(r.input_types), _json(r.concrete_inputs)) for r in sub.itertuples()]


def recorded_cost(ops, name, i=0, extra=None):
    """The formula's OpCost of the i-th recorded call of `name` (assert it was recorded)."""
    rows = rows_of(ops, name)
    assert len(rows) > i, f"{name} not recorded {i + 1} time(s): {sorted(set(ops['name']))}"
    return op_cost(name, *rows[i], extra)


def analysis_row(ops, name, i=0):
    sub = ops[ops["name"] == name].sort_values("ts_us")
    assert len(sub) > i, f"{name} not recorded"
    return sub.iloc[i]


def fcm_total(fn):
    """FlopCounterMode's total FLOPs of fn."""
    with FlopCounterMode(display=False) as m:
        fn()
    return m.get_total_flops()


def no_grad(fn):
    def run():
        with torch.no_grad():
            fn()
    return run

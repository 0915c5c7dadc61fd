"""Lower-bound bytes for ops no formula costs (kernels/fallback.py), their placement in the op tree, the roofline
check that drops disproved bounds, and the exact reasons of kernels without FLOPs (cost/attribute._reasons)."""
import json

import numpy as np
import pandas as pd

from traceflops import analyze
from traceflops.kernels import Args, cost_ops
from traceflops.kernels.fallback import lower_bound, place, reject_false_bounds
from traceflops.kernels.registry import mark_sparse

NAN = np.nan


def test_lower_bound_sums_recorded_arguments():
    lb = lower_bound(Args([[4, 8], [8], [], []], ["float", "c10::Half", "Scalar", ""], []))
    assert lb.bytes == 4 * 8 * 4 + 8 * 2 and lb.flops is None and lb.source == "lower_bound" and lb.dtype == "fp32"
    assert lower_bound(Args([[], []], ["Scalar", "ScalarList"], [])) is None
    # dtype not recorded (torch 1.8) and TensorLists: 1 byte per element, said in the note
    lb = lower_bound(Args([[4, 8]], [], []))
    assert lb.bytes == 32 and "1 byte per element" in lb.note
    lb = lower_bound(Args([[[2, 3], [4, 3]], []], ["TensorList", "Scalar"], []))
    assert lb.bytes == 18 and "TensorList" in lb.note


def test_place_keeps_each_byte_once():
    #   0 annotation-free root (candidate, bound 150)
    #   └ 1 formula op with 100 bytes
    #   2 root (candidate, bound 80) └ 3 formula op with 100 bytes
    #   4 formula op (costed) └ 5 candidate under it
    #   6 candidate that launches nothing
    parent = np.array([-1, 0, -1, 2, -1, 4, -1])
    lower = np.array([150, NAN, 80, NAN, NAN, 40, 10])
    costed = np.array([False, True, False, True, True, False, False])
    own = np.array([NAN, 100, NAN, 100, 60, NAN, NAN])
    launches = np.array([True, True, True, True, True, True, False])
    out = place(parent, lower, costed, own, launches)
    assert out[0] == 50          # only what its sub-op does not carry
    assert np.isnan(out[2])      # its sub-op carries more than the bound
    assert np.isnan(out[5])      # a formula op's sub-ops are its own work
    assert np.isnan(out[6])      # launches no kernel
    # nested candidates: the innermost first, the outer one carries the rest
    out = place(np.array([-1, 0]), np.array([100.0, 30.0]), np.array([False, False]), np.array([NAN, NAN]))
    assert out[1] == 30 and out[0] == 70


def _ops(rows):
    return pd.DataFrame(rows, columns=["name", "cat", "input_dims", "input_types", "parent", "launches_kernels"])


def test_cost_ops_places_bounds_and_stops_at_annotations():
    ops = _ops([
        ("aten::mm", "cpu_op", "[[4,8],[8,2]]", '["float","float"]', -1, True),          # formula-costed
        ("my::op", "cpu_op", "[[16]]", '["float"]', 0, True),                             # under it: none
        ("region", "user_annotation", None, None, 0, False),                             # annotation cuts the walk
        ("my::op", "cpu_op", "[[16]]", '["float"]', 2, True),                             # beyond it: placed
        ("my::op2", "cpu_op", "[[16]]", '["float"]', -1, False),                          # launches nothing
    ])
    c = cost_ops(ops)
    assert np.isnan(c.at[1, "bytes"]) and c.at[3, "bytes"] == 64 and c.at[3, "bytes_source"] == "lower_bound"
    assert c.at[3, "family"] == "unknown" and pd.isna(c.at[3, "flops"]) and np.isnan(c.at[4, "bytes"])
    assert c.at[0, "bytes_source"] == "formula"


def test_sparse_ops_get_no_bound():
    mark_sparse("test18::sparse_gather")
    ops = _ops([("test18::sparse_gather", "cpu_op", "[[1000000,64],[16]]", '["float","long int"]', -1, True)])
    assert np.isnan(cost_ops(ops).at[0, "bytes"])


def test_reject_false_bounds():
    k = pd.DataFrame({"bytes_source": ["lower_bound", "lower_bound", "formula"],
                      "roof_flag": ["suspect_bytes", None, "suspect_bytes"], "bytes": [1e12, 1e3, 1e12],
                      "achieved_tbps": [100.0, 0.1, 100.0], "peak_tbps": [3.35] * 3, "pct_of_ceiling": [3000.0, 3.0, 3000.0],
                      "op": ["cache::write", "x", "y"], "flops_reason": [None] * 3, "bound": ["memory"] * 3,
                      "op_row": [0, 1, 2]})
    costs = pd.DataFrame({"bytes": [1e12, 1e3, 1e12], "bytes_source": ["lower_bound", "lower_bound", "formula"]})
    assert reject_false_bounds(k, costs) == 1
    assert np.isnan(k.at[0, "bytes"]) and pd.isna(k.at[0, "roof_flag"]) and "touches only part" in k.at[0, "flops_reason"]
    assert np.isnan(costs.at[0, "bytes"]) and k.at[1, "bytes"] == 1e3 and k.at[2, "roof_flag"] == "suspect_bytes"


# ---- reasons, end to end on small GPU traces ----------------------------------------------------------------

PROPS = [{"id": 0, "name": "NVIDIA H100 80GB HBM3", "computeMajor": 9, "computeMinor": 0, "numSms": 132,
          "totalGlobalMem": 85018279936, "maxThreadsPerMultiProcessor": 2048}]


def _trace(tmp_path, launches, extra_ops=()):
    """One kernel per (op name, dims, types, cat) entry, launched inside it (name None: outside any op)."""
    ev, t = [], 1000.0
    for i, (name, dims, types, cat) in enumerate(launches):
        corr = 100 + i
        if name is not None:
            args = {"External id": corr}
            if dims is not None:
                args.update({"Input Dims": dims, "Input type": types, "Concrete Inputs": [""] * len(dims)})
            ev.append({"ph": "X", "cat": cat, "name": name, "pid": 1, "tid": 1, "ts": t, "dur": 20, "args": args})
        ev.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": t + 5,
                   "dur": 5, "args": {"correlation": corr}})
        ev.append({"ph": "X", "cat": "kernel", "name": f"kernel_{i}", "pid": 0, "tid": 7, "ts": t + 100, "dur": 50.0,
                   "args": {"correlation": corr, "device": 0, "stream": 7}})
        t += 200
    ev += list(extra_ops)
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"deviceProperties": PROPS, "traceEvents": ev}))
    return analyze(p).kernels


def test_reasons_name_the_cause(tmp_path):
    k = _trace(tmp_path, [
        ("my_ext::fused_thing", [[1024, 1024]], ["float"], "cpu_op"),                   # no formula: a bound
        ("aten::mm", [[4, 8, 2], [8, 2]], ["float", "float"], "cpu_op"),               # formula, bad inputs
        ("my_region", None, None, "user_annotation"),                                    # launched from an annotation
        ("c10d::allreduce_", [[], [], [], []], ["TensorList", "", "", "Scalar"], "cpu_op"),  # TensorList not recorded
        (None, None, None, None),                                                         # launch outside any op
    ])
    r = list(k["flops_reason"])
    assert r[0].startswith("no formula for op my_ext::fused_thing: bytes are a lower bound")
    assert k.at[0, "bytes"] == 1024 * 1024 * 4 and k.at[0, "bytes_source"] == "lower_bound"
    assert r[1].startswith("formula for aten::mm could not read its inputs")
    assert r[2].startswith("no CPU op records this kernel's inputs: launched straight from annotation my_region")
    assert r[3].startswith("TensorList shapes not recorded by this PyTorch version (op c10d::allreduce_")
    assert r[4].startswith("no CPU op around the launch")
    assert not any("no FLOP formula" in x for x in r)
    # a lower-bound kernel is on the memory roof, never flagged suspect
    assert k.at[0, "bound"] == "memory" and k.at[0, "roof_flag"] is None


def test_reason_without_record_shapes(tmp_path):
    k = _trace(tmp_path, [("aten::mm", None, None, "cpu_op")])
    assert k.at[0, "flops_reason"].startswith("input shapes not recorded (trace made without record_shapes)")


def test_nested_bounds_survive_one_level():
    from traceflops.pipeline import op_costs
    ops = _ops([("outer::op", "cpu_op", "[[1000]]", '["float"]', -1, True),
                ("inner::op", "cpu_op", "[[100]]", '["float"]', 0, True)])
    ops["seq"], ops["fwd_tid"] = pd.NA, pd.NA
    c = op_costs(ops)
    # the inner op carries its bound, the outer op what its own bound exceeds it by: 4000 bytes in all
    assert c.at[1, "bytes"] == 400 and c.at[0, "bytes"] == 3600 and not c["counted_below"].any()

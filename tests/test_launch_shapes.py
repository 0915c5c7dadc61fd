"""launch_shapes: a named kernel of an op without operands is costed only from the weight view and output
allocation recorded between the previous launch and its own, inside its op."""
import json

import numpy as np
import pandas as pd

from traceflops.cost.launch_shapes import cost_from_launch_shapes

NAME = "_matmul_ogs_NNT_bf16xbf16xmxfp4_128x128x128x1_swiglu"


def _tables(with_view=True, with_alloc=True, view_after_launch=False):
    ops = [("vllm::moe_forward", 0.0, 100.0, [[64, 512], [64, 8]], ["c10::BFloat16", "c10::BFloat16"], ["", ""])]
    if with_alloc:
        ops.append(("aten::empty", 10.0, 1.0, [[], []], ["ScalarList", "Scalar"], ["[1, 128, 384]", "15"]))
    if with_view:
        ops.append(("aten::view", 60.0 if view_after_launch else 20.0, 1.0, [[8, 256, 768], []],
                    ["unsigned char", "ScalarList"], ["", "[8, 256, 768]"]))
    ops = pd.DataFrame(ops, columns=["name", "ts_us", "dur_us", "dims", "types", "conc"])
    ops = pd.DataFrame({"name": ops["name"], "ts_us": ops["ts_us"], "dur_us": ops["dur_us"], "tid": "1",
                        "input_dims": [json.dumps(d) for d in ops["dims"]],
                        "input_types": [json.dumps(t) for t in ops["types"]],
                        "concrete_inputs": [json.dumps(c) for c in ops["conc"]],
                        # the decoded lists ingest puts beside the text (launch_shapes reads these)
                        "shapes": ops["dims"], "types": ops["types"], "concrete": ops["conc"]})
    launches = pd.DataFrame({"name": ["hipModuleLaunchKernel", "hipPointerGetAttribute", "hipModuleLaunchKernel"],
                             "ts_us": [5.0, 49.0, 50.0], "tid": "1"})
    k = pd.DataFrame({"name": ["other_kernel", NAME], "launch_row": [0, 2], "launch_op_row": [0, 0],
                      "flops": np.nan, "recompute_flops": np.nan, "bytes": np.nan, "dtype": None, "family": None,
                      "flops_source": "none", "flops_reason": "no FLOP formula for op vllm::moe_forward", "op": None})
    return k, ops, launches


def test_matmul_ogs_from_launch_local_shapes():
    k, ops, launches = _tables()
    assert cost_from_launch_shapes(k, ops, launches) == 1
    r = k.iloc[1]
    rows, kdim, n = 128, 256 * 2, 768  # output [1, 128, 384] = rows x N/2 after SwiGLU; mxfp4 packs 2 per byte
    assert r["flops"] == 2 * rows * kdim * n
    assert r["bytes"] == 8 * 256 * 768 + rows * kdim * 2 + rows * (n // 2) * 2
    assert r["family"] == "gemm" and r["dtype"] == "bf16" and r["flops_source"] == "launch_shapes"
    assert r["op"] == "vllm::moe_forward" and pd.isna(r["flops_reason"])
    assert np.isnan(k.iloc[0]["flops"])  # a kernel no rule names stays as it was


def test_no_operands_no_cost():
    for kw in ({"with_view": False}, {"with_alloc": False}, {"view_after_launch": True}):
        k, ops, launches = _tables(**kw)
        assert cost_from_launch_shapes(k, ops, launches) == 0, kw
        assert np.isnan(k.iloc[1]["flops"]) and k.iloc[1]["flops_reason"].startswith("no FLOP formula")

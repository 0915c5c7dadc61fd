"""FLOPs from a real CPU profiler trace (via cost_ops) must equal FlopCounterMode exactly, per op."""
import json

import orjson
import pandas as pd
import pytest
import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from traceflops.kernels import cost_ops

CONV_FWD = {"aten::convolution", "aten::_convolution", "aten::mkldnn_convolution", "aten::cudnn_convolution",
            "aten::miopen_convolution", "aten::convolution_overrideable",
            # the CPU backend leaves _convolution calls (conv_legacy.py): slow paths and depthwise kernels
            "aten::slow_conv_transpose2d", "aten::slow_conv_transpose3d", "aten::_slow_conv2d_forward",
            "aten::slow_conv3d_forward", "aten::slow_conv3d", "aten::slow_conv_dilated2d", "aten::slow_conv_dilated3d",
            "aten::thnn_conv2d", "aten::_conv_depthwise2d", "aten::conv_depthwise3d"}
# FlopCounterMode key -> the trace op names that carry the same FLOPs
FCM_TO_TRACE = {"mm": {"aten::mm"}, "addmm": {"aten::addmm"}, "bmm": {"aten::bmm"},
                "baddbmm": {"aten::baddbmm"}, "convolution": CONV_FWD,
                "convolution_backward": {"aten::convolution_backward"}}


def trace_ops(fn, tmp_path):
    """Run fn under the CPU profiler with shapes, export, and decode the JSON into an op table."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    rows = []
    for e in events:
        if e.get("cat") != "cpu_op" or e.get("ph") != "X":
            continue
        a = e.get("args", {})

        def txt(key):
            return orjson.dumps(a[key]).decode() if key in a else None
        rows.append({"name": e["name"], "tid": e["tid"], "ts": float(e["ts"]), "dur": float(e["dur"]),
                     "input_dims": txt("Input Dims"), "input_types": txt("Input type"),
                     "concrete_inputs": txt("Concrete Inputs")})
    return pd.DataFrame(rows)


def leaf_flops(ops):
    """Cost the ops and drop the FLOPs of any op that has a descendant with FLOPs of the same family
    (time containment on one thread). Same family matters: convolution_backward contains the
    bias-grad `aten::sum`, whose reduction FLOPs must not cancel the conv's."""
    cost = cost_ops(ops)
    df = ops.join(cost)
    has = df[df["flops"].fillna(0) > 0]
    keep = []
    for i, r in has.iterrows():
        inner = has[(has["tid"] == r["tid"]) & (has.index != i) & (has["family"] == r["family"])
                    & (has["ts"] >= r["ts"])
                    & (has["ts"] + has["dur"] <= r["ts"] + r["dur"])]
        keep.append(inner.empty)
    return has[keep]


def fcm_counts(fn):
    with FlopCounterMode(display=False) as fcm:
        fn()
    return {str(k).split(".")[-1]: v for k, v in fcm.get_flop_counts()["Global"].items()}


def check(fn, tmp_path, expect_keys):
    ref = fcm_counts(fn)
    leaves = leaf_flops(trace_ops(fn, tmp_path))
    assert set(expect_keys) <= set(ref), ref
    covered = set()
    for key, total in ref.items():
        names = FCM_TO_TRACE[key]
        covered |= names
        ours = leaves.loc[leaves["name"].isin(names), "flops"].sum()
        assert ours == total, (key, ours, total)
    # nothing else in the GEMM/conv families may carry FLOPs FlopCounterMode does not see
    extra = leaves[leaves["family"].isin(["gemm", "conv"]) & ~leaves["name"].isin(covered)]
    assert extra.empty, extra[["name", "flops"]]


def _run(model, x, backward):
    def fn():
        y = model(x)
        if backward:
            y.float().sum().backward()
    return fn


torch.manual_seed(0)


@pytest.mark.parametrize("backward", [False, True])
def test_linear(tmp_path, backward):
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16, bias=False))
    x = torch.randn(8, 32)
    check(_run(model, x, backward), tmp_path, ["addmm", "mm"] if backward else ["addmm"])


@pytest.mark.parametrize("backward", [False, True])
def test_bmm_einsum_matmul(tmp_path, backward):
    w = torch.randn(4, 16, 8, requires_grad=backward)
    v = torch.randn(2, 4, 8, 6, requires_grad=backward)

    def fn():
        x = torch.randn(4, 5, 16)
        y = torch.bmm(x, w)
        z = torch.einsum("bij,bjk->bik", y, torch.randn(4, 8, 3))
        t = torch.matmul(y.reshape(1, 4, 5, 8).expand(2, 4, 5, 8), v)
        b = torch.baddbmm(torch.randn(4, 5, 3), y, torch.randn(4, 8, 3))
        if backward:
            (z.sum() + t.sum() + b.sum()).backward()
    check(fn, tmp_path, ["bmm", "baddbmm"])


CONVS = {
    "plain2d": (nn.Conv2d(3, 8, 3), (2, 3, 16, 16)),
    "grouped": (nn.Conv2d(8, 12, 3, groups=4, padding=1), (2, 8, 10, 12)),
    "depthwise": (nn.Conv2d(6, 6, 5, groups=6, padding=2), (1, 6, 9, 9)),
    "dilated_strided_padded": (nn.Conv2d(4, 6, 3, stride=2, padding=3, dilation=2), (2, 4, 17, 13)),
    "transposed": (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 7, 9)),
    "transposed_grouped": (nn.ConvTranspose2d(4, 6, 4, stride=3, groups=2, dilation=2), (1, 4, 5, 6)),
    "conv1d": (nn.Conv1d(5, 7, 4, stride=2, padding=2), (3, 5, 31)),
    "conv3d": (nn.Conv3d(2, 4, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 2)), (1, 2, 6, 7, 8)),
    "conv3d_transposed": (nn.ConvTranspose3d(2, 3, 3, stride=2), (1, 2, 3, 4, 5)),
}


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("kind", sorted(CONVS))
def test_conv(tmp_path, kind, backward):
    torch.manual_seed(1)
    conv, shape = CONVS[kind]
    x = torch.randn(*shape, requires_grad=backward)
    keys = ["convolution", "convolution_backward"] if backward else ["convolution"]
    check(_run(conv, x, backward), tmp_path, keys)


def test_conv_backward_weight_only(tmp_path):
    # the input does not need a grad: output_mask = [False, True, True]
    conv = nn.Conv2d(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 8, 8)
    check(_run(conv, x, True), tmp_path, ["convolution", "convolution_backward"])


def test_compiled_style_out_variants():
    # compiled graphs call addmm with a trailing out tensor and bmm with 3 inputs
    from traceflops.kernels import op_cost
    a = op_cost("aten::addmm", [[96], [32, 32], [32, 96], [], [], [32, 96]],
                ["float", "float", "float", "Scalar", "Scalar", "float"], ["", "", "", "1", "1", ""])
    assert a.flops == 2 * 32 * 32 * 96
    b = op_cost("aten::bmm", [[4, 5, 16], [4, 16, 8], [4, 5, 8]], ["float"] * 3, [])
    assert b.flops == 2 * 4 * 5 * 16 * 8

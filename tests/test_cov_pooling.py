"""kernels/pooling.py: pooling, adaptive pooling, upsampling and mse_loss, recorded by the torch CPU profiler.

The output sizes come from the tensors torch actually returned (so ceil_mode and default strides are checked
against torch's own arithmetic, not the formula's); FLOPs and bytes are hand counts of the documented
convention: max pooling 1 comparison per window element per output, avg pooling 1 add per window element
+ 1 divide per output, adaptive avg 1 add per input + 1 divide per output, nearest/bilinear upsampling
0 FLOPs, mse 3 per element; inputs read once, outputs (and int64 indices) written once.
"""
import pytest
import torch
import torch.nn.functional as F

from traceflops import op_cost

from .cov_profile import analysis_row, profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
X = [2, 3, 9, 9]
NX = 486
X3 = [1, 2, 6, 6, 6]
NX3 = 432
OUT = {}  # name -> numel of the output torch returned


def n(t):
    return t.numel()


def _record():
    x = torch.randn(*X, requires_grad=True)
    y = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
    y.sum().backward()
    OUT["max2"] = n(y)
    OUT["max2_ceil_drop"] = n(F.max_pool2d(torch.randn(1, 1, 6, 6), 2, 3, ceil_mode=True))  # last window dropped
    y = F.avg_pool2d(x, 3, 2)
    y.sum().backward()
    OUT["avg2"] = n(y)
    y = F.adaptive_avg_pool2d(x, (4, 4))
    y.sum().backward()
    OUT["aavg2"] = n(y)
    y = F.adaptive_max_pool2d(x, (4, 4))
    y.sum().backward()
    OUT["amax2"] = n(y)
    y = F.interpolate(x, scale_factor=1.5, mode="bilinear")
    y.sum().backward()
    OUT["bilinear"] = n(y)
    OUT["bicubic"] = n(F.interpolate(x.detach(), size=(5, 5), mode="bicubic"))
    x3 = torch.randn(*X3, requires_grad=True)
    for key, fn in (("max3", lambda t: F.max_pool3d(t, 2)), ("avg3", lambda t: F.avg_pool3d(t, 2)),
                    ("aavg3", lambda t: F.adaptive_avg_pool3d(t, (2, 2, 2))),
                    ("amax3", lambda t: F.adaptive_max_pool3d(t, (2, 2, 2)))):
        y = fn(x3)
        y.sum().backward()
        OUT[key] = n(y)
    OUT["max1"] = n(F.max_pool1d(torch.randn(2, 3, 10), 2, return_indices=True)[0])
    a, t = torch.randn(4, 5, requires_grad=True), torch.randn(4, 5)
    F.mse_loss(a, t).backward()
    F.mse_loss(a.detach(), t, reduction="none")


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("pooling"))


def test_max_pooling(ops):
    o = OUT["max2"]
    c = recorded_cost(ops, "aten::max_pool2d_with_indices", 0)
    assert c.flops == o * 9 and c.bytes == NX * 4 + o * (4 + 8) and c.family == "pooling"
    assert recorded_cost(ops, "aten::max_pool2d_with_indices", 1).flops == OUT["max2_ceil_drop"] * 4
    c = recorded_cost(ops, "aten::max_pool2d_with_indices_backward")  # reads grad + indices, writes grad_input
    assert c.flops == o and c.bytes == o * (4 + 8) + NX * 4
    o = OUT["max3"]
    c = recorded_cost(ops, "aten::max_pool3d_with_indices")  # stride [] defaults to the kernel size
    assert c.flops == o * 8 and c.bytes == NX3 * 4 + o * 12
    assert recorded_cost(ops, "aten::max_pool3d_with_indices_backward").bytes == o * 12 + NX3 * 4
    o = OUT["max1"]
    c = recorded_cost(ops, "aten::max_pool1d_with_indices")
    assert c.flops == o * 2 and c.bytes == 60 * 4 + o * 12


def test_avg_pooling(ops):
    o = OUT["avg2"]
    c = recorded_cost(ops, "aten::avg_pool2d")
    assert c.flops == o * (9 + 1) and c.bytes == (NX + o) * 4
    c = recorded_cost(ops, "aten::avg_pool2d_backward")
    assert c.flops == o * (9 + 1) and c.bytes == (o + NX) * 4
    o = OUT["avg3"]
    c = recorded_cost(ops, "aten::avg_pool3d")
    assert c.flops == o * (8 + 1) and c.bytes == (NX3 + o) * 4
    assert recorded_cost(ops, "aten::avg_pool3d_backward").flops == o * (8 + 1)


def test_adaptive_pooling(ops):
    o = OUT["aavg2"]
    c = recorded_cost(ops, "aten::_adaptive_avg_pool2d")
    assert c.flops == NX + o and c.bytes == (NX + o) * 4
    c = recorded_cost(ops, "aten::_adaptive_avg_pool2d_backward")
    assert c.flops == NX and c.bytes == (o + NX) * 4
    o = OUT["amax2"]
    c = recorded_cost(ops, "aten::adaptive_max_pool2d")
    assert c.flops == NX and c.bytes == NX * 4 + o * 12
    c = recorded_cost(ops, "aten::adaptive_max_pool2d_backward")
    assert c.flops == o and c.bytes == o * 12 + NX * 4
    o = OUT["aavg3"]
    assert recorded_cost(ops, "aten::_adaptive_avg_pool3d").flops == NX3 + o
    assert recorded_cost(ops, "aten::_adaptive_avg_pool3d_backward").bytes == (o + NX3) * 4
    o = OUT["amax3"]
    assert recorded_cost(ops, "aten::adaptive_max_pool3d").bytes == NX3 * 4 + o * 12
    assert recorded_cost(ops, "aten::adaptive_max_pool3d_backward").flops == o


def test_upsampling(ops):
    o = OUT["bilinear"]
    # F.interpolate records the .vec op with the base op under the same name below it: counted once, there
    rows = ops[ops["name"] == "aten::upsample_bilinear2d"]
    assert len(rows) == 2 and rows["bytes"].sum() == (NX + o) * 4 and rows["flops"].sum() == 0
    assert analysis_row(ops, "aten::upsample_bilinear2d_backward")["bytes"] == (o + NX) * 4
    assert recorded_cost(ops, "aten::upsample_bilinear2d_backward").flops == o
    rows = ops[ops["name"] == "aten::upsample_bicubic2d"]
    assert rows["bytes"].sum() == (NX + OUT["bicubic"]) * 4
    # the .vec op on its own (no sub-op in the table): the output size from its scale_factors
    vec = [X, [], [], []], ["float", "", "Scalar", "ScalarList"]
    c = op_cost("aten::upsample_bilinear2d", *vec, ["", "", "False", "[1.5, 1.5]"])
    assert c.bytes == (NX + o) * 4 and c.flops == 0
    assert op_cost("aten::upsample_bilinear2d", *vec, ["", "", "False", "[a, b]"]).note == NOT_RECORDED
    assert op_cost("aten::upsample_bilinear2d", *vec, ["", "", "False", "[2, 2, 2, 2, 2]"]).note == NOT_RECORDED
    assert op_cost("aten::upsample_bilinear2d", *vec, []).note == NOT_RECORDED


def test_mse_loss(ops):
    c = recorded_cost(ops, "aten::mse_loss", 0)  # mean: one element written
    assert c.flops == 3 * 20 and c.bytes == (2 * 20 + 1) * 4 and c.family == "loss"
    assert recorded_cost(ops, "aten::mse_loss", 1).bytes == (2 * 20 + 20) * 4  # reduction='none'
    c = recorded_cost(ops, "aten::mse_loss_backward")  # grad_output 0-dim, self, target; writes grad_input
    assert c.flops == 3 * 20 and c.bytes == (1 + 3 * 20) * 4
    # a grad_output whose shape is not recorded counts one element
    c = op_cost("aten::mse_loss_backward", [[], [4, 5], [4, 5], []], ["", "float", "float", "Scalar"], [])
    assert c.bytes == (3 * 20 + 1) * 4


@pytest.mark.parametrize("name,dims,types,conc", [
    ("aten::max_pool2d_with_indices", [X, []], ["float", "ScalarList"], []),  # kernel size not recorded
    ("aten::max_pool2d_with_indices", [X, []], [], ["", "[3, 3]"]),           # dims without a dtype
    ("aten::max_pool2d_with_indices_backward", [[2, 3, 5, 5], []], ["float", ""], []),
    ("aten::avg_pool2d", [X, []], ["float", "ScalarList"], []),
    ("aten::avg_pool3d", [X3, []], ["float", "ScalarList"], []),
    ("aten::max_pool3d_with_indices", [X3, []], ["float", "ScalarList"], []),
    ("aten::avg_pool2d_backward", [[2, 3, 4, 4], X, []], ["float", "float", "ScalarList"], []),
    ("aten::_adaptive_avg_pool2d", [X, []], ["float", "ScalarList"], []),
    ("aten::adaptive_max_pool2d", [X, []], ["float", "ScalarList"], []),
    ("aten::_adaptive_avg_pool2d_backward", [[2, 3, 4, 4], []], ["float", ""], []),
    ("aten::upsample_nearest2d", [[], []], ["", "ScalarList"], []),
    ("aten::upsample_nearest2d_backward", [[2, 3, 8, 8], [], []], ["float", "ScalarList", "ScalarList"], []),
    ("aten::mse_loss", [[4, 5], [4, 5]], [], []),
    ("aten::mse_loss_backward", [[], [4, 5]], ["", ""], []),
])
def test_inputs_not_recorded(name, dims, types, conc):
    c = op_cost(name, dims, types, conc)
    assert c.flops is None and c.bytes is None and c.note == NOT_RECORDED

"""kernels/movement.py: padding, repeats, flips, masks, im2col/col2im, grid sampling, cdist, histc and searches.

Each op is recorded by the torch CPU profiler and costed from its recorded inputs; the expected numbers are hand
counts from the op's schema and the formula's convention (copies 0 FLOPs, the input read once and the output
written once, fp32 = 4 bytes). FlopCounterMode has no formula for these ops: it counts 0, as ours do for copies.
"""
import pytest
import torch
import torch.nn.functional as F

from traceflops import op_cost

from .cov_profile import analysis_row, fcm_total, profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
X = [2, 3, 8, 8]  # 384 elements
NX = 384


def _record():
    x = torch.randn(*X)
    F.pad(x, (1, 2, 3, 4))                           # constant_pad_nd -> [2, 3, 15, 11]
    F.pad(x, (1, 1, 2, 2), mode="reflect")           # reflection_pad2d -> [2, 3, 12, 10]
    F.pad(x, (1, 1, 2, 2), mode="replicate")
    F.pad(torch.randn(2, 3, 8), (2, 3), mode="reflect")   # reflection_pad1d -> [2, 3, 13]
    x.repeat(2, 1, 1, 1)
    torch.flip(x, [1])
    torch.roll(x, 1, 2)
    torch.tril(x[0, 0])
    torch.triu(x[0, 0], 1)
    x[0, 0].clone().tril_()
    torch.rot90(x[0, 0])
    F.unfold(x, 3)                                   # im2col -> [2, 27, 36]
    F.fold(torch.randn(2, 27, 36), (8, 8), 3)        # col2im -> [2, 3, 8, 8]
    torch.cdist(torch.randn(2, 5, 4), torch.randn(2, 6, 4))
    torch.cdist(torch.randn(2, 5, 4), torch.randn(2, 6, 4), p=1)
    torch.histc(x, 10)
    torch.searchsorted(torch.arange(10.), torch.randn(7))
    torch.bucketize(torch.randn(7), torch.arange(10.), out_int32=True)
    torch.nonzero_static(x, size=5)
    torch.repeat_interleave(x, 2)
    g = torch.rand(2, 4, 5, 2) * 2 - 1
    F.grid_sample(x, g, align_corners=False)
    F.grid_sample(x, g, mode="nearest", align_corners=False)
    F.grid_sample(x, g, mode="bicubic", align_corners=False)
    F.grid_sample(torch.randn(1, 2, 4, 4, 4), torch.rand(1, 2, 3, 3, 3) * 2 - 1, align_corners=False)
    xr, gr = x.clone().requires_grad_(), g.clone().requires_grad_()
    F.grid_sample(xr, gr, align_corners=False).pow(2).sum().backward()
    a, b = torch.randn(2, 5, 4, requires_grad=True), torch.randn(2, 6, 4, requires_grad=True)
    torch.cdist(a, b, p=1).pow(2).sum().backward()
    xp = x.clone().requires_grad_()
    F.pad(xp, (1, 1, 2, 2), mode="reflect").pow(2).sum().backward()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("movement"))


def test_pads(ops):
    c = recorded_cost(ops, "aten::constant_pad_nd")
    assert c.flops == 0 and c.bytes == (NX + 2 * 3 * 15 * 11) * 4 and c.family == "copy"
    for name in ("aten::reflection_pad2d", "aten::replication_pad2d"):
        c = recorded_cost(ops, name)
        assert c.flops == 0 and c.bytes == (NX + 2 * 3 * 12 * 10) * 4, name
    c = recorded_cost(ops, "aten::reflection_pad1d")
    assert c.bytes == (48 + 2 * 3 * 13) * 4
    # backward: reads grad_output [2, 3, 12, 10], writes grad_input (self's size); one add per grad element
    c = recorded_cost(ops, "aten::reflection_pad2d_backward")
    assert c.flops == 720 and c.bytes == (720 + NX) * 4
    assert fcm_total(lambda: F.pad(torch.randn(*X), (1, 1, 2, 2), mode="reflect")) == 0


def test_copies(ops):
    assert recorded_cost(ops, "aten::repeat").bytes == (NX + 2 * NX) * 4
    assert recorded_cost(ops, "aten::repeat_interleave").bytes == (NX + 2 * NX) * 4
    for name in ("aten::flip", "aten::roll"):
        c = recorded_cost(ops, name)
        assert c.flops == 0 and c.bytes == 2 * NX * 4, name
    for name in ("aten::tril", "aten::triu", "aten::rot90"):
        assert recorded_cost(ops, name).bytes == 2 * 64 * 4, name
    c = recorded_cost(ops, "aten::tril_")
    assert c.bytes == 64 * 4 and c.bytes_source == "lower_bound"
    # the analysed flip (a leaf op) carries its cost itself
    row = analysis_row(ops, "aten::flip")
    assert row["flops"] == 0 and row["bytes"] == 2 * NX * 4


def test_im2col_col2im(ops):
    # unfold k=3 on 8x8: L = 6*6 = 36 windows of 3*9 = 27 values
    assert recorded_cost(ops, "aten::im2col").bytes == (NX + 2 * 27 * 36) * 4
    c = recorded_cost(ops, "aten::col2im")
    assert c.flops == 2 * 27 * 36 and c.bytes == (2 * 27 * 36 + NX) * 4
    # single-value int lists (a 1-element list applies to both spatial dims)
    c = op_cost("aten::im2col", [X, [], [], [], []], ["float"] + ["ScalarList"] * 4, ["", "[3]", "[1]", "[0]", "[1]"])
    assert c.bytes == (NX + 2 * 27 * 36) * 4
    c = op_cost("aten::col2im", [[2, 27, 36], [], [], [], [], []], ["float"] + ["ScalarList"] * 5,
                ["", "[8, 8]", "[3]", "[1]", "[0]", "[1]"])
    assert c.flops == 2 * 27 * 36 and c.bytes == (2 * 27 * 36 + NX) * 4


def test_grid_sampler(ops):
    n_out = 2 * 3 * 4 * 5  # [N, C, Ho, Wo]
    reads = NX * 4 + 2 * 4 * 5 * 2 * 4
    per_mode = [10, 0, 40]  # bilinear, nearest, bicubic
    for i, per in enumerate(per_mode):
        c = recorded_cost(ops, "aten::grid_sampler_2d", i)
        assert c.flops == per * n_out and c.bytes == reads + n_out * 4 and c.family == "pooling", i
    c = recorded_cost(ops, "aten::grid_sampler_3d")
    n3 = 1 * 2 * (2 * 3 * 3)  # input [1, 2, 4, 4, 4], grid [1, 2, 3, 3, 3]: out [N, C, Do, Ho, Wo]
    assert c.flops == 10 * n3 and c.bytes == (2 * 64 + 2 * 3 * 3 * 3 + n3) * 4
    # backward: 2x the forward FLOPs; reads grad_output, input, grid; writes grad_input and grad_grid
    c = recorded_cost(ops, "aten::grid_sampler_2d_backward", 0)
    assert c.flops == 2 * 10 * n_out and c.bytes == n_out * 4 + 2 * NX * 4 + 2 * 80 * 4


def test_cdist(ops):
    b, p, r, m = 2, 5, 6, 4
    out = b * p * r * 4
    reads = (b * p * m + b * r * m) * 4
    c2, c1 = recorded_cost(ops, "aten::_cdist_forward", 0), recorded_cost(ops, "aten::_cdist_forward", 1)
    assert c2.flops == 2 * b * p * r * m and c1.flops == 3 * b * p * r * m
    assert c2.bytes == c1.bytes == reads + out
    # backward of x1: 3 per (pair, feature); reads grad, x1, x2, cdist; writes grad_x1
    c = recorded_cost(ops, "aten::_cdist_backward", 0)
    assert c.flops == 3 * b * p * r * m and c.bytes == out + reads + out + b * p * m * 4


def test_histc_search_nonzero(ops):
    c = recorded_cost(ops, "aten::histc")
    assert c.flops == NX and c.bytes == (NX + 10) * 4
    c = recorded_cost(ops, "aten::searchsorted")   # sorted [10], values [7] -> int64 positions
    assert c.flops == 0 and c.bytes == 40 + 28 + 7 * 8
    c = recorded_cost(ops, "aten::bucketize")      # self [7], boundaries [10], out_int32
    assert c.bytes == 28 + 40 + 7 * 4
    c = recorded_cost(ops, "aten::nonzero_static")  # 5 rows of 4 int64 coordinates
    assert c.bytes == NX * 4 + 5 * 4 * 8


@pytest.mark.parametrize("name,dims,types,conc", [
    # torch <= 2.0 records no Concrete Inputs: the pad sizes, repeats and window geometry are unknown
    ("aten::constant_pad_nd", [X, [], []], ["float", "ScalarList", "Scalar"], []),
    ("aten::constant_pad_nd", [X, [], []], ["float", "ScalarList", "Scalar"], ["", "[1, 2, 3]", "0"]),  # odd pad
    ("aten::constant_pad_nd", [[4], []], ["float", "ScalarList"], ["", "[-3, -3]"]),  # negative output size
    ("aten::reflection_pad2d_backward", [[2, 3, 12, 10], [], []], ["float", "", "ScalarList"], []),
    ("aten::repeat", [X, []], ["float", "ScalarList"], []),
    ("aten::repeat", [X, []], ["float", "ScalarList"], ["", "[2, 2]"]),  # fewer repeats than dims
    ("aten::repeat_interleave", [X, [3], [], []], ["float", "long int", "", ""], ["", "", "", ""]),  # Tensor repeats
    ("aten::repeat_interleave", [X, [], [], []], ["float", "Scalar", "", ""], []),
    ("aten::flip", [[], []], ["", "ScalarList"], []),
    ("aten::tril_", [[8, 8], []], ["", "Scalar"], []),
    ("aten::im2col", [X, [], [], [], []], ["float"] + ["ScalarList"] * 4, []),
    ("aten::col2im", [[2, 27, 36], [], [], [], [], []], ["float"] + ["ScalarList"] * 5, []),
    ("aten::grid_sampler_2d", [X, [2, 4, 5]], ["float", "float"], []),  # grid rank differs from input's
    ("aten::grid_sampler_2d_backward", [[2, 3, 4, 5], X, []], ["float", "float", ""], []),
    ("aten::_cdist_forward", [[5], [6, 4]], ["float", "float"], []),
    ("aten::_cdist_backward", [[2, 5, 6], [], [2, 6, 4]], ["float", "", "float"], []),
    ("aten::histc", [[]], [""], []),
    ("aten::searchsorted", [[10], []], ["float", "Scalar"], []),  # a scalar value: no shape
    ("aten::nonzero_static", [X, []], ["float", "Scalar"], []),
])
def test_inputs_not_recorded(name, dims, types, conc):
    c = op_cost(name, dims, types, conc)
    assert c.flops is None and c.bytes is None and c.note == NOT_RECORDED


def test_copy_with_unknown_dtype_has_no_bytes():
    # torch 1.8 traces record dims without types: a copy's element size is unknown
    assert op_cost("aten::flip", [X, []], [], []).note == NOT_RECORDED

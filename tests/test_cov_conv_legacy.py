"""kernels/conv_legacy.py: convolutions under their older and backend names, against FlopCounterMode.

The truth for every op is FlopCounterMode's count of the same convolution (aten::convolution forward, or
aten::convolution_backward with the same output mask) run on small CPU tensors. The ops torch 2.13 still runs
on CPU (the slow / dilated / transposed / 3-d paths with oneDNN off, conv_tbc, the oneDNN pointwise ops) are
recorded by the profiler; the pre-1.11 backend backward ops are built from their schemas
(/work/research/ops_schema_history.txt), int-list values recorded as Kineto writes them ("[1, 1]").
Bytes are hand counts of the formula's convention: every tensor read once, every output written once.
"""
import warnings

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
F32 = 4


def n(shape):
    out = 1
    for d in shape:
        out *= d
    return out


def fcm_fwd(x, w, stride, padding, dilation, transposed=False, opad=None, groups=1):
    """FlopCounterMode's FLOPs of one aten::convolution and its output shape."""
    xt, wt = torch.randn(*x), torch.randn(*w)
    opad = opad or [0] * (len(x) - 2)
    with FlopCounterMode(display=False) as m:
        out = torch.ops.aten.convolution(xt, wt, None, stride, padding, dilation, transposed, opad, groups)
    return m.get_total_flops(), list(out.shape)


def fcm_bwd(x, w, stride, padding, dilation, mask, transposed=False, groups=1):
    """FlopCounterMode's FLOPs of one aten::convolution_backward with output mask `mask`, and grad_output's shape."""
    opad = [0] * (len(x) - 2)
    xt, wt = torch.randn(*x), torch.randn(*w)
    go = torch.randn(*torch.ops.aten.convolution(xt, wt, None, stride, padding, dilation, transposed, opad, groups).shape)
    with FlopCounterMode(display=False) as m:
        torch.ops.aten.convolution_backward(go, xt, wt, None, stride, padding, dilation, transposed, opad, groups, mask)
    return m.get_total_flops(), list(go.shape)


def L(v):
    return "[" + ", ".join(str(int(i)) for i in v) + "]"


# ---- a real CPU profile -------------------------------------------------------------------------------------

X2, W2 = [2, 3, 10, 10], [4, 3, 3, 3]


def _record():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flags() warns that TF32 on oneDNN needs an Intel GPU
        _record_slow_paths()
    _record_other_backends()


def _record_slow_paths():
    with torch.backends.mkldnn.flags(enabled=False):  # the aten slow paths
        c = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        x = torch.randn(*X2, requires_grad=True)
        c(x).sum().backward()                                     # _slow_conv2d_forward / _backward
        nn.Conv2d(3, 4, 3, dilation=2)(torch.randn(*X2))          # slow_conv_dilated2d
        nn.ConvTranspose2d(3, 4, 3, stride=2)(torch.randn(*X2))   # slow_conv_transpose2d
        nn.Conv3d(3, 4, 3)(torch.randn(1, 3, 5, 5, 5))            # slow_conv3d_forward
        nn.ConvTranspose3d(3, 2, 3)(torch.randn(1, 3, 4, 4, 4))   # slow_conv_transpose3d


def _record_other_backends():
    inp, w, b = torch.randn(7, 2, 3, requires_grad=True), torch.randn(3, 3, 5, requires_grad=True), torch.randn(5)
    torch.conv_tbc(inp, w, b, 1).sum().backward()
    x, wt, bias = torch.randn(*X2), torch.randn(*W2), torch.randn(4)
    mk = torch.ops.mkldnn
    mk._convolution_pointwise(x, wt, bias, [1, 1], [1, 1], [1, 1], 1, "none", [], "")
    mk._convolution_pointwise(x, torch.randn(2, 4, 10, 10), wt, bias, [1, 1], [1, 1], [1, 1], 1, "add", 1.0, None, [], None)
    mk._convolution_pointwise_(torch.randn(2, 4, 10, 10), x, wt, bias, [1, 1], [1, 1], [1, 1], 1, "add", 1.0, None, [], None)
    mk._convolution_transpose_pointwise(x, torch.randn(3, 4, 3, 3), bias, [0, 0], [0, 0], [2, 2], [1, 1], 1, "none", [], "")


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("conv_legacy"))


def test_profiled_slow_paths_match_flopcounter(ops):
    f, out = fcm_fwd(X2, W2, [2, 2], [1, 1], [1, 1])
    c = recorded_cost(ops, "aten::_slow_conv2d_forward")
    assert c.flops == f and c.bytes == (n(X2) + n(W2) + 4 + n(out)) * F32
    assert recorded_cost(ops, "aten::thnn_conv2d").flops == f
    fb, go = fcm_bwd(X2, W2, [2, 2], [1, 1], [1, 1], [True, True, True])
    c = recorded_cost(ops, "aten::_slow_conv2d_backward")
    assert c.flops == fb
    assert c.bytes == (n(go) + 2 * (n(W2) + n(X2)) + go[1]) * F32
    f, out = fcm_fwd(X2, W2, [1, 1], [0, 0], [2, 2])
    c = recorded_cost(ops, "aten::slow_conv_dilated2d")
    assert c.flops == f and c.bytes == (n(X2) + n(W2) + 4 + n(out)) * F32
    f, out = fcm_fwd(X2, [3, 4, 3, 3], [2, 2], [0, 0], [1, 1], transposed=True)
    c = recorded_cost(ops, "aten::slow_conv_transpose2d")
    assert c.flops == f and c.bytes == (n(X2) + 108 + 4 + n(out)) * F32
    f, out = fcm_fwd([1, 3, 5, 5, 5], [4, 3, 3, 3, 3], [1] * 3, [0] * 3, [1] * 3)
    c = recorded_cost(ops, "aten::slow_conv3d_forward")
    assert c.flops == f and c.bytes == (375 + 324 + 4 + n(out)) * F32
    f, _ = fcm_fwd([1, 3, 4, 4, 4], [3, 2, 3, 3, 3], [1] * 3, [0] * 3, [1] * 3, transposed=True)
    assert recorded_cost(ops, "aten::slow_conv_transpose3d").flops == f


def test_profiled_conv_tbc_is_a_conv1d(ops):
    # conv_tbc(x [T, B, C], w [K, C, O], pad) is conv1d(x as [B, C, T], w as [O, C, K], padding=pad)
    f, out = fcm_fwd([2, 3, 7], [5, 3, 3], [1], [1], [1])
    c = recorded_cost(ops, "aten::conv_tbc")
    assert c.flops == f and c.bytes == (42 + 45 + 5 + n(out)) * F32
    fb, _ = fcm_bwd([2, 3, 7], [5, 3, 3], [1], [1], [1], [True, True, False])
    c = recorded_cost(ops, "aten::conv_tbc_backward")
    # reads grad [7, 2, 5], input, weight; writes grad_input, grad_weight, grad_bias [5]
    assert c.flops == fb and c.bytes == (70 + 2 * 42 + 2 * 45 + 5) * F32


def test_profiled_onednn_pointwise_convs(ops):
    f, out = fcm_fwd(X2, W2, [1, 1], [1, 1], [1, 1])
    unary = recorded_cost(ops, "mkldnn::_convolution_pointwise", 0)
    assert unary.flops == f and unary.bytes == (n(X2) + n(W2) + 4 + n(out)) * F32
    binary = recorded_cost(ops, "mkldnn::_convolution_pointwise", 1)  # 13 inputs, `other` read too
    assert binary.flops == f and binary.bytes == unary.bytes + n(out) * F32
    inplace = recorded_cost(ops, "mkldnn::_convolution_pointwise_")  # other (written) at 0, X at 1
    assert inplace.flops == f and inplace.bytes == binary.bytes
    f, out = fcm_fwd(X2, [3, 4, 3, 3], [2, 2], [0, 0], [1, 1], transposed=True)
    c = recorded_cost(ops, "mkldnn::_convolution_transpose_pointwise")
    assert c.flops == f and c.bytes == (n(X2) + 108 + 4 + n(out)) * F32


# ---- forward ops of other backends, from their schemas -----------------------------------------------------

def test_cudnn_convolution_transpose_layouts():
    w = [3, 4, 3, 3]
    f, out = fcm_fwd(X2, w, [2, 2], [1, 1], [1, 1], transposed=True, opad=[1, 1])
    # 1.5-2.13: (self, weight, padding, output_padding, stride, dilation, groups, benchmark, deterministic[, tf32])
    c = op_cost("aten::cudnn_convolution_transpose", [X2, w] + [[]] * 8,
                ["float", "float"] + ["ScalarList"] * 4 + ["Scalar"] * 4,
                ["", "", "[1, 1]", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False", "True"])
    assert c.flops == f and c.bytes == (n(X2) + n(w) + n(out)) * F32
    # 1.4 / .deprecated: bias at 2
    c = op_cost("aten::cudnn_convolution_transpose", [X2, w, [4]] + [[]] * 7,
                ["float", "float", "float"] + ["ScalarList"] * 4 + ["Scalar"] * 3,
                ["", "", "", "[1, 1]", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False"])
    assert c.flops == f and c.bytes == (n(X2) + n(w) + 4 + n(out)) * F32


def test_cudnn_convolution_add_relu_reads_z():
    f, out = fcm_fwd(X2, W2, [2, 2], [1, 1], [1, 1])
    # (self, weight, z, alpha, bias, stride, padding, dilation, groups)
    c = op_cost("aten::cudnn_convolution_add_relu", [X2, W2, out, [], [4], [], [], [], []],
                ["float", "float", "float", "Scalar", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar"],
                ["", "", "", "1", "", "[2, 2]", "[1, 1]", "[1, 1]", "1"])
    assert c.flops == f and c.bytes == (n(X2) + n(W2) + 4 + 2 * n(out)) * F32
    # the conv's int lists not recorded (torch <= 2.0): the output size is unknown
    c = op_cost("aten::cudnn_convolution_add_relu", [X2, W2, out, [], [4], [], [], [], []],
                ["float", "float", "float", "Scalar", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar"], [])
    assert c.flops is None and c.note == NOT_RECORDED


def test_onednn_qconv_binary_layouts():
    f, out = fcm_fwd(X2, W2, [2, 2], [1, 1], [1, 1])
    u8, s8 = "unsigned char", "signed char"
    want = n(X2) + n(W2) + 4 * 4 + n(out)  # u8 input, s8 weight, f32 bias, the u8 output
    # 2.1-2.4: qaccum at 3, qw at 6, bias 9, stride 10, padding 11, dilation 12, groups 13
    dims = [X2, [], [], out, [], [], W2, [4], [4], [4]] + [[]] * 12
    types = [u8, "Scalar", "Scalar", u8, "Scalar", "Scalar", s8, "float", "long int", "float"] + \
        ["ScalarList"] * 3 + ["Scalar"] * 4 + ["", "Scalar", "", "ScalarList", ""]
    conc = ["", "0.1", "0", "", "0.2", "0", "", "", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "1", "1.0", "0", "",
            "", "1.0", "", "[]", ""]
    c = op_cost("onednn::qconv2d_pointwise", dims, types, conc)
    assert c.flops == f and c.bytes == want
    # 2.6+: qw at 3, qaccum at 6, bias 7, stride 8, padding 9, dilation 10, groups 11
    dims = [X2, [], [], W2, [4], [4], out, [4]] + [[]] * 14
    types = [u8, "Scalar", "Scalar", s8, "float", "long int", u8, "float"] + ["ScalarList"] * 3 + \
        ["Scalar"] * 6 + ["", "Scalar", "", "ScalarList", ""]
    conc = ["", "0.1", "0", "", "", "", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "1", "1.0", "0", "", "0.2", "0",
            "", "1.0", "", "[]", ""]
    c = op_cost("onednn::qconv_pointwise", dims, types, conc)
    assert c.flops == f and c.bytes == want


# ---- pre-1.11 backward ops ----------------------------------------------------------------------------------

GEOM = ([2, 2], [1, 1], [1, 1])  # stride, padding, dilation
DGRAD, WGRAD = [True, False, False], [False, True, False]


@pytest.mark.parametrize("name,tail", [
    # (self_size, grad_output, weight, padding, stride, dilation, groups, benchmark, deterministic[, allow_tf32])
    ("aten::cudnn_convolution_backward_input", ["False", "False", "True"]),
    ("aten::miopen_convolution_backward_input", ["False", "False"]),
    ("aten::miopen_depthwise_convolution_backward_input", ["False", "False"]),
    ("aten::mkldnn_convolution_backward_input", ["True"]),  # bias_defined
])
def test_backward_input_ops(name, tail):
    f, go = fcm_bwd(X2, W2, *GEOM, DGRAD)
    dims = [[], go, W2, [], [], [], []] + [[]] * len(tail)
    types = ["ScalarList", "float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar"] + ["Scalar"] * len(tail)
    c = op_cost(name, dims, types, [L(X2), "", "", "[1, 1]", "[2, 2]", "[1, 1]", "1"] + tail)
    assert c.flops == f and c.bytes == (n(go) + n(W2) + n(X2)) * F32
    # self_size not recorded: the FLOPs stand, the grad_input written is unknown
    c = op_cost(name, dims, types, [])
    assert c.flops == f and c.bytes is None
    assert op_cost(name, [[], go[:3], W2], types[:3], []).note == NOT_RECORDED  # ranks differ


def test_backward_weight_ops_read_the_kernel_size_from_the_parent():
    f, go = fcm_bwd(X2, W2, *GEOM, WGRAD)
    types = ["ScalarList", "float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar", "Scalar", "Scalar", "Scalar"]
    dims = [[], go, X2] + [[]] * 7
    conc = [L(W2), "", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False", "True"]
    for name in ("aten::cudnn_convolution_backward_weight", "aten::miopen_convolution_backward_weight",
                 "aten::mkldnn_convolution_backward_weights"):
        c = op_cost(name, dims, types, conc)
        assert c.flops == f and c.bytes == (n(go) + n(X2) + n(W2)) * F32, name
    # torch <= 2.0 records no int lists: the weight of the enclosing cudnn_convolution_backward(self, grad_output,
    # weight, ...) gives the kernel size
    parent = ("aten::cudnn_convolution_backward", [X2, go, W2] + [[]] * 8,
              ["float", "float", "float"] + ["ScalarList"] * 3 + ["Scalar"] * 5, [])
    c = op_cost("aten::cudnn_convolution_backward_weight", dims, types, [], {"parent": parent})
    assert c.flops == f
    c = op_cost("aten::cudnn_convolution_backward_weight", dims, types, [])
    assert c.flops is None and c.note == NOT_RECORDED


def test_backward_bias_is_a_reduction():
    go = [2, 4, 5, 5]
    for name in ("aten::cudnn_convolution_backward_bias", "aten::miopen_convolution_backward_bias"):
        c = op_cost(name, [go], ["float"], [""])
        assert c.flops == n(go) and c.bytes == (n(go) + 4) * F32 and c.family == "reduction"
    assert op_cost("aten::cudnn_convolution_backward_bias", [go], [], []).bytes is None  # dtype not recorded
    assert op_cost("aten::cudnn_convolution_backward_bias", [[4]], ["float"], [""]).note == NOT_RECORDED


def test_transpose_backward_ops():
    w = [3, 4, 3, 3]  # [Cin, Cout, k, k]
    fi, go = fcm_bwd(X2, w, [2, 2], [0, 0], [1, 1], DGRAD, transposed=True)
    fw, _ = fcm_bwd(X2, w, [2, 2], [0, 0], [1, 1], WGRAD, transposed=True)
    # _backward_input(grad_output, weight, padding, stride, dilation, groups, ...): grad_input from the parent's self
    types = ["float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar", "Scalar", "Scalar"]
    parent = ("aten::cudnn_convolution_transpose_backward", [X2, go, w] + [[]] * 8, ["float"] * 3 + ["ScalarList"] * 8, [])
    for name in ("aten::cudnn_convolution_transpose_backward_input", "aten::miopen_convolution_transpose_backward_input"):
        c = op_cost(name, [go, w] + [[]] * 6, types, [], {"parent": parent})
        assert c.flops == fi and c.bytes == (n(go) + n(w) + n(X2)) * F32, name
    # no parent: grad_input's size from the conv arithmetic of grad_output (a forward conv)
    c = op_cost("aten::cudnn_convolution_transpose_backward_input", [go, w] + [[]] * 6, types,
                ["", "", "[0, 0]", "[2, 2]", "[1, 1]", "1", "False", "False"])
    assert c.flops == fi
    # no parent and no int lists (torch <= 1.10 records none): grad_input's size is unknown, not stride 1's
    assert op_cost("aten::cudnn_convolution_transpose_backward_input", [go, w] + [[]] * 6, types, []).note == NOT_RECORDED
    c = op_cost("aten::cudnn_convolution_transpose_backward_input", [go, w] + [[]] * 6, types,
                ["", "", "[0, 0]", "[2, 2, 2]", "[1, 1]", "1", "False", "False"])  # a 3-d stride on a 2-d conv
    assert c.note == NOT_RECORDED
    assert op_cost("aten::cudnn_convolution_transpose_backward_input", [go[:3], w], ["float"] * 2, []).note == NOT_RECORDED
    # _backward_weight(weight_size, grad_output, self, ...)
    wtypes = ["ScalarList", "float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar", "Scalar", "Scalar"]
    for name in ("aten::cudnn_convolution_transpose_backward_weight", "aten::miopen_convolution_transpose_backward_weight"):
        c = op_cost(name, [[], go, X2] + [[]] * 6, wtypes, [L(w), "", "", "[0, 0]", "[2, 2]", "[1, 1]", "1", "False", "False"])
        assert c.flops == fw and c.bytes == (n(go) + n(X2) + n(w)) * F32, name
    assert op_cost("aten::cudnn_convolution_transpose_backward_weight", [[], go, X2], wtypes[:3], []).note == NOT_RECORDED


def _masked_case(name, go, x, w, mask, lay):
    """Args of a backward op with an output mask, placed as its schema `lay` says: a list of
    ('go' | 'x' | 'w' | 'ints:<v>' | 'tensor' | 'int:<v>' | 'mask')."""
    shape = {"go": go, "x": x, "w": w}
    dims, types, conc = [], [], []
    for p in lay:
        if p in shape:
            dims.append(shape[p]), types.append("float"), conc.append("")
        elif p == "tensor":  # finput / columns buffers
            dims.append([4]), types.append("float"), conc.append("")
        elif p == "mask":
            dims.append([]), types.append("ScalarList"), conc.append("[" + ", ".join(map(str, mask)) + "]")
        else:
            kind, v = p.split(":")
            dims.append([]), types.append("ScalarList" if kind == "ints" else "Scalar"), conc.append(v)
    return op_cost(name, dims, types, conc)


K, S, P, D = "ints:[3, 3]", "ints:[2, 2]", "ints:[1, 1]", "ints:[1, 1]"
MASKED = [
    # (name, schema layout, transposed, mask)
    ("aten::thnn_conv2d_backward", ["go", "x", "w", K, S, P, "tensor", "tensor", "mask"], False, [True, True, True]),
    ("aten::slow_conv3d_backward", ["go", "x", "w", K, S, P, "tensor", "tensor", "mask"], False, [True, False, True]),
    ("aten::thnn_conv_depthwise2d_backward", ["go", "x", "w", K, S, P, D, "mask"], False, [True, True]),
    ("aten::_conv_depthwise2d_backward", ["go", "x", "w", K, S, P, D, "mask"], False, [False, True]),
    ("aten::conv_depthwise3d_backward", ["go", "x", "w", K, S, P, D, "mask"], False, [True, True, False]),
    ("aten::slow_conv_dilated2d_backward", ["go", "x", "w", K, S, P, D, "mask"], False, [True, True, True]),
    ("aten::slow_conv_dilated3d_backward", ["go", "x", "w", K, S, P, D, "mask"], False, [False, True, True]),
    ("aten::slow_conv_transpose2d_backward", ["go", "x", "w", K, S, "ints:[0, 0]", "ints:[0, 0]", D, "tensor", "tensor",
                                              "mask"], True, [True, True, True]),
    ("aten::slow_conv_transpose3d_backward", ["go", "x", "w", K, S, "ints:[0, 0]", "ints:[0, 0]", D, "tensor", "tensor",
                                              "mask"], True, [True, False, False]),
    ("aten::mps_convolution_backward", ["x", "go", "w", P, S, D, "int:1", "mask"], False, [True, True, True]),
    ("aten::_nnpack_spatial_convolution_backward", ["x", "go", "w", P, "mask"], False, [True, True, False]),
    ("aten::_slow_conv2d_backward", ["go", "x", "w", K, S, P, "mask"], False, [True, True, True]),  # 1.11+
    ("aten::_slow_conv2d_backward", ["go", "x", "w", K, S, P, "tensor", "mask"], False, [True, True, True]),  # 1.10
]


@pytest.mark.parametrize("name,lay,transposed,mask", MASKED, ids=[f"{m[0]}-{len(m[1])}" for m in MASKED])
def test_masked_backward_ops_match_flopcounter(name, lay, transposed, mask):
    w = [3, 4, 3, 3] if transposed else W2
    stride, padding = ([2, 2], [0, 0]) if transposed else ([2, 2], [1, 1])
    full = mask + [False] * (3 - len(mask))
    f, go = fcm_bwd(X2, w, stride, padding, [1, 1], full, transposed=transposed)
    c = _masked_case(name, go, X2, w, mask, lay)
    want = n(go) + (n(w) + n(X2)) * (bool(full[0]) + bool(full[1])) + (go[1] if full[2] else 0)
    assert c.flops == f and c.bytes == want * F32 and c.family == "conv"


def test_masked_backward_without_a_mask_or_shapes():
    go = [2, 4, 5, 5]
    types = ["float"] * 3 + ["ScalarList"] * 4
    assert op_cost("aten::thnn_conv_depthwise2d_backward", [go, X2, W2] + [[]] * 4, types, []).note == NOT_RECORDED
    # a mask but mismatched ranks (grad_output 3-d)
    c = op_cost("aten::slow_conv_dilated2d_backward", [[2, 4, 5], X2, W2] + [[]] * 5, types + ["ScalarList"],
                ["", "", "", "[3, 3]", "[1, 1]", "[0, 0]", "[1, 1]", "[True, True, True]"])
    assert c.note == NOT_RECORDED


def test_conv_tbc_edge_cases():
    types = ["float", "float", "float", "Scalar"]
    # no padding recorded defaults to 0: T' = 7 - 3 + 1
    f, out = fcm_fwd([2, 3, 7], [5, 3, 3], [1], [0], [1])
    c = op_cost("aten::conv_tbc", [[7, 2, 3], [3, 3, 5], [5], []], types, [])
    assert c.flops == f and c.bytes == (42 + 45 + 5 + n(out)) * F32
    assert op_cost("aten::conv_tbc", [[2, 2, 3], [3, 3, 5], [5], []], types, ["", "", "", "0"]).note == NOT_RECORDED
    assert op_cost("aten::conv_tbc", [[7, 3], [3, 3, 5], [5], []], types, []).note == NOT_RECORDED
    c = op_cost("aten::conv_tbc", [[7, 2, 3], [3, 3, 5], [5], []], [], [])  # torch 1.8: dims without dtypes
    assert c.flops == f and c.bytes is None
    assert op_cost("aten::conv_tbc_backward", [[7, 2, 5], [7, 2, 3], [3, 5]], ["float"] * 3, []).note == NOT_RECORDED
    c = op_cost("aten::conv_tbc_backward", [[7, 2, 5], [7, 2, 3], [3, 3, 5]], [], [])  # torch 1.8: no dtypes
    assert c.flops == 2 * fcm_fwd([2, 3, 7], [5, 3, 3], [1], [1], [1])[0] and c.bytes is None


def test_pointwise_convs_with_unknown_geometry():
    # torch <= 2.0 records no int lists: the oneDNN ops' output size is unknown
    types = ["float"] * 3 + ["ScalarList"] * 3 + ["Scalar", "", "ScalarList", ""]
    assert op_cost("mkldnn::_convolution_pointwise", [X2, W2, [4]] + [[]] * 7, types, []).note == NOT_RECORDED
    types13 = ["float"] * 4 + ["ScalarList"] * 3 + ["Scalar", "", "Scalar", "", "ScalarList", ""]
    assert op_cost("mkldnn::_convolution_pointwise_", [[2, 4, 10, 10], X2, W2, [4]] + [[]] * 9, types13,
                   []).note == NOT_RECORDED
    # the binary form's `other` of an unknown dtype: the conv's bytes are known, the total is not
    c = op_cost("mkldnn::_convolution_pointwise", [X2, [2, 4, 10, 10], W2, [4]] + [[]] * 9,
                ["float", "weird", "float", "float"] + types13[4:],
                ["", "", "", "", "[1, 1]", "[1, 1]", "[1, 1]", "1", "", "1.", "", "[]", ""])
    assert c.flops == fcm_fwd(X2, W2, [1, 1], [1, 1], [1, 1])[0]

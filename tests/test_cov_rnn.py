"""kernels/rnn.py: recurrent layers (oneDNN, cuDNN, MIOpen) and the fused LSTM/GRU cells.

FLOPs truth: FlopCounterMode on the same nn.LSTM with oneDNN off (torch then runs the layer as matmuls, which it
counts: every weight matrix times every token, forward 2x, backward 4x the MACs). The oneDNN layer ops are
recorded by the CPU profiler; the cuDNN / MIOpen ops and the CUDA-only fused cells are built from their schemas
(/work/research/ops_schema_history.txt). Bytes are hand counts: every input read once, every output written once
(hx/cx read, hy/cy written), the cuDNN flat `weight_buf` being the same memory as the weight list.
"""
import warnings

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
T, B, I, H = 5, 3, 16, 8
TOK = T * B


def fcm_lstm(**kw):
    """FlopCounterMode's (forward, backward) FLOPs of an nn.LSTM(I, H, **kw) on [T, B, I] with oneDNN off."""
    torch.manual_seed(0)
    m = nn.LSTM(I, H, **kw)
    d = 2 if kw.get("bidirectional") else 1
    layers, hout = kw.get("num_layers", 1), kw.get("proj_size", 0) or H
    x = torch.randn(T, B, I, requires_grad=True)
    h = torch.randn(d * layers, B, hout, requires_grad=True)
    c = torch.randn(d * layers, B, H, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flags() warns that TF32 on oneDNN needs an Intel GPU
        with torch.backends.mkldnn.flags(enabled=False):
            with FlopCounterMode(display=False) as fm:
                y, _ = m(x, (h, c))
            with FlopCounterMode(display=False) as bm:
                y.sum().backward()
    return fm.get_total_flops(), bm.get_total_flops()


# ---- oneDNN layers, recorded ---------------------------------------------------------------------------------

def _record():
    torch.manual_seed(0)
    m = nn.LSTM(I, H, num_layers=2)
    x = torch.randn(T, B, I, requires_grad=True)
    h, c = torch.randn(2, B, H, requires_grad=True), torch.randn(2, B, H, requires_grad=True)
    y, _ = m(x, (h, c))
    y.sum().backward()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("rnn"))


def test_profiled_mkldnn_layers_match_flopcounter(ops):
    fwd, bwd = fcm_lstm(num_layers=2)
    layers = [recorded_cost(ops, "aten::mkldnn_rnn_layer", i) for i in range(2)]
    backs = [recorded_cost(ops, "aten::mkldnn_rnn_layer_backward", i) for i in range(2)]
    assert sum(c.flops for c in layers) == fwd
    assert sum(c.flops for c in backs) == bwd
    # layer 0: reads x [5, 3, 16], w_ih [32, 16], w_hh [32, 8]; writes [5, 3, 8]
    assert layers[0].bytes == (TOK * I + TOK * H + 32 * I + 32 * H) * 4 and layers[0].family == "rnn"
    # backward of layer 1 runs first: reads [5, 3, 8], both [32, 8] weights; 2x (gradients written)
    assert backs[0].bytes == 2 * (TOK * H + TOK * H + 32 * H + 32 * H) * 4


def test_mkldnn_layer_inputs_missing():
    assert op_cost("aten::mkldnn_rnn_layer", [[5, 3, 16], [], []], ["float", "", ""], []).note == NOT_RECORDED
    c = op_cost("aten::mkldnn_rnn_layer", [[5, 3, 16], [32, 16], [32, 8]], [], [])  # torch 1.8: no dtypes
    assert c.flops == 2 * TOK * (32 * I + 32 * H) and c.bytes is None


# ---- cuDNN / MIOpen, from the schemas -------------------------------------------------------------------------

def _lstm_weights(proj=0, bidir=False):
    hh = proj or H
    one = [[4 * H, I], [4 * H, hh], [4 * H], [4 * H]] + ([[proj, H]] if proj else [])
    return one * (2 if bidir else 1)


def n(s):
    out = 1
    for d in s:
        out *= d
    return out


def _cudnn_fwd(weights, hx, cx, proj=None, bidir=False, buf=True):
    """_cudnn_rnn: 1.8+ (16 inputs, proj_size at 8) or 1.4-1.7 (15 inputs) when proj is None."""
    wn = sum(n(w) for w in weights)
    dims = [[T, B, I], weights, [], [wn] if buf else [], hx, cx]
    types = ["float", "TensorList", "Scalar", "float" if buf else "", "float", "float"]
    conc = ["", "", "4", "", "", "", "2", str(H)] + ([str(proj)] if proj is not None else [])
    conc += ["1", "False", "0.", "True", str(bidir), "[]", ""]
    tail = len(conc) - len(dims)
    dims += [[]] * tail
    types += ["Scalar"] * (tail - 2) + ["ScalarList", ""]
    return dims, types, conc


def test_cudnn_rnn_forward_layouts():
    fwd, _ = fcm_lstm()
    w = _lstm_weights()
    wn = sum(n(s) for s in w)
    want = (TOK * I + TOK * H + wn + 2 * (B * H + B * H)) * 4  # x, out; weights once; hx, cx read, hy, cy written
    for proj in (0, None):  # 1.8+ and 1.4-1.7
        c = op_cost("aten::_cudnn_rnn", *_cudnn_fwd(w, [1, B, H], [1, B, H], proj=proj))
        assert c.flops == fwd and c.bytes == want and c.family == "rnn", proj
    # bidirectional with projections: out [T, B, 2 * proj]
    fwd, _ = fcm_lstm(proj_size=4, bidirectional=True)
    w = _lstm_weights(proj=4, bidir=True)
    c = op_cost("aten::_cudnn_rnn", *_cudnn_fwd(w, [2, B, 4], [2, B, H], proj=4, bidir=True))
    assert c.flops == fwd
    assert c.bytes == (TOK * I + TOK * 2 * 4 + sum(n(s) for s in w) + 2 * (2 * B * 4 + 2 * B * H)) * 4


def test_cudnn_rnn_backward():
    _, bwd = fcm_lstm()
    w = _lstm_weights()
    wn = sum(n(s) for s in w)
    out, st, reserve = [T, B, H], [1, B, H], [1000]

    def args(new, mask):
        dims = [[T, B, I], w, [], [wn], st, st, out, out, st, st] + [[]] * (9 if new else 8) + [[], reserve, []]
        types = ["float", "TensorList", "Scalar"] + ["float"] * 7 + ["Scalar"] * (8 if new else 7) + \
            ["ScalarList", "", "unsigned char", "ScalarList"]
        conc = ["", "", "4"] + [""] * 7 + ["2", str(H)] + (["0"] if new else []) + \
            ["1", "False", "0.", "True", "False", "[]", "", "", mask]
        return dims, types, conc
    # reads x, weights, hx, cx, output, grad_output, grad_hy, grad_cy, reserve (1 B each); writes grad_input,
    # grad_weights, grad_hx, grad_cx
    want = (2 * TOK * I + 2 * wn + 2 * 2 * B * H + 2 * TOK * H + 2 * B * H) * 4 + 1000
    for new in (True, False):
        c = op_cost("aten::_cudnn_rnn_backward", *args(new, "[True, True, True, True]"))
        assert c.flops == bwd and c.bytes == want, new
        assert op_cost("aten::miopen_rnn_backward", *args(False, "[True, True, True, True]")).flops == bwd
    # no weight gradients: the data gradient's half
    assert op_cost("aten::_cudnn_rnn_backward", *args(True, "[True, True, True, False]")).flops == bwd / 2


def test_miopen_rnn_forward():
    fwd, _ = fcm_lstm()
    w = _lstm_weights()
    # (input, weight[], weight_stride0, hx, cx, mode, hidden_size, num_layers, batch_first, dropout, train,
    # bidirectional, batch_sizes, dropout_state)
    dims = [[T, B, I], w, [], [1, B, H], [1, B, H]] + [[]] * 9
    types = ["float", "TensorList", "Scalar", "float", "float"] + ["Scalar"] * 7 + ["ScalarList", ""]
    conc = ["", "", "4", "", "", "2", str(H), "1", "False", "0.", "False", "False", "[]", ""]
    c = op_cost("aten::miopen_rnn", dims, types, conc)
    assert c.flops == fwd and c.bytes == (TOK * I + TOK * H + sum(n(s) for s in w) + 4 * B * H) * 4


def test_rnn_inputs_missing():
    w = _lstm_weights()
    dims, types, conc = _cudnn_fwd(w, [1, B, H], [1, B, H], proj=0)
    # torch 1.8-2.0 record a TensorList as []: no weight shapes, no count
    c = op_cost("aten::_cudnn_rnn", [dims[0], []] + dims[2:], types, conc)
    assert c.flops is None and c.note == NOT_RECORDED
    # hidden_size not recorded (no Concrete Inputs): the GEMM FLOPs stand, the output size is unknown
    c = op_cost("aten::_cudnn_rnn", dims, types, [])
    assert c.flops == fcm_lstm()[0] and c.bytes is None


# ---- fused cells (CUDA), from the schemas ---------------------------------------------------------------------

BH = 4 * H  # a batch of 4


def test_fused_cells():
    # _thnn_fused_lstm_cell_backward_impl(grad_hy, grad_cy, cx, cy, workspace [B, 4H], has_bias): 38 per element
    st = [4, H]
    for name in ("aten::_thnn_fused_lstm_cell_backward_impl", "aten::_thnn_fused_lstm_cell_backward"):
        c = op_cost(name, [st, st, st, st, [4, 4 * H], []], ["float"] * 5 + ["Scalar"], [""] * 5 + ["True"])
        assert c.flops == 38 * BH and c.bytes == (4 * BH + 4 * BH) * 4 + 5 * BH * 4, name
        assert c.family == "elementwise"
    # _thnn_fused_gru_cell(input_gates [B, 3H], hidden_gates, hx, input_bias?, hidden_bias?): 15 per element;
    # writes hy [B, H] and the workspace [B, 5H]; absent biases read nothing
    c = op_cost("aten::_thnn_fused_gru_cell", [[4, 3 * H], [4, 3 * H], st, [], []], ["float"] * 3 + ["", ""], [""] * 5)
    assert c.flops == 15 * BH and c.bytes == (3 * BH + 3 * BH + BH) * 4 + 6 * BH * 4
    # _thnn_fused_gru_cell_backward(grad_hy, workspace [B, 5H], has_bias): writes 2 x [B, 3H] and [B, H]
    c = op_cost("aten::_thnn_fused_gru_cell_backward", [st, [4, 5 * H], []], ["float", "float", "Scalar"], ["", "", "True"])
    assert c.flops == 30 * BH and c.bytes == (BH + 5 * BH) * 4 + 7 * BH * 4
    assert op_cost("aten::_thnn_fused_gru_cell", [[4, 3 * H], [], []], ["float", "", ""], []).note == NOT_RECORDED
    c = op_cost("aten::_thnn_fused_lstm_cell", [[4, 4 * H], [4, 4 * H], st], [], [])  # torch 1.8: no dtypes
    assert c.flops is None and c.note == NOT_RECORDED

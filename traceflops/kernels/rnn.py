"""Recurrent layers: cuDNN / MIOpen / oneDNN RNN ops and the fused LSTM/GRU cell kernels (ops.md §A5).

FLOPs of a recurrent layer = its GEMMs: every weight matrix W [rows, cols] multiplies every token once,
2 * tokens * numel(W) (layer 0's input matrix with the input, the others with the hidden state; bidirectional
and projection matrices included). Biases and the gate nonlinearities are not counted, as bias adds are not
in GEMMs. Backward (data + weight gradients) = 2x. The fused cell kernels are elementwise: per hidden element
LSTM 19 (4 gate adds, 3 sigmoids at 3, 2 tanh, the cell update 3, the output product), GRU 15; their
backward 2x.
"""
from __future__ import annotations

from dataclasses import replace

from .args import numel
from .registry import OpCost, compute_name, register


def _weights(a, list_i):
    """2-d weight matrices of the op's weight TensorList, or None when the list's shapes were not recorded."""
    shapes = a.tensor_list(list_i)
    if shapes:
        return [s for s in shapes if len(s) == 2]
    return None


def _rnn(a, list_i, proj_i, hidden_i, bidir_i, backward=False, buf_i=None, states_i=()):
    """bytes: input, weights (the list; `weight_buf` at buf_i is the same memory) and every other tensor read
    once, hx/cx (states_i) read and their hy/cy (or gradients) written; the forward writes the output, the
    backward grad_input and the weight gradients."""
    x = a.shape(0)
    mats = _weights(a, list_i)
    if x is None or not x or not mats:
        return None
    tokens = numel(x[:-1])
    mm = sum(numel(w) for w in mats)
    flops = 2.0 * tokens * mm * (2 if backward else 1)
    size = a.itemsize(0)
    h = a.int(hidden_i)
    proj = a.int(proj_i) if proj_i is not None else 0
    d = 2 if a.bool(bidir_i, False) else 1
    nbytes = None
    if size is not None and h:
        tensors = [i for i in range(1, len(a.dims)) if a.shape(i) is not None and i != buf_i]
        states = sum(a.nbytes(i) or 0 for i in tensors if i in states_i)
        others = sum(a.nbytes(i) or 0 for i in tensors if i not in states_i)  # grad_output, output, reserve, ...
        weights = sum(numel(s) for s in a.tensor_list(list_i)) * size
        if backward:
            nbytes = float(2 * numel(x) * size + 2 * weights + 2 * states + others)
        else:
            nbytes = float((numel(x) + tokens * d * (proj or h)) * size + weights + 2 * states + others)
    return OpCost(flops=flops, bytes=nbytes, dtype=compute_name(a.type(0)), family="rnn")


@register("aten::_cudnn_rnn", family="rnn")
def cudnn_rnn_flop(a):
    """_cudnn_rnn(input, weight Tensor[], weight_stride0, weight_buf, hx, cx, mode, hidden_size, [proj_size
    (1.8+),] num_layers, batch_first, dropout, train, bidirectional, batch_sizes, dropout_state): the 16-input
    form has proj_size at 8."""
    new = len(a.dims) >= 16
    return _rnn(a, 1, 8 if new else None, 7, 13 if new else 12, buf_i=3, states_i=(4, 5))


@register("aten::_cudnn_rnn_backward", family="rnn")
def cudnn_rnn_backward_flop(a):
    """_cudnn_rnn_backward(input, weight[], weight_stride0, weight_buf, hx, cx, output, grad_output, grad_hy,
    grad_cy, mode, hidden_size, [proj_size,] num_layers, batch_first, dropout, train, bidirectional, batch_sizes,
    dropout_state, reserve, output_mask): 2x the forward (1x when the mask skips the weight gradients)."""
    new = len(a.dims) >= 22
    res = _rnn(a, 1, 12 if new else None, 11, 17 if new else 16, backward=True, buf_i=3, states_i=(4, 5))
    mask = a.bools(21 if new else 20)
    if res is not None and mask and len(mask) == 4 and not mask[3]:
        res = replace(res, flops=res.flops / 2)
    return res


@register("aten::miopen_rnn", family="rnn")
def miopen_rnn_flop(a):
    """miopen_rnn(input, weight[], weight_stride0, hx, cx, mode, hidden_size, num_layers, batch_first, dropout,
    train, bidirectional, batch_sizes, dropout_state)."""
    return _rnn(a, 1, None, 6, 11, states_i=(3, 4))


@register("aten::miopen_rnn_backward", family="rnn")
def miopen_rnn_backward_flop(a):
    """miopen_rnn_backward(input, weight[], weight_stride0, weight_buf, hx, cx, output, grad_output, grad_hy,
    grad_cy, mode, hidden_size, num_layers, batch_first, dropout, train, bidirectional, ...): 2x."""
    return _rnn(a, 1, None, 11, 16, backward=True, buf_i=3, states_i=(4, 5))


def _layer(a, w_ih, w_hh, backward):
    x, wi, wh = a.shape(0), a.shape(w_ih), a.shape(w_hh)
    if x is None or wi is None or wh is None or len(x) < 2:
        return None
    tokens = numel(x[:-1])
    flops = 2.0 * tokens * (numel(wi) + numel(wh)) * (2 if backward else 1)
    size = a.itemsize(0)
    nbytes = None
    if size is not None:
        out = tokens * wh[1]
        nbytes = float((numel(x) + out + numel(wi) + numel(wh)) * size * (2 if backward else 1))
    return OpCost(flops=flops, bytes=nbytes, dtype=compute_name(a.type(0)), family="rnn")


@register("aten::mkldnn_rnn_layer", family="rnn")
def mkldnn_rnn_layer_flop(a):
    """mkldnn_rnn_layer(input, w_ih [G*H, I], w_hh [G*H, H], b_ih, b_hh, hx_, cx_, reverse, batch_sizes, mode,
    hidden_size, num_layers, has_biases, bidirectional, batch_first, train): one layer, one direction."""
    return _layer(a, 1, 2, False)


@register("aten::mkldnn_rnn_layer_backward", family="rnn")
def mkldnn_rnn_layer_backward_flop(a):
    """mkldnn_rnn_layer_backward(input, weight1 (w_ih), weight2 (w_hh), weight3, weight4, hx_, cx_tmp, output,
    hy_, cy_, grad_output, grad_hy, grad_cy, reverse, mode, ...): 2x the layer."""
    return _layer(a, 1, 2, True)


def _cell(a, gates_i, state_i, per, reads, writes_per_bh):
    g, s = a.shape(gates_i), a.shape(state_i)
    if g is None or s is None or a.itemsize(gates_i) is None:
        return None
    bh = numel(s)
    rb = a.nbytes_sum(reads)
    nbytes = None if rb is None else rb + writes_per_bh * bh * a.itemsize(gates_i)
    return OpCost(flops=float(per * bh), bytes=nbytes, dtype=compute_name(a.type(gates_i)), family="elementwise")


@register("aten::_thnn_fused_lstm_cell", family="elementwise")
def fused_lstm_cell_flop(a):
    """_thnn_fused_lstm_cell(input_gates [B, 4H], hidden_gates [B, 4H], cx [B, H], input_bias, hidden_bias):
    19 per hidden element; writes hy, cy [B, H] and the workspace [B, 4H]."""
    return _cell(a, 0, 2, 19, [0, 1, 2, 3, 4], 6)


@register("aten::_thnn_fused_lstm_cell_backward_impl", "aten::_thnn_fused_lstm_cell_backward", family="elementwise")
def fused_lstm_cell_backward_flop(a):
    """(grad_hy, grad_cy, cx, cy, workspace [B, 4H], has_bias): 38 per hidden element; writes grad_gates
    [B, 4H] and grad_cx [B, H]."""
    return _cell(a, 4, 2, 38, [0, 1, 2, 3, 4], 5)


@register("aten::_thnn_fused_gru_cell", family="elementwise")
def fused_gru_cell_flop(a):
    """_thnn_fused_gru_cell(input_gates [B, 3H], hidden_gates [B, 3H], hx [B, H], input_bias, hidden_bias): 15 per
    hidden element; writes hy [B, H] and the workspace [B, 5H]."""
    return _cell(a, 0, 2, 15, [0, 1, 2, 3, 4], 6)


@register("aten::_thnn_fused_gru_cell_backward", family="elementwise")
def fused_gru_cell_backward_flop(a):
    """(grad_hy [B, H], workspace [B, 5H], has_bias): 30 per hidden element; writes the input and hidden gate
    gradients [B, 3H] each and grad_hx [B, H]."""
    return _cell(a, 1, 0, 30, [0, 1], 7)

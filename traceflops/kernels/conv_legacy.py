"""Convolution ops of older PyTorch releases and other backends: the same math as conv.py under the names and
argument orders they were recorded with (positional schemas: /work/research/ops.md §A1, checked against the
native_functions of 19 releases 1.4-2.13).

Counting is FlopCounterMode's, as in conv.py: forward and grad_input = 2 * N * prod(out spatial) * prod(kernel)
* w[0] * w[1]; grad_weight = 2 * N * Cin * Cout * prod(kernel) * prod(spatial) with full channel counts (the
spatial size a conv iterates over: its output, a transposed conv's input); grad_bias is a reduction (0 FLOPs
here). Before torch 1.11 each backend had its own backward ops, `*_backward_input` / `*_backward_weight` nested
in a `*_backward` parent that takes the output mask; torch <= 2.0 recorded no int-list values, so a
`*_backward_weight` finds its kernel size in the parent's weight tensor (registry context="parent").
"""
from __future__ import annotations

from dataclasses import replace

from .args import Args
from .conv import _conv, _conv_t, conv_out_spatial
from .dtypes import dtype_bytes
from .registry import OpCost, compute_name, numel, register

def _is_opt_tensor(a, i):
    """Input i is a tensor or an absent optional tensor (`""`), not an int list: tells the bias-taking
    (1.4 / `.deprecated`) layouts apart."""
    return not a.untyped and i < len(a.types) and (a.is_tensor(i) or a.type(i) == "")


def _bwd(a, go, x, w, mask, transposed=False, size_from=0):
    """Costs of a conv backward from grad_output, input and weight shapes and the [gI, gW(, gB)] mask."""
    if go is None or x is None or w is None or len(go) != len(x) or len(w) != len(x) or len(x) < 3:
        return None
    conv_sp = x[2:] if transposed else go[2:]
    k = numel(w[2:])
    flops = 0
    if mask[0]:
        flops += 2 * x[0] * numel(conv_sp) * k * w[0] * w[1]
    if len(mask) > 1 and mask[1]:
        flops += 2 * x[0] * numel(conv_sp) * k * x[1] * go[1]
    size = a.itemsize(size_from)
    nbytes = None
    if size is not None:
        nbytes = numel(go) * size
        if mask[0]:
            nbytes += (numel(w) + numel(x)) * size
        if len(mask) > 1 and mask[1]:
            nbytes += (numel(x) + numel(w)) * size
        if len(mask) > 2 and mask[2]:
            nbytes += go[1] * size
    return OpCost(flops=float(flops), bytes=None if nbytes is None else float(nbytes),
                  dtype=compute_name(a.type(size_from)), family="conv")


# ---- forward ops ------------------------------------------------------------------------------------------


@register("aten::cudnn_convolution", family="conv")
def cudnn_convolution_flop(a):
    """cudnn_convolution: 1.7-2.13 (self, weight, padding, stride, dilation, groups, benchmark, deterministic,
    allow_tf32) and 1.5-1.6 (the same without allow_tf32); 1.4 and `.deprecated` (self, weight, bias, padding,
    stride, dilation, groups, ...): a tensor or absent optional at position 2 marks the bias layout."""
    if _is_opt_tensor(a, 2):
        return _conv(a, 0, 1, 2, 4, 3, 5, None, None, 6)
    return _conv(a, 0, 1, None, 3, 2, 4, None, None, 5)


@register("aten::cudnn_convolution_transpose", family="conv")
def cudnn_convolution_transpose_flop(a):
    """cudnn_convolution_transpose: 1.5-2.13 (self, weight, padding, output_padding, stride, dilation, groups,
    ...); 1.4 / `.deprecated` (self, weight, bias, padding, output_padding, stride, dilation, groups, ...)."""
    if _is_opt_tensor(a, 2):
        return _conv_t(a, 0, 1, 2, 5, 3, 6, 4, 7)
    return _conv_t(a, 0, 1, None, 4, 2, 5, 3, 6)


@register("aten::cudnn_convolution_relu", family="conv")
def cudnn_convolution_relu_flop(a):
    """cudnn_convolution_relu(self, weight, bias, stride, padding, dilation, groups): the conv (the relu
    epilogue, like a bias add, is not counted). Note stride before padding."""
    return _conv(a, 0, 1, 2, 3, 4, 5, None, None, 6)


@register("aten::cudnn_convolution_add_relu", family="conv")
def cudnn_convolution_add_relu_flop(a):
    """cudnn_convolution_add_relu(self, weight, z, alpha, bias, stride, padding, dilation, groups): the conv,
    and the read of z."""
    res = _conv(a, 0, 1, 4, 5, 6, 7, None, None, 8)
    if res is None or res.bytes is None or a.nbytes(2) is None:
        return res
    return replace(res, bytes=res.bytes + a.nbytes(2))


@register("aten::_convolution_nogroup", family="conv")
def convolution_nogroup_flop(a):
    """_convolution_nogroup(input, weight, bias, stride, padding, dilation, transposed, output_padding)
    (1.4-1.10: the per-group body of _convolution)."""
    return _conv(a, 0, 1, 2, 3, 4, 5, 6, 7, None)


@register("aten::thnn_conv2d", "aten::thnn_conv2d_forward", "aten::_slow_conv2d_forward", "aten::slow_conv3d",
          "aten::slow_conv3d_forward", family="conv")
def slow_conv_flop(a):
    """thnn_conv2d(_forward) / _slow_conv2d_forward / slow_conv3d(_forward): (self, weight, kernel_size, bias,
    stride, padding). The im2col buffer (finput) of the <= 1.10 forms is not counted."""
    return _conv(a, 0, 1, 3, 4, 5, None, None, None, None)


@register("aten::thnn_conv_depthwise2d", "aten::thnn_conv_depthwise2d_forward", "aten::_conv_depthwise2d",
          "aten::conv_depthwise3d", "aten::slow_conv_dilated2d", "aten::slow_conv_dilated3d", family="conv")
def depthwise_dilated_conv_flop(a):
    """(self, weight, kernel_size, bias, stride, padding, dilation): depthwise weights [C*m, 1, k...] give
    2 * numel(out) * prod(k) through w[0] * w[1]."""
    return _conv(a, 0, 1, 3, 4, 5, 6, None, None, None)


@register("aten::slow_conv_transpose2d", "aten::slow_conv_transpose3d", family="conv")
def slow_conv_transpose_flop(a):
    """slow_conv_transpose2d/3d(self, weight [Cin, Cout, k...], kernel_size, bias, stride, padding,
    output_padding, dilation)."""
    return _conv_t(a, 0, 1, 3, 4, 5, 7, 6, None)


@register("aten::_nnpack_spatial_convolution", family="conv")
def nnpack_conv_flop(a):
    """_nnpack_spatial_convolution(input, weight, bias, padding, stride)."""
    return _conv(a, 0, 1, 2, 4, 3, None, None, None, None)


@register("aten::conv_tbc", family="conv")
def conv_tbc_flop(a):
    """conv_tbc(self [T, B, C], weight [K, C, O], bias [O], pad): a 1-d conv over T; T' = T + 2*pad - K + 1;
    2 * B * T' * K * C * O."""
    x, w = a.shape(0), a.shape(1)
    pad = a.int(3, 0)
    if x is None or w is None or len(x) != 3 or len(w) != 3 or pad is None:
        return None
    t_out = x[0] + 2 * pad - w[0] + 1
    if t_out <= 0:
        return None
    size = dtype_bytes(a.type(0))
    reads = [a.nbytes(0), a.nbytes(1), a.nbytes(2) or 0]
    nbytes = None if size is None or None in reads else sum(reads) + t_out * x[1] * w[2] * size
    return OpCost(flops=2.0 * x[1] * t_out * w[0] * w[1] * w[2], bytes=None if nbytes is None else float(nbytes),
                  dtype=compute_name(a.type(0)))


# CPU Inductor freezing (oneDNN): 10-input unary and 13-input binary forms share the name (ops.md §0.3, §C1)
@register("mkldnn::_convolution_pointwise", family="conv")
def mkldnn_convolution_pointwise_flop(a):
    """unary (X, W, B, padding, stride, dilation, groups, attr, scalars, algorithm); `.binary` (X, other, W, B,
    padding, stride, dilation, groups, binary_attr, ...): 13 inputs, and the read of `other`."""
    if len(a.dims) >= 13 or (a.shape(1) is not None and a.shape(2) is not None and len(a.shape(2) or []) > 2
                             and len(a.shape(1)) == len(a.shape(2))):
        res = _conv(a, 0, 2, 3, 5, 4, 6, None, None, 7)
        extra = a.nbytes(1)
    else:
        res, extra = _conv(a, 0, 1, 2, 4, 3, 5, None, None, 6), 0
    if res is None or res.bytes is None or extra is None:
        return res
    return replace(res, bytes=res.bytes + extra)


@register("mkldnn::_convolution_pointwise_", family="conv")
def mkldnn_convolution_pointwise_inplace_flop(a):
    """_convolution_pointwise_.binary(other (written), X, W, B, padding, stride, dilation, groups, ...): the conv
    of X accumulated into `other` (read and written)."""
    res = _conv(a, 1, 2, 3, 5, 4, 6, None, None, 7)
    if res is None or res.bytes is None or a.nbytes(0) is None:
        return res
    return replace(res, bytes=res.bytes + a.nbytes(0))


@register("mkldnn::_convolution_transpose_pointwise", family="conv")
def mkldnn_convolution_transpose_pointwise_flop(a):
    """(X, W [Cin, Cout/g, k...], B, padding, output_padding, stride, dilation, groups, attr, scalars, algorithm)."""
    return _conv_t(a, 0, 1, 2, 5, 3, 6, 4, 7)


@register("onednn::qconv2d_pointwise", "onednn::qconv_pointwise", "onednn::qconv1d_pointwise",
          "onednn::qconv3d_pointwise", family="conv")
def onednn_qconv_flop(a):
    """qconv*_pointwise (qx, x_scale, x_zp, qw [O, I/g, k...], w_scale, w_zp, bias, stride, padding, dilation,
    groups, output_scale, output_zp, output_dtype, ...); `.binary` (22 inputs): 2.1-2.4 (qx, x_scale, x_zp,
    qaccum, accum_scale, accum_zp, qw, ..., bias 9, stride 10, padding 11, dilation 12, groups 13), 2.6+ (qx,
    x_scale, x_zp, qw, w_scale, w_zp, qaccum, bias 7, stride 8, padding 9, dilation 10, groups 11): int8 math;
    output bytes in the input's element size (an int8 output)."""
    if len(a.dims) >= 22 or len(a.concrete) >= 22:
        if a.type(12) == "ScalarList" or (len(a.concrete) > 12 and a.raw(12).startswith("[")):
            return _conv(a, 0, 6, 9, 10, 11, 12, None, None, 13)
        return _conv(a, 0, 3, 7, 8, 9, 10, None, None, 11)
    return _conv(a, 0, 3, 6, 7, 8, 9, None, None, 10)


# ---- backward ops -----------------------------------------------------------------------------------------


def _kernel_from(a, size_i, weight_pos_in_parent=2):
    """The weight shape of a *_backward_weight op: its weight_size (Concrete Inputs) or the parent's weight."""
    w = a.ints(size_i)
    if w:
        return w
    par = a.extra.get("parent")
    if par:
        b = Args(par[1], par[2], par[3])
        return b.shape(weight_pos_in_parent)
    return None


@register("aten::cudnn_convolution_backward_input", "aten::miopen_convolution_backward_input",
          "aten::miopen_depthwise_convolution_backward_input", "aten::mkldnn_convolution_backward_input",
          family="conv")
def conv_backward_input_flop(a):
    """(self_size, grad_output, weight, padding, stride, dilation, groups, ...): grad_input = the forward count
    = 2 * numel(grad_output) * numel(weight[1:]); reads grad_output and weight, writes grad_input (self_size)."""
    go, w = a.shape(1), a.shape(2)
    if go is None or w is None or len(go) != len(w) or len(w) < 3:
        return None
    flops = 2.0 * numel(go) * numel(w[1:])
    gi = a.ints(0)
    size = a.itemsize(1)
    nbytes = None if size is None or not gi else float((numel(go) + numel(w) + numel(gi)) * size)
    return OpCost(flops=flops, bytes=nbytes, dtype=compute_name(a.type(1)))


@register("aten::cudnn_convolution_backward_weight", "aten::miopen_convolution_backward_weight",
          "aten::miopen_depthwise_convolution_backward_weight", "aten::mkldnn_convolution_backward_weights",
          family="conv", context="parent")
def conv_backward_weight_flop(a):
    """(weight_size, grad_output, self, padding, stride, dilation, groups, ...): grad_weight =
    2 * numel(grad_output) * Cin * prod(kernel) (full Cin, FlopCounterMode's convention); the kernel size is
    weight_size, or (torch <= 2.0 records no int lists) the weight of the enclosing *_convolution_backward.
    Reads grad_output and input, writes grad_weight."""
    go, x = a.shape(1), a.shape(2)
    w = _kernel_from(a, 0)
    if go is None or x is None or w is None or len(go) != len(x) or len(w) != len(x) or len(x) < 3:
        return None
    flops = 2.0 * numel(go) * x[1] * numel(w[2:])
    size = a.itemsize(1)
    nbytes = None if size is None else float((numel(go) + numel(x) + numel(w)) * size)
    return OpCost(flops=flops, bytes=nbytes, dtype=compute_name(a.type(1)))


@register("aten::cudnn_convolution_backward_bias", "aten::miopen_convolution_backward_bias", family="reduction")
def conv_backward_bias_flop(a):
    """(grad_output): grad_bias [Cout] = a sum over N and the spatial dims: 1 per input element."""
    go = a.shape(0)
    if go is None or len(go) < 2:
        return None
    size = a.itemsize(0)
    return OpCost(flops=float(numel(go)), bytes=None if size is None else float((numel(go) + go[1]) * size),
                  dtype=compute_name(a.type(0)))


@register("aten::cudnn_convolution_transpose_backward_input", "aten::miopen_convolution_transpose_backward_input",
          family="conv", context="parent")
def conv_transpose_backward_input_flop(a):
    """(grad_output, weight, padding, stride, dilation, groups, ...): a forward conv of grad_output with the
    weight; grad_input has the transposed conv's input shape (the parent's `self`, or from the conv arithmetic):
    2 * numel(grad_input) * numel(weight[1:])."""
    go, w = a.shape(0), a.shape(1)
    if go is None or w is None or len(go) != len(w) or len(w) < 3:
        return None
    gi = None
    par = a.extra.get("parent")
    if par:
        gi = Args(par[1], par[2], par[3]).shape(0)
    if gi is None:
        geometry = (a.ints(3), a.ints(2), a.ints(4))  # stride, padding, dilation
        if None in geometry:
            return None  # int lists not recorded (torch <= 2.0): grad_input's size is unknown
        sp = conv_out_spatial(go, w, *geometry, False, None)
        gi = [go[0], w[0]] + sp if sp else None
    if gi is None:
        return None
    size = a.itemsize(0)
    nbytes = None if size is None else float((numel(go) + numel(w) + numel(gi)) * size)
    return OpCost(flops=2.0 * numel(gi) * numel(w[1:]), bytes=nbytes, dtype=compute_name(a.type(0)))


@register("aten::cudnn_convolution_transpose_backward_weight", "aten::miopen_convolution_transpose_backward_weight",
          family="conv", context="parent")
def conv_transpose_backward_weight_flop(a):
    """(weight_size, grad_output, self, ...): 2 * numel(self) * Cout * prod(kernel) (the transposed conv iterates
    over its input); kernel from weight_size or the parent's weight."""
    go, x = a.shape(1), a.shape(2)
    w = _kernel_from(a, 0)
    if go is None or x is None or w is None or len(go) != len(x) or len(w) != len(x) or len(x) < 3:
        return None
    size = a.itemsize(1)
    nbytes = None if size is None else float((numel(go) + numel(x) + numel(w)) * size)
    return OpCost(flops=2.0 * numel(x) * go[1] * numel(w[2:]), bytes=nbytes, dtype=compute_name(a.type(1)))


# backward ops with an output mask: name -> (grad_output, input, weight, mask positions, transposed)
_MASKED = {
    "aten::thnn_conv2d_backward": (0, 1, 2, 8, False), "aten::slow_conv3d_backward": (0, 1, 2, 8, False),
    "aten::thnn_conv_depthwise2d_backward": (0, 1, 2, 7, False), "aten::_conv_depthwise2d_backward": (0, 1, 2, 7, False),
    "aten::conv_depthwise3d_backward": (0, 1, 2, 7, False), "aten::slow_conv_dilated2d_backward": (0, 1, 2, 7, False),
    "aten::slow_conv_dilated3d_backward": (0, 1, 2, 7, False), "aten::slow_conv_transpose2d_backward": (0, 1, 2, 10, True),
    "aten::slow_conv_transpose3d_backward": (0, 1, 2, 10, True), "aten::mps_convolution_backward": (1, 0, 2, 7, False),
    "aten::_nnpack_spatial_convolution_backward": (1, 0, 2, 4, False),
}


def _masked(go_i, x_i, w_i, mask_i, transposed):
    def conv_backward_masked_flop(a):
        mask = a.bools(mask_i)
        if mask is None:  # _slow_conv2d_backward lost finput in 1.11: its mask moved from 7 to 6
            mask = next((m for m in (a.bools(i) for i in range(len(a.concrete) - 1, 2, -1)) if m), None)
        if mask is None:
            return None
        return _bwd(a, a.shape(go_i), a.shape(x_i), a.shape(w_i), mask, transposed, size_from=go_i)
    conv_backward_masked_flop.__doc__ = (f"(grad_output {go_i}, input {x_i}, weight {w_i}, ..., output_mask "
                                         f"{mask_i}): grad_input and grad_weight as the mask asks.")
    return conv_backward_masked_flop


for _name, _spec in _MASKED.items():
    register(_name, family="conv")(_masked(*_spec))
register("aten::_slow_conv2d_backward", family="conv")(_masked(0, 1, 2, 6, False))


@register("aten::conv_tbc_backward", family="conv")
def conv_tbc_backward_flop(a):
    """conv_tbc_backward(self=grad [T', B, O], input [T, B, C], weight [K, C, O], bias, pad): grad_input and
    grad_weight, each 2 * B * T' * K * C * O."""
    g, x, w = a.shape(0), a.shape(1), a.shape(2)
    if g is None or x is None or w is None or len(g) != 3 or len(w) != 3:
        return None
    f = 2.0 * g[1] * g[0] * w[0] * w[1] * w[2]
    size = a.itemsize(0)
    nbytes = None if size is None else float((numel(g) + 2 * numel(x) + 2 * numel(w) + w[2]) * size)
    return OpCost(flops=2 * f, bytes=nbytes, dtype=compute_name(a.type(0)))

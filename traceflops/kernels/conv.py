"""Convolution formulas, matching torch.utils.flop_counter.conv_flop_count exactly:
2 * N * prod(spatial) * prod(kernel) * w.shape[0] * w.shape[1], where `spatial` is the
output's spatial size (the input's for a transposed conv). The weight's second dim is
already C/groups, so groups are accounted for in the forward count.

Kineto records no output shapes: the output spatial size is computed from the input, the
weight and stride/padding/dilation/output_padding read from `Concrete Inputs`.
bytes = read input, weight (and bias) + write output.
"""
from __future__ import annotations

from .dtypes import dtype_bytes
from .registry import OpCost, compute_name, numel, register


def _expand(v, n, default):
    if v is None:
        return [default] * n
    if len(v) == 1:
        return v * n
    return v if len(v) == n else None


def conv_out_spatial(x, w, stride, padding, dilation, transposed, output_padding):
    """Output spatial sizes of a (possibly transposed) convolution; None when undecidable."""
    n = len(x) - 2
    stride, padding = _expand(stride, n, 1), _expand(padding, n, 0)
    dilation, output_padding = _expand(dilation, n, 1), _expand(output_padding, n, 0)
    if None in (stride, padding, dilation, output_padding):
        return None
    out = []
    for i in range(n):
        k = w[2 + i]
        if transposed:
            o = (x[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k - 1) + output_padding[i] + 1
        else:
            o = (x[2 + i] + 2 * padding[i] - dilation[i] * (k - 1) - 1) // stride[i] + 1
        out.append(o)
    return out


def conv_flop_count(x, w, out_spatial, transposed):
    """2 * N * prod(conv_shape) * prod(kernel) * w[0] * w[1]; conv_shape = x's spatial if transposed."""
    conv_shape = x[2:] if transposed else out_spatial
    return 2 * x[0] * numel(conv_shape) * numel(w[2:]) * w[0] * w[1]


def _conv(a, ix, iw, ib, i_stride, i_pad, i_dil, i_trans, i_opad, i_groups):
    x, w = a.shape(ix), a.shape(iw)
    if x is None or w is None or len(x) < 3 or len(x) != len(w):
        return None
    transposed = a.bool(i_trans) if i_trans is not None else False
    groups = a.int(i_groups, 1) if i_groups is not None else 1
    geometry = [a.ints(i) for i in (i_stride, i_pad, i_dil) + ((i_opad,) if transposed else ()) if i is not None]
    if transposed is None or any(g is None for g in geometry):
        return None  # int lists not recorded (torch <= 2.0 has no Concrete Inputs): the output size is unknown
    get = lambda i: a.ints(i) if i is not None else None  # noqa: E731
    out_sp = conv_out_spatial(x, w, get(i_stride), get(i_pad), get(i_dil), transposed, get(i_opad))
    if out_sp is None or min(out_sp) <= 0:
        return None
    c_out = w[1] * groups if transposed else w[0]
    flops = conv_flop_count(x, w, out_sp, transposed)
    reads = [a.nbytes(ix), a.nbytes(iw), a.nbytes(ib) if ib is not None else 0]
    size = dtype_bytes(a.type(ix))
    nbytes = None if None in reads or size is None else sum(reads) + x[0] * c_out * numel(out_sp) * size
    return OpCost(flops=float(flops), bytes=None if nbytes is None else float(nbytes), dtype=compute_name(a.type(ix)))


@register("aten::convolution", "aten::_convolution", "aten::convolution_overrideable", family="conv")
def convolution_flop(a):
    """convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    return _conv(a, 0, 1, 2, 3, 4, 5, 6, 7, 8)


def _conv_t(a, ix, iw, ib, i_stride, i_pad, i_dil, i_opad, i_groups):
    # these ops have no `transposed` arg: input -1 of the proxy reads as True
    return _conv(_Forced(a, True), ix, iw, ib, i_stride, i_pad, i_dil, -1, i_opad, i_groups)


class _Forced:
    """Args proxy whose input -1 reads as the bool `value` (ops with an implied `transposed`)."""

    def __init__(self, a, value):
        self._a, self._v = a, value

    def bool(self, i, default=None):
        return self._v if i == -1 else self._a.bool(i, default)

    def __getattr__(self, name):
        return getattr(self._a, name)


@register("aten::mkldnn_convolution", "aten::miopen_convolution", "aten::miopen_depthwise_convolution",
          "aten::_mps_convolution", family="conv")
def mkldnn_convolution_flop(a):
    """mkldnn/miopen_convolution(self, weight, bias, padding, stride, dilation, groups, ...)."""
    return _conv(a, 0, 1, 2, 4, 3, 5, None, None, 6)


@register("aten::miopen_convolution_transpose", family="conv")
def miopen_convolution_transpose_flop(a):
    """miopen_convolution_transpose(self, weight, bias, padding, output_padding, stride, dilation, groups, ...)."""
    return _conv_t(a, 0, 1, 2, 5, 3, 6, 4, 7)


@register("aten::convolution_backward", family="conv")
def convolution_backward_flop(a):
    """convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation,
    transposed, output_padding, groups, output_mask), as FlopCounterMode counts it:
    grad_input (mask[0]) = the forward count; grad_weight (mask[1]) =
    2 * N * Cin * Cout * prod(kernel) * prod(spatial) with the FULL channel counts, i.e.
    `groups` times the forward count for grouped convs (FlopCounterMode's convention, kept so
    totals agree); grad_bias (mask[2]) is a reduction and adds no FLOPs.
    bytes: read grad_output, input (if grad_weight), weight (if grad_input); write the grads."""
    go, x, w = a.shape(0), a.shape(1), a.shape(2)
    if go is None or x is None or w is None or len(go) != len(x) or len(w) != len(x) or len(x) < 3:
        return None
    mask = a.bools(10)
    if mask is None or len(mask) != 3:
        return None
    transposed = a.bool(7, False)
    # the spatial size the conv iterates over: output for a conv, input for a transposed conv
    conv_sp = x[2:] if transposed else go[2:]
    k = numel(w[2:])
    dgrad = 2 * x[0] * numel(conv_sp) * k * w[0] * w[1] if mask[0] else 0
    wgrad = 2 * x[0] * numel(conv_sp) * k * x[1] * go[1] if mask[1] else 0
    flops = dgrad + wgrad
    size = dtype_bytes(a.type(0))
    nbytes = None
    if size is not None:
        n_go, n_x, n_w = numel(go), numel(x), numel(w)
        nbytes = n_go * size
        if mask[0]:
            nbytes += (n_w + n_x) * size  # read weight, write grad_input
        if mask[1]:
            nbytes += (n_x + n_w) * size  # read input, write grad_weight
        if mask[2]:
            nbytes += go[1] * size
    return OpCost(flops=float(flops), bytes=None if nbytes is None else float(nbytes),
                  dtype=compute_name(a.type(0)), flops_parts=(("dgrad", float(dgrad)), ("wgrad", float(wgrad))))

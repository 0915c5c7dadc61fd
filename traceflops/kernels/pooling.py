"""Pooling, upsampling and simple losses: bytes always, FLOPs as stated per element.

max pooling: 1 comparison per window element per output; avg pooling: 1 add per window element
+ 1 divide per output; nearest upsampling: 0 FLOPs (a gather); mse_loss: 3 per element (sub, square,
accumulate) forward and backward.  Output sizes follow torch's pooling arithmetic, including ceil_mode.
"""
from __future__ import annotations

import math

from .registry import OpCost, compute_name, numel, register


def _pool_out(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    out = (math.ceil(num / s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or left padding
    return out


def _pairs(v, n, default):
    if v is None or v == []:
        return [default] * n
    return v * n if len(v) == 1 else v


def _pool_geometry(a, n_sp=2, k_i=1, s_i=2, p_i=3, d_i=4, c_i=5):
    x = a.shape(0)
    k = a.ints(k_i)
    if x is None or not k or len(x) < n_sp + 1:
        return None
    k = _pairs(k, n_sp, 1)
    s = _pairs(a.ints(s_i), n_sp, None)
    s = [kk if ss is None else ss for kk, ss in zip(k, s)]  # stride defaults to kernel_size
    p = _pairs(a.ints(p_i), n_sp, 0)
    d = _pairs(a.ints(d_i), n_sp, 1) if d_i is not None else [1] * n_sp
    ceil_mode = bool(a.bool(c_i, False)) if c_i is not None else False
    spatial = x[-n_sp:]
    out_sp = [_pool_out(sz, kk, ss, pp, dd, ceil_mode) for sz, kk, ss, pp, dd in zip(spatial, k, s, p, d)]
    return x, out_sp, k


def _max_pool(a, n_sp):
    g = _pool_geometry(a, n_sp=n_sp)
    if g is None or a.itemsize(0) is None:
        return None
    x, out_sp, k = g
    n_out = numel(x[:-n_sp]) * numel(out_sp)
    return OpCost(flops=float(n_out * numel(k)), bytes=float(numel(x) * a.itemsize(0) + n_out * (a.itemsize(0) + 8)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::max_pool2d_with_indices", family="pooling")
def max_pool2d_flop(a):
    """max_pool2d_with_indices(self, kernel_size, stride, padding, dilation, ceil_mode): reads self,
    writes output + int64 indices; kh·kw comparisons per output element."""
    return _max_pool(a, 2)


@register("aten::max_pool2d_with_indices_backward", family="pooling")
def max_pool2d_backward_flop(a):
    """(grad_output, self, kernel_size, stride, padding, dilation, ceil_mode, indices): reads grad_output
    and indices, writes grad_input (self's size); 1 add per grad_output element."""
    go, x = a.shape(0), a.shape(1)
    if go is None or x is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=float(numel(go)), bytes=float(numel(go) * (a.itemsize(0) + 8) + numel(x) * a.itemsize(1)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::avg_pool2d", "aten::avg_pool3d", family="pooling")
def avg_pool_flop(a):
    """avg_pool{2,3}d(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)."""
    n_sp = 3 if a.extra.get("name") == "aten::avg_pool3d" else 2
    g = _pool_geometry(a, n_sp=n_sp, d_i=None, c_i=4)
    if g is None or a.itemsize(0) is None:
        return None
    x, out_sp, k = g
    n_out = numel(x[:-n_sp]) * numel(out_sp)
    return OpCost(flops=float(n_out * (numel(k) + 1)), bytes=float((numel(x) + n_out) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::_adaptive_avg_pool2d", "aten::adaptive_avg_pool2d", family="pooling")
def adaptive_avg_pool2d_flop(a):
    """_adaptive_avg_pool2d(self, output_size): every input element is added once, one divide per output."""
    x, out = a.shape(0), a.ints(1)
    if x is None or not out or a.itemsize(0) is None:
        return None
    n_out = numel(x[:-len(out)]) * numel(out)
    return OpCost(flops=float(numel(x) + n_out), bytes=float((numel(x) + n_out) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="pooling")


UPSAMPLE = ["upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "upsample_bilinear2d",
            "upsample_bicubic2d", "upsample_linear1d", "upsample_trilinear3d", "_upsample_nearest_exact1d",
            "_upsample_nearest_exact2d", "_upsample_nearest_exact3d", "_upsample_bilinear2d_aa",
            "_upsample_bicubic2d_aa"]


def _scale_factors(a):
    """The `.vec` overload's scale_factors (its last list of floats), or None."""
    for i in range(len(a.concrete) - 1, 0, -1):
        s = a.raw(i).strip()
        if s.startswith("[") and s.endswith("]") and s != "[]":
            try:
                return [float(v) for v in s[1:-1].split(",")]
            except ValueError:
                return None
    return None


@register(*[f"aten::{n}" for n in UPSAMPLE], family="pooling", context="children")
def upsample_flop(a):
    """upsample_*(self, output_size, ...) and the `.vec` overload (input, output_size?, [align_corners,]
    scale_factors?): reads self, writes the output (batch/channel dims kept; the output size is output_size,
    else floor(in * scale)). FLOPs are not counted (interpolation weights are index arithmetic).
    F.interpolate records the `.vec` op as a parent of the base op under the same name (ops.md §A7): an op
    whose sub-op has its name is counted there, not twice."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    name = a.extra.get("name")
    if any(c[0].split(".")[0] == name for c in a.extra.get("children") or ()):
        return OpCost(flops=0.0, dtype=compute_name(a.type(0)), family="pooling",
                      note="counted on its same-name sub-op (the base overload)")
    out = a.ints(1)
    if not out:
        sc = _scale_factors(a)
        if not sc or len(sc) > len(x):
            return None
        out = [int(d * f) for d, f in zip(x[-len(sc):], sc)]
    n_out = numel(x[:-len(out)]) * numel(out)
    return OpCost(flops=0.0, bytes=float((numel(x) + n_out) * a.itemsize(0)), dtype=compute_name(a.type(0)),
                  family="pooling")


@register(*[f"aten::{n}_backward" for n in UPSAMPLE], family="pooling")
def upsample_backward_flop(a):
    """(grad_output, output_size, input_size, ...): reads grad_output, writes grad_input of input_size;
    1 add per grad_output element."""
    go, in_size = a.shape(0), a.ints(2)
    if go is None or not in_size or a.itemsize(0) is None:
        return None
    return OpCost(flops=float(numel(go)), bytes=float((numel(go) + numel(in_size)) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::max_pool3d_with_indices", "aten::max_pool1d_with_indices", family="pooling")
def max_pool_nd_flop(a):
    """max_pool{1,3}d_with_indices(self, kernel_size, stride, padding, dilation, ceil_mode): as the 2-d op."""
    return _max_pool(a, len(a.ints(1) or []) or (3 if len(a.shape(0) or []) >= 4 else 1))


@register("aten::max_pool3d_with_indices_backward", "aten::adaptive_max_pool2d_backward",
          "aten::adaptive_max_pool3d_backward", family="pooling")
def max_pool_backward_nd_flop(a):
    """(grad_output, self, ...[, indices]): 1 add per grad_output element; reads grad_output and the int64
    indices, writes grad_input (self's size)."""
    return max_pool2d_backward_flop(a)


@register("aten::avg_pool2d_backward", "aten::avg_pool3d_backward", family="pooling")
def avg_pool_backward_flop(a):
    """(grad_output, self, kernel_size, ...): each grad is divided and added to its window: (prod(k) + 1) per
    grad_output element; reads grad_output, writes grad_input."""
    go, x, k = a.shape(0), a.shape(1), a.ints(2)
    if go is None or x is None or not k or a.itemsize(0) is None:
        return None
    n_sp = 3 if "3d" in (a.extra.get("name") or "") else 2
    kk = numel(_pairs(k, n_sp, 1))
    return OpCost(flops=float(numel(go) * (kk + 1)), bytes=float((numel(go) + numel(x)) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::adaptive_max_pool2d", "aten::adaptive_max_pool3d", family="pooling")
def adaptive_max_pool_flop(a):
    """adaptive_max_pool{2,3}d(self, output_size): every input element compared once; writes values and int64
    indices."""
    x, out = a.shape(0), a.ints(1)
    if x is None or not out or a.itemsize(0) is None:
        return None
    n_out = numel(x[:-len(out)]) * numel(out)
    return OpCost(flops=float(numel(x)), bytes=float(numel(x) * a.itemsize(0) + n_out * (a.itemsize(0) + 8)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::_adaptive_avg_pool3d", "aten::adaptive_avg_pool3d", family="pooling")
def adaptive_avg_pool3d_flop(a):
    """_adaptive_avg_pool3d(self, output_size): as the 2-d op."""
    return adaptive_avg_pool2d_flop(a)


@register("aten::_adaptive_avg_pool2d_backward", "aten::_adaptive_avg_pool3d_backward",
          "aten::adaptive_avg_pool3d_backward", family="pooling")
def adaptive_avg_pool_backward_flop(a):
    """(grad_output, self): every input element gets its share, 1 per element; reads grad_output, writes
    grad_input."""
    go, x = a.shape(0), a.shape(1)
    if go is None or x is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=float(numel(x)), bytes=float((numel(go) + numel(x)) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::mse_loss", family="loss")
def mse_loss_flop(a):
    """mse_loss(self, target, reduction): 3 flops per element; writes a scalar unless reduction='none' (0)."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    out = n if a.int(2, 1) == 0 else 1
    return OpCost(flops=3.0 * n, bytes=float((2 * n + out) * a.itemsize(0)), dtype=compute_name(a.type(0)), family="loss")


@register("aten::mse_loss_backward", family="loss")
def mse_loss_backward_flop(a):
    """mse_loss_backward(grad_output, self, target, reduction): 3 flops per element; reads self, target
    and grad_output, writes grad_input."""
    x = a.shape(1)
    if x is None or a.itemsize(1) is None:
        return None
    n = numel(x)
    go = a.shape(0)
    return OpCost(flops=3.0 * n, bytes=float((3 * n + (numel(go) if go is not None else 1)) * a.itemsize(1)),
                  dtype=compute_name(a.type(1)), family="loss")

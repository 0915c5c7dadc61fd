"""Data movement with computable outputs: padding, repeat, flip/roll, triangular masks, im2col/col2im, grid
sampling, pairwise distances, histograms and searches (schemas: /work/research/ops.md §B).

Copies do no arithmetic (0 FLOPs); bytes = the input read once + the output written once, the output shape
from the recorded shapes and int-list args. grid_sampler_2d bilinear: 10 FLOPs per output element and channel
(4 weights, 4 products, the sums); _cdist_forward: 3 per (pair, feature) (sub, abs/square, accumulate), 2 for
p = 2 through the matmul path's products; histc / searchsorted: 0 (comparisons).
"""
from __future__ import annotations

from .registry import OpCost, compute_name, numel, register


def _copy(a, out_elems, xi=0, extra_reads=0):
    x, size = a.shape(xi), a.itemsize(xi)
    if x is None or size is None or out_elems is None:
        return None
    return OpCost(flops=0.0, bytes=float(numel(x) * size + out_elems * size + extra_reads),
                  dtype=compute_name(a.type(xi)), family="copy")


@register("aten::constant_pad_nd", "aten::reflection_pad1d", "aten::reflection_pad2d", "aten::reflection_pad3d",
          "aten::replication_pad1d", "aten::replication_pad2d", "aten::replication_pad3d", family="copy")
def pad_flop(a):
    """(self, pad[, value]): pad holds (before, after) pairs from the last dim backwards; out dim =
    in + before + after."""
    x, pad = a.shape(0), a.ints(1)
    if x is None or not pad or len(pad) % 2 or len(pad) // 2 > len(x):
        return None
    out = list(x)
    for i in range(len(pad) // 2):
        out[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    return _copy(a, numel(out)) if min(out) >= 0 else None


@register("aten::reflection_pad1d_backward", "aten::reflection_pad2d_backward", "aten::reflection_pad3d_backward",
          "aten::replication_pad1d_backward", "aten::replication_pad2d_backward",
          "aten::replication_pad3d_backward", family="copy")
def pad_backward_flop(a):
    """(grad_output, self, padding): reads grad_output, writes grad_input (self's size); the folded border
    elements are adds (1 per grad_output element)."""
    go, x = a.shape(0), a.shape(1)
    if go is None or x is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=float(numel(go)), bytes=float((numel(go) + numel(x)) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::repeat", family="copy")
def repeat_flop(a):
    """repeat(self, repeats): out = self (left-padded with 1s) x repeats."""
    x, r = a.shape(0), a.ints(1)
    if x is None or r is None or len(r) < len(x):
        return None
    return _copy(a, numel(x) * numel(r))


@register("aten::repeat_interleave", family="copy")
def repeat_interleave_flop(a):
    """repeat_interleave.self_int(self, repeats int, dim, output_size): out = numel(self) x repeats.
    repeat_interleave.Tensor(repeats, *, output_size) (two inputs): the index vector itself, read once and written
    as output_size int64 elements (unknown without output_size). self_Tensor goes through index_select (costed there)."""
    x = a.shape(0)
    if x is None or a.shape(1) is not None:
        return None
    if len(a) == 2:  # the .Tensor overload: input 1 is output_size, not a repeat count
        out, size = a.int(1), a.itemsize(0)
        if out is None or size is None:
            return None
        return OpCost(flops=0.0, bytes=float(numel(x) * size + out * 8), dtype=compute_name(a.type(0)), family="copy")
    r = a.int(1)
    if r is None:
        return None
    return _copy(a, numel(x) * r)


@register("aten::flip", "aten::roll", "aten::tril", "aten::triu", "aten::rot90", family="copy")
def flip_flop(a):
    """flip(self, dims) / roll(self, shifts, dims) / tril, triu(self, diagonal) / rot90: a permuted copy of
    self."""
    x = a.shape(0)
    return None if x is None else _copy(a, numel(x))


@register("aten::tril_", "aten::triu_", family="copy")
def tril_inplace_flop(a):
    """tril_/triu_(self, diagonal): reads self and writes the zeroed part; at least the read of self (the
    written part depends on the diagonal)."""
    x, size = a.shape(0), a.itemsize(0)
    if x is None or size is None:
        return None
    return OpCost(flops=0.0, bytes=float(numel(x) * size), dtype=compute_name(a.type(0)), family="copy",
                  bytes_source="lower_bound")


def _window_out(size, k, d, p, s):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@register("aten::im2col", family="copy")
def im2col_flop(a):
    """im2col(self [N, C, H, W], kernel_size, dilation, padding, stride): out [N, C*kh*kw, L]."""
    x, k, d, p, s = a.shape(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4)
    if x is None or len(x) < 3 or not k or not d or p is None or not s:
        return None
    n_sp = 2
    k, d, p, s = ([v[0]] * n_sp if len(v) == 1 else v for v in (k, d, p, s))
    L = numel([_window_out(x[-2 + i], k[i], d[i], p[i], s[i]) for i in range(n_sp)])
    return _copy(a, numel(x[:-2]) * numel(k) * L)


@register("aten::col2im", family="copy")
def col2im_flop(a):
    """col2im(self [N, C*kh*kw, L], output_size, kernel_size, dilation, padding, stride): out [N, C, oh, ow];
    overlapping windows are summed (1 add per input element)."""
    x, out, k = a.shape(0), a.ints(1), a.ints(2)
    if x is None or len(x) < 2 or not out or not k or a.itemsize(0) is None:
        return None
    kk = numel(k) if len(k) > 1 else k[0] ** 2
    c = x[-2] // kk if kk else 0
    n_out = numel(x[:-2]) * c * numel(out)
    return OpCost(flops=float(numel(x)), bytes=float((numel(x) + n_out) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)), family="copy")


@register("aten::grid_sampler_2d", "aten::grid_sampler_3d", family="pooling")
def grid_sampler_flop(a):
    """grid_sampler_2d(input [N, C, H, W], grid [N, Ho, Wo, 2], mode, padding_mode, align_corners): out
    [N, C, Ho, Wo]; bilinear 10 FLOPs per output element (nearest 0, bicubic 4x4 taps: 40); reads the grid and
    at least the input once, writes the output."""
    x, g = a.shape(0), a.shape(1)
    if x is None or g is None or len(x) < 4 or len(g) != len(x) or a.itemsize(0) is None:
        return None
    n_out = x[0] * x[1] * numel(g[1:-1])
    per = {0: 10, 1: 0, 2: 40}.get(a.int(2, 0), 10)
    rb = a.nbytes_sum([0, 1])
    return OpCost(flops=float(per * n_out), bytes=None if rb is None else rb + n_out * a.itemsize(0),
                  dtype=compute_name(a.type(0)), family="pooling")


@register("aten::grid_sampler_2d_backward", "aten::grid_sampler_3d_backward", family="pooling")
def grid_sampler_backward_flop(a):
    """(grad_output, input, grid, mode, padding_mode, align_corners, output_mask): 2x the forward's FLOPs
    (input and grid grads); reads grad_output, input and grid, writes grad_input and grad_grid."""
    go, x, g = a.shape(0), a.shape(1), a.shape(2)
    if go is None or x is None or g is None or a.itemsize(0) is None:
        return None
    per = {0: 10, 1: 0, 2: 40}.get(a.int(3, 0), 10)
    rb = a.nbytes_sum([0, 1, 2, 1, 2])  # input and grid read, their grads written
    return OpCost(flops=float(2 * per * numel(go)), bytes=rb, dtype=compute_name(a.type(0)), family="pooling")


@register("aten::_cdist_forward", family="reduction")
def cdist_flop(a):
    """_cdist_forward(x1 [B, P, M], x2 [B, R, M], p, compute_mode): B*P*R*M (pair, feature) terms, 3 FLOPs each
    (2 with p = 2: the mm path's products and the norms); reads x1, x2, writes [B, P, R]."""
    x1, x2 = a.shape(0), a.shape(1)
    if x1 is None or x2 is None or len(x1) < 2 or len(x2) < 2 or a.itemsize(0) is None:
        return None
    b = numel(x1[:-2])
    p_, r, m = x1[-2], x2[-2], x1[-1]
    per = 2 if a.num(2) == 2.0 else 3
    return OpCost(flops=float(per * b * p_ * r * m), bytes=float(a.nbytes(0) + a.nbytes(1) + b * p_ * r * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::_cdist_backward", family="reduction")
def cdist_backward_flop(a):
    """_cdist_backward(grad [B, P, R], x1, x2, p, cdist): 3 per (pair, feature); writes grad_x1."""
    g, x1, x2 = a.shape(0), a.shape(1), a.shape(2)
    if g is None or x1 is None or x2 is None or a.itemsize(1) is None:
        return None
    reads = a.nbytes(0) + a.nbytes(1) + a.nbytes(2) + (a.nbytes(4) or 0)
    return OpCost(flops=float(3 * numel(g) * x1[-1]), bytes=float(reads + a.nbytes(1)), dtype=compute_name(a.type(1)))


@register("aten::histc", family="reduction")
def histc_flop(a):
    """histc(self, bins, min, max): reads self, writes bins values; 1 per element (the bin increment)."""
    x, bins = a.shape(0), a.int(1, 100)
    if x is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=float(numel(x)), bytes=float(numel(x) * a.itemsize(0) + bins * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::searchsorted", "aten::bucketize", family="index")
def searchsorted_flop(a):
    """searchsorted(sorted_sequence [..., S], self [..., V], out_int32, right, side, sorter) / bucketize(self,
    boundaries, out_int32, right): each value does log2(S) probes; the minimum traffic is the values read,
    the sequence read once and the int64 (int32 with out_int32) positions written. 0 FLOPs."""
    name = a.extra.get("name") or ""
    seq_i, val_i = (1, 0) if name.endswith("bucketize") else (0, 1)
    seq, val = a.shape(seq_i), a.shape(val_i)
    if seq is None or val is None or a.itemsize(val_i) is None:
        return None
    out = 4 if a.bool(2, False) else 8
    return OpCost(flops=0.0, bytes=float(a.nbytes(seq_i) + a.nbytes(val_i) + numel(val) * out),
                  dtype=compute_name(a.type(val_i)))


@register("aten::nonzero_static", family="index")
def nonzero_static_flop(a):
    """nonzero_static(self, size, fill_value): reads self, writes size x ndim int64."""
    x, size = a.shape(0), a.int(1)
    if x is None or size is None or a.itemsize(0) is None:
        return None
    return OpCost(flops=0.0, bytes=float(numel(x) * a.itemsize(0) + size * max(len(x), 1) * 8),
                  dtype=compute_name(a.type(0)))

"""Dropout, masked softmax and elementwise losses of older and current PyTorch (ops.md §A3).

FLOPs per element (documented constants, as pointwise.py): dropout 2 (draw-compare, scale; as native_dropout),
dropout backward / _masked_scale 2 (mask, scale); binary cross entropy 7 (two logs, 1 - x, 1 - y, two products,
the sum) and its backward 5; smooth L1 / Huber 5 (sub, abs, compare, the square or the shifted abs, the
reduction) and their backward 4; masked softmax 5 (as softmax). bytes: inputs read once, outputs written once
(a reduction's scalar unless reduction='none').
"""
from __future__ import annotations

from .registry import OpCost, compute_name, numel, register


def _elementwise(a, per, reads, out_elems, xi=0, extra_write=0):
    x = a.shape(xi)
    size = a.itemsize(xi)
    if x is None or size is None:
        return None
    rb = a.nbytes_sum(reads)
    nbytes = None if rb is None else float(rb + out_elems * size + extra_write)
    # family left to op_cost, which gives each name the family it is registered under
    return OpCost(flops=float(per * numel(x)), bytes=nbytes, dtype=compute_name(a.type(xi)))


@register("aten::_fused_dropout", family="elementwise")
def fused_dropout_flop(a):
    """_fused_dropout(self, p, generator) (the <= 1.10 CUDA training dropout): 2 per element; writes the
    output and a 1-byte mask."""
    x = a.shape(0)
    if x is None:
        return None
    return _elementwise(a, 2, [0], numel(x), extra_write=numel(x))


@register("aten::_masked_scale", "aten::native_dropout_backward", family="elementwise")
def masked_scale_flop(a):
    """_masked_scale(self, mask, scale) / native_dropout_backward(grad_output, mask, scale): out = x * mask *
    scale, 2 per element; reads x and the mask, writes the output."""
    x = a.shape(0)
    if x is None:
        return None
    return _elementwise(a, 2, [0, 1], numel(x))


@register("aten::_masked_softmax", family="softmax")
def masked_softmax_flop(a):
    """_masked_softmax(self, mask, dim, mask_type): 5 per element (as softmax); reads self and the mask."""
    x = a.shape(0)
    if x is None:
        return None
    return _elementwise(a, 5, [0, 1], numel(x))


def _reduced(a, i_red, n):
    r = a.int(i_red, 1)
    return n if r == 0 else 1


@register("aten::binary_cross_entropy", family="loss")
def bce_flop(a):
    """binary_cross_entropy(self, target, weight, reduction): 7 per element; reads self, target (weight)."""
    x = a.shape(0)
    return None if x is None else _elementwise(a, 7, [0, 1, 2], _reduced(a, 3, numel(x)))


@register("aten::binary_cross_entropy_backward", family="loss")
def bce_backward_flop(a):
    """binary_cross_entropy_backward(grad_output, self, target, weight, reduction): 5 per element; writes
    grad_input."""
    x = a.shape(1)
    return None if x is None else _elementwise(a, 5, [0, 1, 2, 3], numel(x), xi=1)


@register("aten::smooth_l1_loss", "aten::huber_loss", family="loss")
def smooth_l1_flop(a):
    """smooth_l1_loss / huber_loss(self, target, reduction, beta|delta): 5 per element."""
    x = a.shape(0)
    return None if x is None else _elementwise(a, 5, [0, 1], _reduced(a, 2, numel(x)))


@register("aten::smooth_l1_loss_backward", "aten::huber_loss_backward", family="loss")
def smooth_l1_backward_flop(a):
    """(grad_output, self, target, reduction, beta|delta): 4 per element; writes grad_input."""
    x = a.shape(1)
    return None if x is None else _elementwise(a, 4, [0, 1, 2], numel(x), xi=1)

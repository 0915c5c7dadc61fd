"""Normalization, softmax and loss formulas.

Per-element FLOP constants (input elements): layer/group/batch norm (training) 5 (mean 1,
variance 2, normalize 2) + 1 per affine weight + 1 per bias; batch norm eval 2 + affine;
rms norm 3 + 1 for weight; norm backward 8; softmax/log_softmax 5 (max, sub, exp, sum, div);
their backward 4. Statistics (mean/rstd) are fp32 for half inputs, as the kernels keep them.
bytes = inputs read once + outputs written once, statistics included.
Composites (layer_norm, group_norm, batch_norm, rms_norm, softmax, log_softmax,
cross_entropy_loss, nll_loss, nll_loss_nd) are not registered: their leaves are.
"""
from __future__ import annotations

from .registry import OpCost, compute_name, numel, register


def _stat_size(a, i):
    s = a.itemsize(i)
    return 8 if s == 8 else 4


def _cost(a, flops, reads, writes_elems, stat_elems, xi=0, note=None):
    rb = a.nbytes_sum(reads)
    size = a.itemsize(xi)
    if rb is None or size is None:
        nbytes = None
    else:
        nbytes = float(rb + writes_elems * size + stat_elems * _stat_size(a, xi))
    return OpCost(flops=float(flops), bytes=nbytes, dtype=compute_name(a.type(xi)), note=note)


def _present(a, i):
    return a.shape(i) not in (None, [])


@register("aten::native_layer_norm", family="norm")
def layer_norm_flop(a):
    """native_layer_norm(input, normalized_shape, weight, bias, eps): (5 + affine) per element;
    writes output, mean, rstd."""
    x = a.shape(0)
    if x is None:
        return None
    n = numel(x)
    k = numel(a.ints(1)) if a.ints(1) else (numel(a.shape(2)) if _present(a, 2) else None)
    if not k:
        return None
    per = 5 + _present(a, 2) + _present(a, 3)
    return _cost(a, per * n, [0, 2, 3], n, 2 * (n // k))


@register("aten::native_layer_norm_backward", family="norm")
def layer_norm_backward_flop(a):
    """native_layer_norm_backward(grad_out, input, normalized_shape, mean, rstd, weight, bias, output_mask):
    8 per element; reads grad_out, input, mean, rstd, weight; writes the masked grads."""
    x = a.shape(1)
    if x is None:
        return None
    n = numel(x)
    mask = a.bools(7) or [True, True, True]
    w = numel(a.shape(5)) if _present(a, 5) else 0
    writes = (n if mask[0] else 0) + (w if mask[1] else 0) + (w if len(mask) > 2 and mask[2] else 0)
    return _cost(a, 8 * n, [0, 1, 3, 4, 5], writes, 0, xi=1)


@register("aten::_fused_rms_norm", family="norm")
def rms_norm_flop(a):
    """_fused_rms_norm(input, normalized_shape, weight, eps): (3 + weight) per element; writes out, rstd."""
    x = a.shape(0)
    k = numel(a.ints(1)) if a.ints(1) else None
    if x is None or not k:
        return None
    n = numel(x)
    return _cost(a, (3 + _present(a, 2)) * n, [0, 2], n, n // k)


@register("aten::_fused_rms_norm_backward", family="norm")
def rms_norm_backward_flop(a):
    """_fused_rms_norm_backward(grad_out, input, normalized_shape, rstd, weight, output_mask): 6 per element."""
    x = a.shape(1)
    if x is None:
        return None
    n = numel(x)
    mask = a.bools(5) or [True, True]
    w = numel(a.shape(4)) if _present(a, 4) else 0
    return _cost(a, 6 * n, [0, 1, 3, 4], (n if mask[0] else 0) + (w if mask[1] else 0), 0, xi=1)


@register("aiter::rms_norm", "aiter::rmsnorm2d_fwd", "vllm::rocm_aiter_rms_norm",
          family="norm")
def rms_norm_out_of_place_flop(a):
    """Custom rms norm (input [..., D], weight [D], eps, ...): 4 per element; writes output."""
    x, w = a.shape(0), a.shape(1)
    if x is None or w is None or len(w) != 1 or x[-1] != w[0]:
        return None
    return _cost(a, 4 * numel(x), [0, 1], numel(x), 0)


@register("aiter::rmsnorm", "sgl_kernel::rmsnorm", "_C::rms_norm", "sgl_kernel::gemma_rmsnorm", "flashinfer::rmsnorm",
          "flashinfer::gemma_rmsnorm", family="norm")
def rms_norm_into_out_flop(a):
    """Custom rms norm (out, input, weight, eps): 4 per element; reads input and weight, writes out."""
    out, x, w = a.shape(0), a.shape(1), a.shape(2)
    if out is None or x is None or w is None:
        return None
    return _cost(a, 4 * numel(x), [1, 2], numel(out), 0, xi=1)


@register("aiter::add_rmsnorm", "aiter::rmsnorm2d_fwd_with_add_ck", "aiter::rmsnorm2d_fwd_with_add",
          family="norm")
def add_rms_norm_flop(a):
    """Fused residual add + rms norm (out, input, residual_in, residual_out, weight, eps):
    5 per element (add + rms 4); reads input, residual, weight; writes out and residual_out."""
    shapes = [a.shape(i) for i in range(4)]
    if None in shapes or a.shape(4) is None:
        return None
    n = numel(shapes[1])
    return _cost(a, 5 * n, [1, 2, 4], 2 * n, 0, xi=1)


@register("vllm::rocm_aiter_rmsnorm2d_fwd_with_add", "_C::fused_add_rms_norm", "sgl_kernel::fused_add_rmsnorm",
          "sgl_kernel::gemma_fused_add_rmsnorm", "flashinfer::fused_add_rmsnorm", "flashinfer::gemma_fused_add_rmsnorm",
          family="norm")
def add_rms_norm_inplace_flop(a):
    """In-place residual add + rms norm (input, residual, weight, eps): 5 per element;
    reads input, residual, weight; writes input and residual."""
    x, r, w = a.shape(0), a.shape(1), a.shape(2)
    if x is None or r is None or w is None:
        return None
    return _cost(a, 5 * numel(x), [0, 1, 2], 2 * numel(x), 0)


@register("aten::native_group_norm", family="norm")
def group_norm_flop(a):
    """native_group_norm(input, weight, bias, N, C, HxW, group, eps): (5 + affine) per element;
    writes output, mean, rstd (N*group each)."""
    x = a.shape(0)
    if x is None:
        return None
    n = numel(x)
    groups = (a.int(3) or x[0]) * (a.int(6) or 0)
    per = 5 + _present(a, 1) + _present(a, 2)
    return _cost(a, per * n, [0, 1, 2], n, 2 * groups, note=None if groups else "group count not recorded")


@register("aten::native_group_norm_backward", family="norm")
def group_norm_backward_flop(a):
    """native_group_norm_backward(grad_out, input, mean, rstd, weight, N, C, HxW, group, output_mask): 8 per element."""
    x = a.shape(1)
    if x is None:
        return None
    n = numel(x)
    mask = a.bools(9) or [True, True, True]
    c = a.int(6) or 0
    writes = (n if mask[0] else 0) + (c if mask[1] else 0) + (c if len(mask) > 2 and mask[2] else 0)
    return _cost(a, 8 * n, [0, 1, 2, 3, 4], writes, 0, xi=1)


def _batch_norm(a, i_train, default_train=None):
    x = a.shape(0)
    if x is None or len(x) < 2:
        return None
    n, c = numel(x), x[1]
    train = a.bool(i_train, default_train) if i_train is not None else default_train
    if train is None:
        return None
    affine = _present(a, 1) + _present(a, 2)
    per = (5 if train else 2) + affine
    # training also writes save_mean/save_invstd and updates the running stats in place
    stats = 2 * c + (2 * c if train and _present(a, 3) else 0)
    return _cost(a, per * n, [0, 1, 2, 3, 4], n, stats)


@register("aten::native_batch_norm", "aten::cudnn_batch_norm", "aten::miopen_batch_norm",
          "aten::_native_batch_norm_legit", family="norm")
def batch_norm_flop(a):
    """(input, weight, bias, running_mean, running_var, training, momentum, eps): training 5 + affine
    per element, eval 2 + affine."""
    return _batch_norm(a, 5)


@register("aten::_native_batch_norm_legit_no_training", family="norm")
def batch_norm_eval_flop(a):
    """(input, weight, bias, running_mean, running_var, momentum, eps): 2 + affine per element."""
    return _batch_norm(a, None, False)


@register("aten::native_batch_norm_backward", family="norm")
def batch_norm_backward_flop(a):
    """native_batch_norm_backward(grad_out, input, weight, running_mean, running_var, save_mean,
    save_invstd, train, eps, output_mask): 8 per element; writes grad_input and C-sized grads."""
    x = a.shape(1)
    if x is None or len(x) < 2:
        return None
    n, c = numel(x), x[1]
    return _cost(a, 8 * n, [0, 1, 2, 5, 6], n + 2 * c, 0, xi=1)


@register("aten::cudnn_batch_norm_backward", "aten::miopen_batch_norm_backward", family="norm")
def cudnn_batch_norm_backward_flop(a):
    """(input, grad_output, weight, running_mean, running_var, save_mean, save_var, eps, ...): 8 per element."""
    x = a.shape(0)
    if x is None or len(x) < 2:
        return None
    n, c = numel(x), x[1]
    return _cost(a, 8 * n, [0, 1, 2, 5, 6], n + 2 * c, 0)


def _softmax(a, per, half_to_float_i=None):
    x = a.shape(0)
    if x is None:
        return None
    n = numel(x)
    to_float = half_to_float_i is not None and a.bool(half_to_float_i, False) and a.itemsize(0) == 2
    return _cost(a, per * n, [0], 0 if to_float else n, n if to_float else 0)


@register("aten::_softmax", "aten::_log_softmax", "aten::_safe_softmax", family="softmax")
def softmax_flop(a):
    """_softmax/_log_softmax(self, dim, half_to_float): 5 per element; read input, write output
    (fp32 when half_to_float)."""
    return _softmax(a, 5, 2)


@register("aten::_softmax_backward_data", "aten::_log_softmax_backward_data", family="softmax")
def softmax_backward_flop(a):
    """(grad_output, output, dim, input_dtype): 4 per element; reads both, writes grad_input."""
    x = a.shape(0)
    if x is None:
        return None
    n = numel(x)
    return _cost(a, 4 * n, [0, 1], n, 0)


@register("aten::nll_loss_forward", "aten::nll_loss2d_forward", family="loss")
def nll_loss_flop(a):
    """(self [N,C,...], target [N,...], weight, reduction, ignore_index): 1 per target element
    (+1 with class weights); reads target and one logit per target (+ its weight); writes output
    (N values for reduction=none, else 1) and total_weight."""
    x, t, size = a.shape(0), a.shape(1), a.itemsize(0)
    if x is None or t is None or a.itemsize(1) is None or size is None:
        return None
    nt = numel(t)
    weighted = _present(a, 2)
    red = a.int(3, 1)
    out = nt if red == 0 else 1
    nbytes = nt * a.itemsize(1) + nt * size * (2 if weighted else 1) + (out + 1) * size
    return OpCost(flops=float(nt * (2 if weighted else 1)), bytes=float(nbytes), dtype=compute_name(a.type(0)))


@register("aten::nll_loss_backward", "aten::nll_loss2d_backward", family="loss")
def nll_loss_backward_flop(a):
    """(grad_output, self, target, weight, reduction, ignore_index, total_weight): 1 per target element;
    reads target (+ its weight) and writes one grad_input element per target. Zeroing grad_input is a child
    op (aten::zero_ -> fill_) with its own kernel and bytes: on an H100 the scatter kernel took 11.8 us, where
    a full [N, C] pass would need 320 us (sample_traces/gpu/transformer_train)."""
    x, t = a.shape(1), a.shape(2)
    if x is None or t is None or a.itemsize(1) is None or a.itemsize(2) is None:
        return None
    nt = numel(t)
    size = a.itemsize(1)
    nbytes = nt * a.itemsize(2) + nt * size * (2 if _present(a, 3) else 1) + 2 * size
    return OpCost(flops=float(nt), bytes=float(nbytes), dtype=compute_name(a.type(1)))


@register("aiter::_groupnorm_run", family="norm")
def aiter_groupnorm_flop(a):
    """aiter group norm (x [N, C, ...], num_groups, weight [C], bias [C], eps): (5 + affine) per element, as
    native_group_norm; writes the output."""
    x = a.shape(0)
    if x is None or len(x) < 2:
        return None
    n = numel(x)
    return _cost(a, (5 + _present(a, 2) + _present(a, 3)) * n, [0, 2, 3], n, 0)


@register("_C::rms_norm_static_fp8_quant", "_C::rms_norm_dynamic_per_token_quant", family="norm")
def rms_norm_quant_flop(a):
    """vLLM fused rms norm + fp8 quant (result fp8, input [T, H], weight [H], scale, ...): 4 per element for the
    norm + 1 for the scaling; reads input and weight, writes the 1-byte result (+ per-token scales)."""
    out, x, w = a.shape(0), a.shape(1), a.shape(2)
    if out is None or x is None or w is None or a.itemsize(1) is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    nbytes = a.nbytes(1) + a.nbytes(2) + n * a.itemsize(0) + (a.nbytes(3) or 0)
    return OpCost(flops=5.0 * n, bytes=float(nbytes), dtype=compute_name(a.type(1)))


@register("_C::fused_add_rms_norm_static_fp8_quant", family="norm")
def add_rms_norm_quant_flop(a):
    """(result fp8, input, residual (written), weight, scale, eps): 6 per element (add + norm 4 + scale);
    reads input, residual, weight, writes residual and the 1-byte result."""
    out, x, r = a.shape(0), a.shape(1), a.shape(2)
    if out is None or x is None or r is None or a.itemsize(1) is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    nbytes = a.nbytes(1) + 2 * a.nbytes(2) + (a.nbytes(3) or 0) + n * a.itemsize(0)
    return OpCost(flops=6.0 * n, bytes=float(nbytes), dtype=compute_name(a.type(1)))


# SyncBatchNorm (DDP): statistics per rank, gathered, then applied. The per-element constants split the batch
# norm convention (training 5, backward 8) between the kernels: stats 3, elemt 2 (+affine), backward 4 + 4.
@register("aten::batch_norm_stats", family="norm")
def batch_norm_stats_flop(a):
    """batch_norm_stats(input [N, C, ...], eps): mean and invstd per channel (Welford): 3 per element; reads
    input, writes 2 x C fp32."""
    x = a.shape(0)
    if x is None or len(x) < 2:
        return None
    return _cost(a, 3 * numel(x), [0], 0, 2 * x[1])


@register("aten::batch_norm_update_stats", family="norm")
def batch_norm_update_stats_flop(a):
    """batch_norm_update_stats(input, running_mean, running_var, momentum): 3 per element; reads input and the
    running stats, writes them and the batch mean/var."""
    x = a.shape(0)
    if x is None or len(x) < 2:
        return None
    return _cost(a, 3 * numel(x), [0, 1, 2], 0, 4 * x[1])


@register("aten::batch_norm_gather_stats", "aten::batch_norm_gather_stats_with_counts", family="norm")
def batch_norm_gather_stats_flop(a):
    """(input, mean [W, C], invstd [W, C], running_mean, running_var, momentum, eps, count(s)): merges the
    ranks' statistics; input is read for its shape only. Reads mean, invstd, counts and the running stats,
    writes mean and invstd [C] (+ the running stats). FLOPs not counted (a few per rank and channel)."""
    m = a.shape(1)
    if m is None or len(m) != 2:
        return None
    reads = [a.nbytes(i) or 0 for i in (1, 2, 3, 4, 7)]
    return OpCost(flops=None, bytes=float(sum(reads) + (a.nbytes(3) or 0) + (a.nbytes(4) or 0) + 2 * m[1] * 4),
                  dtype=compute_name(a.type(1)))


@register("aten::batch_norm_elemt", family="norm")
def batch_norm_elemt_flop(a):
    """batch_norm_elemt(input, weight, bias, mean, invstd, eps): normalize, 2 + affine per element; reads
    input and the C-sized tensors, writes the output."""
    x = a.shape(0)
    if x is None:
        return None
    n = numel(x)
    return _cost(a, (2 + _present(a, 1) + _present(a, 2)) * n, [0, 1, 2, 3, 4], n, 0)


@register("aten::batch_norm_backward_reduce", family="norm")
def batch_norm_backward_reduce_flop(a):
    """(grad_out, input, mean, invstd, weight, input_g, weight_g, bias_g): sum_dy and sum_dy_xmu per channel,
    4 per element; reads grad_out and input, writes 4 x C fp32."""
    x = a.shape(1)
    if x is None or len(x) < 2:
        return None
    return _cost(a, 4 * numel(x), [0, 1, 2, 3, 4], 0, 4 * x[1], xi=1)


@register("aten::batch_norm_backward_elemt", family="norm")
def batch_norm_backward_elemt_flop(a):
    """(grad_out, input, mean, invstd, weight, sum_dy / mean_dy, sum_dy_xmu / mean_dy_xmu, count): grad_input,
    4 per element; reads grad_out and input, writes grad_input."""
    x = a.shape(1)
    if x is None:
        return None
    n = numel(x)
    return _cost(a, 4 * n, [0, 1, 2, 3, 4, 5, 6, 7], n, 0, xi=1)

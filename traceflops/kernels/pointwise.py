"""Pointwise ops, copies, foreach and fused optimizers.

FLOPs are counted per OUTPUT element with the constants in POINTWISE_FLOPS (a transcendental
such as exp/erf/tanh counts as 1; documented in docs/flop-conventions.md). Copies and fills do
no arithmetic: flops = 0.
bytes = every tensor input read once (its own numel x dtype size) + the output written once.
The output shape is the broadcast of the tensor inputs; its dtype is the promoted input dtype
(bool for comparisons). In-place ops (trailing '_') write their first input.
Composites that only call a registered leaf are not registered (to/_to_copy/clone/contiguous
and zero_ are counted at copy_/fill_), so bytes are not counted twice.
"""
from __future__ import annotations

from dataclasses import replace

from .dtypes import dtype_bytes, promote
from .registry import OpCost, compute_name, numel, register

# flops per output element
POINTWISE_FLOPS: dict[str, int] = {
    **dict.fromkeys(["add", "sub", "mul", "div", "rsub", "remainder", "fmod", "pow", "maximum", "minimum",
                     "floor_divide", "true_divide", "divide", "multiply", "subtract", "atan2", "copysign",
                     "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
                     "bitwise_and", "bitwise_or", "bitwise_xor", "__and__", "__or__", "__xor__", "where",
                     "masked_fill", "threshold", "threshold_backward", "clamp", "clamp_min", "clamp_max",
                     "relu", "abs", "neg", "sqrt", "rsqrt", "exp", "exp2", "log", "log2", "log10", "log1p",
                     "expm1", "sin", "cos", "tan", "tanh", "erf", "reciprocal", "sign", "sgn", "floor",
                     "ceil", "round", "trunc", "square", "nan_to_num", "logical_not", "bitwise_not",
                     "hardtanh", "isnan", "isinf", "isfinite", "relu6", "hardtanh_backward"], 1),
    **dict.fromkeys(["leaky_relu", "sigmoid_backward", "tanh_backward", "hardsigmoid", "logit"], 2),
    **dict.fromkeys(["sigmoid", "addcmul", "addcdiv", "lerp", "elu", "hardswish", "softplus"], 3),
    "silu": 4, "mish": 6, "gelu": 5, "silu_backward": 6, "gelu_backward": 8, "elu_backward": 3,
    "logit_backward": 3,
}
COMPARE = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
           "isnan", "isinf", "isfinite"}


def broadcast(shapes):
    """numpy/torch broadcast of shapes; None when they do not broadcast."""
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, d in enumerate(s):
            j = nd - len(s) + i
            if out[j] == 1:
                out[j] = d
            elif d != 1 and d != out[j]:
                return None
    return out


# Inputs the functional schema records before an `out=` tensor (aten's .out overloads append it last):
# unary ops 1, binary 2, add/sub 3 (alpha), ...; ops not listed never take the out= reading.
_UNARY = ("abs", "bitwise_not", "ceil", "cos", "erf", "exp", "exp2", "expm1", "floor", "isfinite", "isinf", "isnan",
          "log", "log10", "log1p", "log2", "logical_not", "neg", "reciprocal", "relu", "round", "rsqrt", "sgn",
          "sigmoid", "sign", "silu", "sin", "sqrt", "square", "tan", "tanh", "trunc", "mish", "hardsigmoid",
          "hardswish")
_BINARY = ("__and__", "__or__", "__xor__", "atan2", "bitwise_and", "bitwise_or", "bitwise_xor", "copysign", "div",
           "divide", "eq", "floor_divide", "fmod", "ge", "gt", "le", "lt", "logical_and", "logical_or", "logical_xor",
           "maximum", "minimum", "mul", "multiply", "ne", "remainder", "true_divide", "pow", "clamp_min", "clamp_max",
           "gelu", "leaky_relu", "logit", "sigmoid_backward", "tanh_backward", "silu_backward")
OUT_ARITY = {**dict.fromkeys(_UNARY, 1), **dict.fromkeys(_BINARY, 2),
             **dict.fromkeys(("add", "sub", "subtract", "rsub", "clamp", "hardtanh", "softplus", "threshold", "lerp",
                              "gelu_backward", "threshold_backward", "logit_backward", "where", "masked_fill"), 3),
             **dict.fromkeys(("addcmul", "addcdiv", "nan_to_num", "elu", "hardtanh_backward"), 4)}


def out_arg(a, arity):
    """Index of an `out=` tensor (the last input, past the functional schema's `arity` inputs, shaped like the
    broadcast result of the inputs before it), or None."""
    last = len(a) - 1
    if arity is None or last < arity or a.shape(last) is None:
        return None
    before = [a.shape(i) for i in a.tensor_idx() if i < last]
    return last if before and broadcast(before) == a.shape(last) else None


def elementwise_cost(a, per_elem, inplace=False, out_type=None, compare=False, arity=None):
    out_i = None if inplace else out_arg(a, arity)
    idx = [i for i in a.tensor_idx() if i != out_i]
    if not idx:
        return None
    if out_i is not None and out_type is None:
        out_type = a.type(out_i)  # an out= tensor is written, never read, in its own dtype
    shapes = [a.shape(i) for i in idx]
    out_shape = a.shape(0) if inplace and a.shape(0) is not None else broadcast(shapes)
    if out_shape is None:
        return None
    # 0-dim tensors (wrapped Python numbers) do not decide the result dtype when real tensors exist
    dims = [i for i in idx if a.shape(i) != []] or idx
    in_type = a.type(0) if inplace and a.shape(0) is not None else promote([a.type(i) for i in dims])
    out_t = out_type or ("bool" if compare else in_type)
    n_out = numel(out_shape)
    reads = sum(a.nbytes(i) for i in idx)
    out_size = dtype_bytes(out_t)
    nbytes = None if out_size is None else float(reads + n_out * out_size)
    return OpCost(flops=float(per_elem * n_out), bytes=nbytes, dtype=compute_name(in_type), family="elementwise")


def _make(op, per_elem):
    compare = op in COMPARE

    def pointwise_flop(a):
        return elementwise_cost(a, per_elem, compare=compare, arity=OUT_ARITY.get(op))

    def pointwise_inplace_flop(a):
        return elementwise_cost(a, per_elem, inplace=True)

    pointwise_flop.__doc__ = f"{op}: {per_elem} flop(s) per output element; broadcast output."
    pointwise_inplace_flop.__doc__ = f"{op}_: {per_elem} flop(s) per element of self (written in place)."
    register(f"aten::{op}", family="elementwise")(pointwise_flop)
    register(f"aten::{op}_", family="elementwise")(pointwise_inplace_flop)


for _op, _n in POINTWISE_FLOPS.items():
    _make(_op, _n)


@register("aten::native_dropout", family="elementwise")
def native_dropout_flop(a):
    """native_dropout(input, p, train): 2 per element (draw-compare, scale); writes output + bool mask."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    return OpCost(flops=2.0 * n, bytes=float(n * (2 * a.itemsize(0) + 1)), dtype=compute_name(a.type(0)))


@register("aten::copy_", family="copy")
def copy_flop(a):
    """copy_(self, src, non_blocking): 0 flops; read src (its dtype), write self (its dtype).
    A broadcast src is read once."""
    dst, src = a.shape(0), a.shape(1)
    if dst is None or src is None or a.itemsize(0) is None or a.itemsize(1) is None:
        return None
    return OpCost(flops=0.0, bytes=float(numel(src) * a.itemsize(1) + numel(dst) * a.itemsize(0)),
                  dtype=compute_name(a.type(0)))


@register("aten::fill_", family="copy")
def fill_flop(a):
    """fill_(self, value): 0 flops; write self."""
    return OpCost(flops=0.0, bytes=_nb(a.nbytes(0)), dtype=compute_name(a.type(0))) if a.shape(0) is not None else None


def _nb(x):
    return None if x is None else float(x)


def _list_dtype(a):
    """TensorList element dtype: Kineto records only 'TensorList', so it comes from extra['dtype_hint']."""
    hint = a.extra.get("dtype_hint")
    return hint if isinstance(hint, str) and dtype_bytes(hint) is not None else None


LIST_NOTE = "TensorList dtype not recorded: 1 byte per element (a lower bound)"


def _list_cost(flops, elems, t, note=None):
    """OpCost of an op over TensorLists moving `elems` elements: exact with a dtype hint, else a lower bound at
    1 byte per element (no torch dtype is smaller)."""
    if t is not None:
        return OpCost(flops=float(flops), bytes=float(elems * dtype_bytes(t)), dtype=compute_name(t), note=note)
    return OpCost(flops=float(flops), bytes=float(elems), bytes_source="lower_bound",
                  note=f"{note}; {LIST_NOTE}" if note else LIST_NOTE)


@register("aten::cat", "aten::concat", "aten::concatenate", family="copy")
def cat_flop(a):
    """cat(tensors, dim): 0 flops; read every input, write their sum. The list's dtype is not in
    the trace: bytes need extra['dtype_hint'], else 1 byte per element (a lower bound)."""
    shapes = a.tensor_list(0)
    if shapes is None:
        return None
    n = sum(numel(s) for s in shapes if s != [0])
    return _list_cost(0, 2 * n, _list_dtype(a))


FOREACH_FLOPS = {"add": 1, "sub": 1, "mul": 1, "div": 1, "addcmul": 3, "addcdiv": 3, "lerp": 3, "sqrt": 1,
                 "neg": 1, "exp": 1, "maximum": 1, "minimum": 1, "clamp_min": 1, "clamp_max": 1, "abs": 1,
                 "reciprocal": 1, "sign": 1, "copy": 0, "zero": 0}


def _from_result_types(a):
    """(shapes, dtype) of a foreach op's first list from the `aten::result_type(tensor, scalar)` checks it runs on
    every tensor of it (recorded with shape and dtype where the list itself is not, torch 1.13-2.0)."""
    kids = [c for c in a.extra.get("children") or () if c[0] == "aten::result_type" and c[1] and c[2]]
    shapes = [c[1][0] for c in kids if isinstance(c[1][0], list)]
    types = {c[2][0] for c in kids}
    if not shapes or len(types) != 1:
        return None, None
    t = next(iter(types))
    return shapes, (t if dtype_bytes(t) is not None else None)


def _foreach(op, per_elem, inplace):
    def foreach_flop(a):
        lists = [a.tensor_list(i) for i in range(len(a))]
        lists = [l for l in lists if l is not None]
        t = _list_dtype(a)
        if not lists:
            # every list of a foreach op has the first list's shapes
            first, t = _from_result_types(a)
            n_lists = sum(1 for i in range(len(a)) if a.type(i) == "TensorList")
            if not first or not n_lists:
                return None
            lists = [first] * n_lists
        n = sum(numel(s) for s in lists[0])
        # every list is read once; copy_/zero_ do not read their destination
        reads = sum(numel(s) for l in lists for s in l) - (n if op in ("copy", "zero") else 0)
        return _list_cost(per_elem * n, reads + n, t)
    foreach_flop.__doc__ = (f"_foreach_{op}: {per_elem} flop(s) per element of the first list. Lists not recorded "
                            "(torch 1.13-2.0): their shapes and dtype from the aten::result_type check per tensor.")
    register(f"aten::_foreach_{op}{'_' if inplace else ''}", family="optimizer", context="children")(foreach_flop)


for _op, _n in FOREACH_FLOPS.items():
    _foreach(_op, _n, True)
    if _op not in ("copy", "zero"):
        _foreach(_op, _n, False)


@register("aten::_fused_adam_", "aten::_fused_adamw_", family="optimizer")
def fused_adam_flop(a):
    """_fused_adam(w)_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, lr, beta1,
    beta2, weight_decay, eps, amsgrad, ...): 12 flops per parameter (m, v updates 6, bias-corrected
    step 6) + 2 for weight decay (adamw) + 1 for amsgrad. bytes: read param, grad, m, v (+ max),
    write param, m, v (+ max); dtype from extra['dtype_hint']."""
    params = a.tensor_list(0)
    if params is None:
        return None
    n = sum(numel(s) for s in params)
    amsgrad = bool(a.tensor_list(4))
    wd = a.num(9, 0.0) or 0.0
    flops = (12 + (2 if wd else 0) + (1 if amsgrad else 0)) * n
    lists = 4 + (1 if amsgrad else 0) + 3 + (1 if amsgrad else 0)
    return _list_cost(flops, lists * n, _list_dtype(a))


@register("aten::_fused_sgd_", family="optimizer")
def fused_sgd_flop(a):
    """_fused_sgd_(params, grads, momentum_buffer_list, weight_decay, momentum, lr, dampening, nesterov, maximize,
    is_first_step, grad_scale, found_inf): per parameter 2 (the update) + 2 with weight decay + 3 with momentum
    (buffers recorded); reads p, g (+ buf), writes p (+ buf)."""
    params = a.tensor_list(0)
    if params is None:
        return None
    n = sum(numel(s) for s in params)
    mom = bool(a.tensor_list(2))
    wd = a.num(3, 0.0) or 0.0
    return _list_cost((2 + (2 if wd else 0) + (3 if mom else 0)) * n, (5 if mom else 3) * n, _list_dtype(a))


@register("aten::_fused_adagrad_", family="optimizer")
def fused_adagrad_flop(a):
    """_fused_adagrad_(params, grads, state_sums, state_steps, lr, lr_decay, weight_decay, eps, maximize, ...):
    6 per parameter (sum += g^2 2, the scaled step 4) + 2 with weight decay; reads p, g, sum, writes p, sum."""
    params = a.tensor_list(0)
    if params is None:
        return None
    n = sum(numel(s) for s in params)
    wd = a.num(6, 0.0) or 0.0
    return _list_cost((6 + (2 if wd else 0)) * n, 5 * n, _list_dtype(a))


@register("aten::_foreach_norm", family="optimizer")
def foreach_norm_flop(a):
    """_foreach_norm(self[], ord, dtype): 2 per element (square, accumulate); reads every tensor, writes one
    fp32 norm per tensor."""
    shapes = a.tensor_list(0)
    if shapes is None:
        return None
    n = sum(numel(s) for s in shapes)
    res = _list_cost(2 * n, n, _list_dtype(a))
    return replace(res, bytes=res.bytes + 4 * len(shapes))


@register("aten::_amp_foreach_non_finite_check_and_unscale_", family="optimizer")
def amp_unscale_flop(a):
    """_amp_foreach_non_finite_check_and_unscale_(self[], found_inf [1], inv_scale [1]): 2 per element (the
    multiply, the finite check); reads and writes every tensor."""
    shapes = a.tensor_list(0)
    if shapes is None:
        return None
    n = sum(numel(s) for s in shapes)
    res = _list_cost(2 * n, 2 * n, _list_dtype(a))
    return replace(res, bytes=res.bytes + (a.nbytes(1) or 0) + (a.nbytes(2) or 0))


@register("aten::_amp_non_finite_check_and_unscale_", family="optimizer")
def amp_unscale_one_flop(a):
    """_amp_non_finite_check_and_unscale_(self, found_inf, inv_scale) (1.5-1.7): one tensor, as above."""
    x = a.shape(0)
    if x is None or a.itemsize(0) is None:
        return None
    n = numel(x)
    return OpCost(flops=2.0 * n, bytes=float(2 * n * a.itemsize(0) + 8), dtype=compute_name(a.type(0)))



@register("_C::rotary_embedding", "vllm::rotary_embedding", "sgl_kernel::rotary_embedding", family="elementwise")
def rotary_embedding_flop(a):
    """rotary_embedding(positions [T], query [T, Hq·D], key [T, Hk·D]?, head_size, cos_sin_cache [P, R], is_neox):
    rotates the first R dims of every head in place (the key is optional: `Tensor!? key`)."""
    head = a.int(3)
    if not head:
        return None
    return rope_cost(a, pos_i=0, q_i=1, k_i=2, cache_i=4, head=head)


def rope_cost(a, pos_i, q_i, k_i, cache_i, head):
    """Rotary embedding of T positions' q and k heads (head size `head`) with a [P, R] cos/sin cache: 3 FLOPs per
    rotated element (x·cos ∓ y·sin over R of every head's dims); reads the positions, the T cache rows used and
    q, k, and writes as many bytes of q, k (in place, or into outputs of the same shapes). A missing k is none."""
    pos, q, k, cache = a.shape(pos_i), a.shape(q_i), a.shape(k_i) or [0], a.shape(cache_i)
    size = a.itemsize(q_i)
    if None in (pos, q, cache) or len(cache) != 2 or size is None:
        return None
    t, elems = numel(pos), numel(q) + numel(k)
    heads = elems // (t * head) if t else 0
    cache_bytes = t * cache[1] * (a.itemsize(cache_i) or size)
    return OpCost(flops=3.0 * t * heads * min(cache[1], head),
                  bytes=float(2 * elems * size + t * (a.itemsize(pos_i) or 8) + cache_bytes),
                  dtype=compute_name(a.type(q_i)), family="elementwise")

"""Collectives and Inductor/Triton launches.

Collectives (family 'comm', flops None). `comm_bytes` is S, the per-rank message size the
NCCL-tests use: all_reduce / broadcast / reduce / send / recv: the buffer; all_gather: the
gathered output; reduce_scatter: the full input; all_to_all: the full buffer.
algbw = S * algbw_factor / time (algbw_factor is 1), busbw = algbw * busbw_factor with
all_reduce 2(n-1)/n, all_gather / reduce_scatter / all_to_all (n-1)/n, others 1.
`bytes` is set to S as well (the bytes a rank moves over the link, not DRAM traffic).
"""
from __future__ import annotations

from ..numbers import finite_or_none
from .dtypes import comm_type, compute_dtype, dtype_bytes
from .registry import OpCost, numel, register

_KIND = {
    "allreduce": "all_reduce", "all_reduce": "all_reduce", "allreduce_coalesced": "all_reduce",
    "allgather": "all_gather", "all_gather": "all_gather", "_allgather_base": "all_gather",
    "allgather_into_tensor_coalesced": "all_gather", "all_gather_into_tensor": "all_gather",
    "allgather_coalesced": "all_gather",
    "reduce_scatter": "reduce_scatter", "_reduce_scatter_base": "reduce_scatter",
    "reduce_scatter_tensor": "reduce_scatter", "reduce_scatter_tensor_coalesced": "reduce_scatter",
    "all_to_all": "all_to_all", "alltoall": "all_to_all", "alltoall_base": "all_to_all",
    "all_to_allv": "all_to_all", "alltoallv": "all_to_all",
    "broadcast": "broadcast", "reduce": "reduce", "send": "send", "recv": "recv",
    "gather": "gather", "scatter": "scatter", "barrier": "barrier", "wait": "wait",
}


def collective_kind(name):
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    for prefix in ("c10d::", "nccl:", "gloo:"):
        key = key.removeprefix(prefix)
    return _KIND.get(key.rstrip("_"), _KIND.get(key))


def bus_factor(kind, n):
    """busbw / algbw for a collective over n ranks (NCCL-tests); None when n is unknown."""
    if kind in ("broadcast", "reduce", "send", "recv", "gather", "scatter"):
        return 1.0
    if n is None or n < 1:
        return None
    if kind == "all_reduce":
        return 2.0 * (n - 1) / n
    if kind in ("all_gather", "reduce_scatter", "all_to_all"):
        return (n - 1) / n
    return None


def collective_cost(kind, in_nelems, out_nelems, group_size, type_str, note=None):
    if kind in ("barrier", "wait"):
        return OpCost(flops=None, bytes=0.0, dtype=None, family="comm", comm_bytes=0.0, note=kind)
    size = dtype_bytes(type_str)
    elems = {"all_gather": out_nelems, "reduce_scatter": in_nelems}.get(kind, in_nelems)
    if elems is None:
        elems = out_nelems if kind != "reduce_scatter" else None
    s = None if size is None or elems is None else elems * size
    n = int(group_size) if group_size is not None else None
    return OpCost(flops=None, bytes=s, dtype=compute_dtype(type_str), family="comm", comm_bytes=s,
                  algbw_factor=1.0 if s is not None else None, busbw_factor=bus_factor(kind, n), note=note)


@register("record_param_comms", "nccl:all_reduce", "nccl:all_gather", "nccl:reduce_scatter",
          "nccl:broadcast", "nccl:all_to_all", "nccl:send", "nccl:recv", family="comm")
def record_param_comms_bytes(a):
    """Collective args from extra: collective, in_msg_nelems, out_msg_nelems, group_size, comm_dtype."""
    e = a.extra
    kind = collective_kind(e.get("collective"))
    if kind is None:
        return None
    t = comm_type(e.get("comm_dtype")) or (a.type(0) if a.is_tensor(0) else None)
    return collective_cost(kind, finite_or_none(e.get("in_msg_nelems")), finite_or_none(e.get("out_msg_nelems")),
                           finite_or_none(e.get("group_size")), t)


def _c10d(kind, i_in, i_out):
    def c10d_collective_bytes(a):
        e = a.extra
        ins, outs = a.tensor_list(i_in), a.tensor_list(i_out) if i_out is not None else None
        n_in = sum(numel(s) for s in ins) if ins else (numel(a.shape(i_in)) if a.shape(i_in) is not None else None)
        n_out = None
        if i_out is not None:
            n_out = sum(numel(s) for s in outs) if outs else (
                numel(a.shape(i_out)) if a.shape(i_out) is not None else None)
        t = comm_type(e.get("comm_dtype")) or next((a.type(i) for i in (i_in, i_out or 0) if a.is_tensor(i)), None)
        res = collective_cost(kind, finite_or_none(e.get("in_msg_nelems")) or n_in, finite_or_none(e.get("out_msg_nelems")) or n_out,
                              finite_or_none(e.get("group_size")), t,
                              note=None if t else "TensorList dtype not recorded")
        return res
    c10d_collective_bytes.__doc__ = f"c10d {kind}: message size from the tensor shapes (or extra)."
    return c10d_collective_bytes


# c10d op schemas: allreduce_(tensors, ...), allgather_(output_tensors, input_tensors, ...),
# _allgather_base_(output, input, ...), reduce_scatter_(outputs, inputs, ...),
# _reduce_scatter_base_(output, input, ...), alltoall_base_(output, input, ...), broadcast_(tensors, ...)
register("c10d::allreduce_", "c10d::allreduce_coalesced_", family="comm")(_c10d("all_reduce", 0, None))
register("c10d::broadcast_", family="comm")(_c10d("broadcast", 0, None))
register("c10d::reduce_", family="comm")(_c10d("reduce", 0, None))
register("c10d::send", family="comm")(_c10d("send", 0, None))
register("c10d::recv_", family="comm")(_c10d("recv", 0, None))
register("c10d::_allgather_base_", "c10d::allgather_", "c10d::allgather_into_tensor_coalesced_",
         family="comm")(_c10d("all_gather", 1, 0))
register("c10d::_reduce_scatter_base_", "c10d::reduce_scatter_", "c10d::reduce_scatter_tensor_coalesced_",
         family="comm")(_c10d("reduce_scatter", 1, 0))
register("c10d::alltoall_base_", "c10d::alltoall_", family="comm")(_c10d("all_to_all", 1, 0))


@register("triton_", family="other")
def inductor_launch_cost(a):
    """Inductor Triton launch (`triton_poi_/red_/per_/tem_…`): kernel_flop / kernel_num_gb (GB = 1e9
    bytes) when recorded (source 'inductor'); else bytes = every tensor argument read once
    (outputs are among the arguments: an upper bound of 1x traffic, flops None)."""
    e = a.extra
    flop, gb = finite_or_none(e.get("kernel_flop")), finite_or_none(e.get("kernel_num_gb"))
    idx = a.tensor_idx()
    t = a.type(idx[0]) if idx else None
    if flop is not None or gb is not None:
        return OpCost(flops=flop, bytes=None if gb is None else gb * 1e9, dtype=compute_dtype(t),
                      source="inductor")
    if not idx:
        return None
    return OpCost(flops=None, bytes=float(sum(a.nbytes(i) for i in idx)), dtype=compute_dtype(t),
                  source="estimate", note="bytes from launch argument shapes")

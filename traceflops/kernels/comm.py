"""Collectives (Inductor/Triton launches: inductor.py).

Collectives (family 'comm', flops None). `comm_bytes` is S, the per-rank message size the
NCCL-tests use: all_reduce / broadcast / reduce / send / recv: the buffer; all_gather: the
gathered output; reduce_scatter: the full input; all_to_all: the full buffer.
algbw = S * algbw_factor / time (algbw_factor is 1), busbw = algbw * busbw_factor with
all_reduce 2(n-1)/n, all_gather / reduce_scatter / all_to_all (n-1)/n, others 1.
`bytes` is set to S as well (the bytes a rank moves over the link, not DRAM traffic).
"""
from __future__ import annotations

import re

# Collective op and record names -> kind. Spellings of every layer PyTorch records (names.md §1a): c10d ops, the
# `Collective name` arg, backend record_functions (`nccl:_all_gather_base`, `nccl:send 0->1`), functional
# collectives (`_c10d_functional::`, torch 2.1-2.2 `c10d_functional::`), symmetric memory (`symm_mem::`), and the
# serving stacks' custom all-reduce ops. `nccl:coalesced` (the end of a coalescing group) and `batch_p2p_ops`
# (mixed sends and receives) have no single kind.
_KIND = {
    "allreduce": "all_reduce", "all_reduce": "all_reduce", "allreduce_coalesced": "all_reduce",
    "all_reduce_coalesced": "all_reduce", "sparse_all_reduce": "all_reduce",
    "allgather": "all_gather", "all_gather": "all_gather", "_allgather_base": "all_gather",
    "_all_gather_base": "all_gather", "allgather_into_tensor_coalesced": "all_gather",
    "all_gather_into_tensor": "all_gather", "all_gather_into_tensor_out": "all_gather",
    "all_gather_into_tensor_coalesced": "all_gather", "allgather_coalesced": "all_gather",
    "reduce_scatter": "reduce_scatter", "_reduce_scatter_base": "reduce_scatter",
    "reduce_scatter_tensor": "reduce_scatter", "reduce_scatter_tensor_coalesced": "reduce_scatter",
    "reduce_scatter_tensor_out": "reduce_scatter",
    "all_to_all": "all_to_all", "alltoall": "all_to_all", "alltoall_base": "all_to_all",
    "all_to_allv": "all_to_all", "alltoallv": "all_to_all", "all_to_all_single": "all_to_all",
    "shard_dim_alltoall": "all_to_all",
    "broadcast": "broadcast", "_broadcast_oop": "broadcast", "reduce": "reduce", "_reduce_oop": "reduce",
    "send": "send", "isend": "send", "recv": "recv", "irecv": "recv", "recv_any_source": "recv",
    "recvanysource": "recv", "gather": "gather", "scatter": "scatter", "barrier": "barrier",
    "monitored_barrier": "barrier", "all_reduce_barrier": "barrier", "wait": "wait", "wait_tensor": "wait",
    # symm_mem (torch 2.13 schemas)
    "one_shot_all_reduce": "all_reduce", "one_shot_all_reduce_out": "all_reduce",
    "one_shot_all_reduce_copy": "all_reduce", "one_shot_all_reduce_copy_out": "all_reduce",
    "two_shot_all_reduce": "all_reduce", "two_shot_all_reduce_out": "all_reduce",
    "multimem_all_reduce": "all_reduce", "multimem_one_shot_all_reduce": "all_reduce",
    "multimem_one_shot_all_reduce_out": "all_reduce", "multimem_one_shot_reduce_out": "reduce",
    "multimem_all_gather_out": "all_gather", "reduce_scatter_out": "reduce_scatter",
    "nccl_reduce_scatter_offset": "reduce_scatter", "all_to_all_vdev": "all_to_all",
    "all_to_all_vdev_2d": "all_to_all", "all_to_all_vdev_2d_offset": "all_to_all", "nvshmem_all_to_all": "all_to_all",
    "nvshmem_broadcast": "broadcast", "nvshmem_put": "send", "nvshmem_put_with_signal": "send",
    "nccl_put": "send", "nccl_put_signal": "send", "nvshmem_get": "recv", "nccl_get": "recv",
    "tile_reduce": "reduce", "multi_root_tile_reduce": "reduce",
    # vLLM / SGLang custom all-reduce ops
    "outplace_all_reduce": "all_reduce", "inplace_all_reduce": "all_reduce",
}
# namespaces whose ops are collectives; any other `ns::name` (aten::gather, aten::scatter) is not. The serving
# stacks' namespaces hold other ops too: only their all-reduce / all-gather / reduce-scatter / all-to-all count
_COMM_NS = {"c10d", "_c10d_functional", "c10d_functional", "_c10d_functional_autograd", "symm_mem", "_dtensor"}
_SERVING_NS = {"_c_custom_ar", "vllm", "sgl_kernel"}
_SERVING_KINDS = {"all_reduce", "all_gather", "reduce_scatter", "all_to_all"}
_BACKENDS = {"nccl", "gloo", "ucc", "xccl", "mpi", "rccl"}
_PEERS = re.compile(r"\s+\d+\s*(?:->|<-)\s*\d+\s*$")  # `nccl:send 0->1`, `nccl:recv 1<-0`


def collective_kind(name):
    """all_reduce / all_gather / reduce_scatter / all_to_all / broadcast / reduce / send / recv / gather /
    scatter / barrier / wait for a collective's op or record name; None when it is not one (or has no kind)."""
    if not isinstance(name, str):
        return None
    key = _PEERS.sub("", name.strip()).lower()
    ns, sep, rest = key.partition("::")
    if sep:
        if ns not in _COMM_NS | _SERVING_NS:
            return None
        key = rest
    else:
        backend, sep, rest = key.partition(":")
        if sep and backend in _BACKENDS:
            key = rest.strip()
    kind = _KIND.get(key, _KIND.get(key.rstrip("_")))
    return None if ns in _SERVING_NS and kind not in _SERVING_KINDS else kind


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

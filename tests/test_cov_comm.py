"""kernels/comm.py: collective kinds and NCCL-tests bus factors; collectives.py's message/cost and named-args
record_param_comms costing built on them.

The truth is the NCCL-tests performance doc (PERFORMANCE.md): S is the per-rank message (all_gather: the
gathered output, reduce_scatter: the full input, the others the buffer); busbw = algbw * 2(n-1)/n for
all_reduce, (n-1)/n for all_gather, reduce_scatter and all_to_all, 1 for broadcast/reduce/send/recv.
"""
import pytest

from traceflops.kernels.args import Args
from traceflops.kernels.collectives import cost, message, record_param_comms_bytes
from traceflops.kernels.comm import bus_factor, collective_kind


@pytest.mark.parametrize("kind,n,want", [
    ("all_reduce", 8, 2 * 7 / 8), ("all_gather", 8, 7 / 8), ("reduce_scatter", 4, 3 / 4), ("all_to_all", 2, 1 / 2),
    ("broadcast", None, 1.0), ("send", None, 1.0), ("gather", 3, 1.0),
    ("all_reduce", None, None), ("all_reduce", 0, None),  # group size unknown
    ("barrier", 8, None), ("wait", 8, None),               # no message, no bus bandwidth
])
def test_bus_factor(kind, n, want):
    assert bus_factor(kind, n) == want


@pytest.mark.parametrize("name,kind", [
    ("nccl:send 0->1", "send"), ("nccl:recv 1<-0", "recv"), ("gloo:all_gather", "all_gather"),
    ("c10d::allreduce_", "all_reduce"), ("_c10d_functional::reduce_scatter_tensor", "reduce_scatter"),
    ("vllm::outplace_all_reduce", "all_reduce"), ("symm_mem::two_shot_all_reduce_", "all_reduce"),
    ("vllm::silu_and_mul", None),   # a serving namespace's non-collective op
    ("aten::gather", None), ("record_param_comms", None), (None, None), ("nccl:coalesced", None),
])
def test_collective_kind(name, kind):
    assert collective_kind(name) == kind


def collective_cost(kind, n_in, n_out, w, type_str):
    return cost(kind, message(kind, n_in, n_out, w), type_str, w)


def test_collective_cost_message_sizes():
    c = collective_cost("all_reduce", 1024, 1024, 8, "float")
    assert c.comm_bytes == c.bytes == 4096 and c.algbw_factor == 1.0 and c.busbw_factor == 2 * 7 / 8
    assert c.flops is None and c.family == "comm" and c.dtype == "fp32"
    c = collective_cost("all_gather", 128, 1024, 8.0, "c10::BFloat16")  # the gathered output
    assert c.comm_bytes == 1024 * 2 and c.busbw_factor == 7 / 8
    c = collective_cost("reduce_scatter", 1024, 128, 8, "c10::BFloat16")  # the full input
    assert c.comm_bytes == 1024 * 2
    # an input count missing: the buffer from the output
    assert collective_cost("all_reduce", None, 256, 4, "float").comm_bytes == 1024
    # reduce_scatter's S is the input, output * group size (reduce_scatter_tensor requires input = w * output);
    # all_gather's the gathered output, input * group size: unknown only without the group size
    c = collective_cost("reduce_scatter", None, 128, 8, "float")
    assert c.comm_bytes == 128 * 8 * 4 and c.algbw_factor == 1.0 and c.busbw_factor == 7 / 8
    c = collective_cost("reduce_scatter", None, 128, None, "float")
    assert c.comm_bytes is None and c.algbw_factor is None and c.busbw_factor is None
    assert collective_cost("all_gather", 128, None, 8, "float").comm_bytes == 128 * 8 * 4
    assert collective_cost("all_gather", 128, None, None, "float").comm_bytes is None
    c = collective_cost("send", 64, None, None, "weird")  # dtype unknown
    assert c.comm_bytes is None and c.note == "message dtype not recorded"
    c = collective_cost("barrier", None, None, 8, None)
    assert c.bytes == c.comm_bytes == 0 and c.note == "barrier"


def test_record_param_comms_named_args():
    # torch >= 2.1 record_param_comms: Collective name, In/Out msg nelems, Group size, dtype
    a = Args([[1024]], ["float"], [""], {"collective": "allreduce", "in_msg_nelems": 1024.0,
                                          "out_msg_nelems": 1024.0, "group_size": 4.0, "comm_dtype": "BFloat16"})
    c = record_param_comms_bytes(a)
    assert c.comm_bytes == 1024 * 2 and c.busbw_factor == 2 * 3 / 4
    # no dtype arg: the input tensor's
    a = Args([[512]], ["c10::Half"], [""], {"collective": "_allgather_base", "in_msg_nelems": 512.0,
                                             "out_msg_nelems": 2048.0, "group_size": 4.0})
    c = record_param_comms_bytes(a)
    assert c.comm_bytes == 2048 * 2 and c.busbw_factor == 3 / 4
    assert record_param_comms_bytes(Args([[4]], ["float"], [""], {"collective": "not_a_collective"})) is None

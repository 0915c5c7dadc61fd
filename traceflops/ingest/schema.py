"""msgspec schemas: decode Kineto events straight into typed structs, skipping every key no stage needs.

Scalars are typed `Any` because real traces put ints, floats and strings ("inf", "N/A") in the same
field; one strict type would fail a whole chunk.  Nested lists we only need as text (shapes, grid) stay
`msgspec.Raw`: a zero-copy slice of the input that we decode once per distinct value, not once per event.
"""
from typing import Any, Literal, Optional

import msgspec
from msgspec import Raw, field


MISSING = Raw(b"")  # a Raw arg the event lacks: raw_text joins slices without checking each for None


class Args(msgspec.Struct, gc=False):  # plain values only: no GC tracking needed
    external_id: Any = field(name="External id", default=None)
    external_id_old: Any = field(name="external id", default=None)
    correlation: Any = None
    device: Any = None
    stream: Any = None
    grid: Raw = MISSING
    block: Raw = MISSING
    registers: Any = field(name="registers per thread", default=None)
    shared_memory: Any = field(name="shared memory", default=None)
    blocks_per_sm: Any = field(name="blocks per SM", default=None)
    warps_per_sm: Any = field(name="warps per SM", default=None)
    occupancy: Any = field(name="est. achieved occupancy %", default=None)
    bytes: Any = None
    graph_id: Any = field(name="graph id", default=None)
    graph_node_id: Any = field(name="graph node id", default=None)
    input_dims: Raw = field(name="Input Dims", default=MISSING)
    input_dims_old: Raw = field(name="Input dims", default=MISSING)
    input_types: Raw = field(name="Input type", default=MISSING)
    input_strides: Raw = field(name="Input Strides", default=MISSING)
    concrete: Raw = field(name="Concrete Inputs", default=MISSING)
    seq: Any = field(name="Sequence number", default=None)
    fwd_tid: Any = field(name="Fwd thread id", default=None)
    ev_idx: Any = field(name="Ev Idx", default=None)
    python_id: Any = field(name="Python id", default=None)
    python_parent_id: Any = field(name="Python parent id", default=None)
    kernel_flop: Any = None
    kernel_num_gb: Any = None
    kernel_hash: Any = None  # Inductor Triton launches: the kernel module's PyCodeCache key (cost/compiled.py)
    collective: Any = field(name="Collective name", default=None)
    in_msg_nelems: Any = field(name="In msg nelems", default=None)
    out_msg_nelems: Any = field(name="Out msg nelems", default=None)
    group_size: Any = field(name="Group size", default=None)
    comm_dtype: Any = field(name="dtype", default=None)
    kernel: Any = None  # ROCm launch calls name the kernel they launch (graph capture alignment needs it)
    name: Any = None  # process_name / thread_name metadata
    labels: Any = None


class _Envelope(msgspec.Struct, gc=False):  # no cycles: skip GC tracking of millions of events
    ph: Any = None
    cat: Any = None
    name: Any = None
    pid: Any = None
    tid: Any = None
    ts: Any = None
    dur: Any = None
    id: Any = None
    bp: Any = None


class Event(_Envelope, gc=False):
    args: Optional[Args] = None


class Head(_Envelope, gc=False):
    """An event with its args left raw: the streaming reader decodes args only for events a table keeps."""
    args: Raw = None


# Every phase of the Chrome trace format, and the categories Kineto and older PyTorch profilers write.
PHASES = ("X", "B", "E", "i", "I", "C", "b", "n", "e", "s", "t", "f", "P", "O", "N", "D", "M", "V", "v", "R", "c")
CATEGORIES = (
    "cpu_op", "user_annotation", "gpu_user_annotation", "python_function", "kernel", "gpu_memcpy", "gpu_memset",
    "cuda_runtime", "cuda_driver", "cuda_sync", "cuda_profiler_range", "cpu_instant_event", "overhead", "Trace",
    "ac2g", "fwdbwd", "async", "async_gpu", "async_cpu_to_gpu", "forward_backward", "cpu_to_cuda",
    "external_correlation", "collective_comm", "gpu_pm_counter", "glow_runtime", "hpu_op", "hip_runtime",
    "xpu_runtime", "xpu_driver", "mtia_runtime", "mtia_ccp_events", "mtia_insight", "privateuse1_runtime",
    "privateuse1_driver", "runtime", "memcpy", "memset", "operator", "Operator", "Runtime", "Kernel", "Memcpy",
    "Memset",
)


class KnownHead(Head, gc=False):
    """A Head whose ph and cat are one of the known values. msgspec hands back the one interned string per
    Literal value instead of a fresh string per event, so routing hashes each value once and frees nothing.
    A chunk with any other value fails validation and is decoded as plain Heads."""
    ph: Optional[Literal[PHASES]] = None
    cat: Optional[Literal[CATEGORIES]] = None


EVENT_LIST = msgspec.json.Decoder(list[Event])
ONE_EVENT = msgspec.json.Decoder(Event)
TOP_OBJECT = msgspec.json.Decoder(dict[str, Raw])
TOP_ARRAY = msgspec.json.Decoder(list[Raw])

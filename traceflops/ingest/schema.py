"""msgspec schemas: decode Kineto events straight into typed structs, skipping every key no stage needs.

Scalars are typed `Any` because real traces put ints, floats and strings ("inf", "N/A") in the same
field; one strict type would fail a whole chunk.  Nested lists we only need as text (shapes, grid) stay
`msgspec.Raw`: a zero-copy slice of the input that we decode once per distinct value, not once per event.
"""
from typing import Any, Optional

import msgspec
from msgspec import Raw, field


class Args(msgspec.Struct, gc=False):  # plain values only: no GC tracking needed
    external_id: Any = field(name="External id", default=None)
    external_id_old: Any = field(name="external id", default=None)
    correlation: Any = None
    device: Any = None
    stream: Any = None
    grid: Raw = None
    block: Raw = None
    registers: Any = field(name="registers per thread", default=None)
    shared_memory: Any = field(name="shared memory", default=None)
    blocks_per_sm: Any = field(name="blocks per SM", default=None)
    warps_per_sm: Any = field(name="warps per SM", default=None)
    occupancy: Any = field(name="est. achieved occupancy %", default=None)
    bytes: Any = None
    graph_id: Any = field(name="graph id", default=None)
    graph_node_id: Any = field(name="graph node id", default=None)
    input_dims: Raw = field(name="Input Dims", default=None)
    input_dims_old: Raw = field(name="Input dims", default=None)
    input_types: Raw = field(name="Input type", default=None)
    input_strides: Raw = field(name="Input Strides", default=None)
    concrete: Raw = field(name="Concrete Inputs", default=None)
    seq: Any = field(name="Sequence number", default=None)
    fwd_tid: Any = field(name="Fwd thread id", default=None)
    ev_idx: Any = field(name="Ev Idx", default=None)
    python_id: Any = field(name="Python id", default=None)
    python_parent_id: Any = field(name="Python parent id", default=None)
    kernel_flop: Any = None
    kernel_num_gb: Any = None
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


EVENT_LIST = msgspec.json.Decoder(list[Event])
ONE_EVENT = msgspec.json.Decoder(Event)
TOP_OBJECT = msgspec.json.Decoder(dict[str, Raw])
TOP_ARRAY = msgspec.json.Decoder(list[Raw])

"""Collective ops: the message size S of every op name PyTorch has recorded a collective under.

S is the NCCL-tests per-rank message (comm.py: all_reduce / broadcast / reduce / send / recv / all_to_all the
buffer, all_gather the gathered output, reduce_scatter the full input); `bytes` = S, FLOPs None. A collective
is recorded at up to four nested levels, outermost first: a functional op (`_c10d_functional::*`, legacy
`c10d_functional::*`), the c10d op (`c10d::allreduce_`), `record_param_comms`, and the backend annotation
(`nccl:all_reduce`, `gloo:all_gather`, ...) around the kernel launch. All are costed (the innermost with a cost
is kept, as for any family) and each reads what its level records:

* the annotation records the collective's input tensors (its Input Dims carry the message even where the c10d
  op records its TensorList as `[]`); an all_gather's gathered size needs the group size, which comes from an
  enclosing op (`Group size`, the functional op's `group_size`, the c10d op's output tensor);
* `record_param_comms`: the named args (torch >= 2.1: `Collective name`, `In/Out msg nelems`, `Group size`,
  `dtype`), else its positional inputs (1.13-2.0: `(InputTensors, seq, pg, rank, colName, inSplit, outSplit)`);
* c10d / functional ops: their tensor arguments (schemas in /work/research/names.md §1a), the group size from
  `group_size` / `ranks` args where the schema has them.
"""
from __future__ import annotations

from ..numbers import finite_or_none
from .args import Args, numel
from .comm import bus_factor, collective_kind
from .dtypes import comm_type, compute_dtype, dtype_bytes
from .registry import OpCost, register

BACKENDS = ("nccl", "gloo", "ucc", "xccl", "mpi")
# backend annotation suffix -> kind (ProcessGroup*.cpp profilingTitle values)
ANNOTATIONS = {
    "all_reduce": "all_reduce", "all_reduce_coalesced": "all_reduce", "all_reduce_barrier": "all_reduce",
    "sparse_all_reduce": "all_reduce", "broadcast": "broadcast", "_broadcast_oop": "broadcast",
    "reduce": "reduce", "_reduce_oop": "reduce", "all_gather": "all_gather", "_all_gather_base": "all_gather",
    "all_gather_into_tensor_coalesced": "all_gather", "allgather_into_tensor_coalesced": "all_gather",
    "reduce_scatter": "reduce_scatter", "_reduce_scatter_base": "reduce_scatter",
    "reduce_scatter_tensor_coalesced": "reduce_scatter", "all_to_all": "all_to_all", "gather": "gather",
    "scatter": "scatter", "send": "send", "recv": "recv", "recvAnySource": "recv", "barrier": "barrier",
}
COMM_EXTRA = ("collective", "in_msg_nelems", "out_msg_nelems", "group_size", "comm_dtype")


def _elems(a, i):
    """(elements, type) of input i: a tensor, or a TensorList with recorded shapes; (None, None) otherwise."""
    if i is None or i >= len(a.dims):
        return None, None
    s = a.shape(i)
    if s is not None:
        return numel(s), a.type(i)
    shapes = a.tensor_list(i)
    if shapes:
        return sum(numel(x) for x in shapes), None
    return None, None


def message(kind, n_in, n_out, w):
    """S in elements from the input/output element counts and the group size (None where not decidable)."""
    if kind in ("barrier", "wait"):
        return 0
    if kind == "all_gather":
        return n_out if n_out is not None else (n_in * w if n_in is not None and w else None)
    if kind == "reduce_scatter":
        return n_in if n_in is not None else (n_out * w if n_out is not None and w else None)
    return n_in if n_in is not None else n_out


def cost(kind, elems, type_str, w, note=None):
    if kind in ("barrier", "wait"):  # a synchronization: no message
        return OpCost(flops=None, bytes=0.0, dtype=None, family="comm", comm_bytes=0.0, note=kind)
    size = dtype_bytes(type_str)
    s = None if elems is None or size is None else float(elems * size)
    notes = [x for x in (note, None if s is not None or elems is None else "message dtype not recorded",
                         None if elems is not None or kind in ("barrier", "wait") else "message size not recorded")
             if x]
    return OpCost(flops=None, bytes=s, dtype=compute_dtype(type_str), family="comm", comm_bytes=s,
                  algbw_factor=1.0 if s is not None else None, busbw_factor=bus_factor(kind, w),
                  note="; ".join(notes) or None)


def _ancestor_info(a):
    """(group size, gathered/scattered element counts, dtype) that enclosing collective ops record."""
    w = out = inp = t = None
    for anc in a.extra.get("ancestors", ()):
        name, dims, types, conc = anc[:4]
        ex = anc[4] if len(anc) > 4 and isinstance(anc[4], dict) else {}
        w = w or finite_or_none(ex.get("group_size"))
        out = out or finite_or_none(ex.get("out_msg_nelems"))
        inp = inp or finite_or_none(ex.get("in_msg_nelems"))
        t = t or comm_type(ex.get("comm_dtype"))
        spec = OP_SCHEMAS.get(name)
        if spec is not None:
            b = Args(dims, types, conc)
            w = w or _group_size(b, spec)
            o, ot = _elems(b, spec[2])
            i, it = _elems(b, spec[1])
            out, inp, t = out or o, inp or i, t or ot or it
    return w, out, inp, t


def _group_size(a, spec):
    g = spec[3] if len(spec) > 3 else None
    if g is None:
        return None
    v = a.int(g)
    if v is None:
        ranks = a.ints(g)
        v = len(ranks) if ranks else None
    return v if v and v > 0 else None


def annotation_cost(a, kind):
    """Backend annotation (`nccl:all_reduce`, `gloo:all_gather`, `nccl:send 0->1`): Input Dims are the
    collective's inputs (all of them summed: a coalesced group records each); the group size of an all_gather
    or reduce_scatter comes from the enclosing ops (`Group size`, a functional op's group_size, the c10d op's
    output tensor)."""
    n, t = 0, None
    for i in range(len(a.dims)):
        e, et = _elems(a, i)
        if e is not None:
            n += e
            t = t or et
    w, out, inp, at = _ancestor_info(a)
    t = t or at
    if n == 0 and not any(a.shape(i) is not None for i in range(len(a.dims))):
        n = None
    if kind == "all_gather":
        s = out if out is not None else (n * w if n is not None and w else None)
    elif kind == "reduce_scatter":
        s = n if n is not None else inp
    else:
        s = message(kind, n if n is not None else inp, out, w)
    if w is None and out is not None and n and kind in ("all_gather",):
        w = round(out / n)
    return cost(kind, s, t, w)


def _annotation(kind):
    def backend_annotation_bytes(a):
        return annotation_cost(a, kind)
    backend_annotation_bytes.__doc__ = f"{kind} backend annotation: " + annotation_cost.__doc__
    return backend_annotation_bytes


for _suffix, _kind in ANNOTATIONS.items():
    register(*[f"{b}:{_suffix}" for b in BACKENDS], family="comm", context="ancestors")(_annotation(_kind))


# Dispatcher collectives: name -> (kind, input position, output position, group-size position)
OP_SCHEMAS: dict[str, tuple] = {
    "c10d::allreduce_": ("all_reduce", 0, None), "c10d::allreduce_coalesced_": ("all_reduce", 0, None),
    "c10d::broadcast_": ("broadcast", 0, None), "c10d::reduce_": ("reduce", 0, None),
    "c10d::send": ("send", 0, None), "c10d::recv_": ("recv", 0, None), "c10d::recv_any_source_": ("recv", 0, None),
    "c10d::allgather_": ("all_gather", 1, 0), "c10d::_allgather_base_": ("all_gather", 1, 0),
    "c10d::allgather_coalesced_": ("all_gather", 1, 0), "c10d::allgather_into_tensor_coalesced_": ("all_gather", 1, 0),
    "c10d::reduce_scatter_": ("reduce_scatter", 1, 0), "c10d::_reduce_scatter_base_": ("reduce_scatter", 1, 0),
    "c10d::reduce_scatter_tensor_coalesced_": ("reduce_scatter", 1, 0),
    "c10d::alltoall_base_": ("all_to_all", 1, 0), "c10d::alltoall_": ("all_to_all", 1, 0),
    "c10d::gather_": ("gather", 1, 0), "c10d::scatter_": ("scatter", 1, 0),
    "c10d::barrier": ("barrier", None, None), "c10d::monitored_barrier_": ("barrier", None, None),
    # functional collectives (torch >= 2.3; the autograd variants share the schemas)
    **{f"{ns}::{op}": spec for ns in ("_c10d_functional", "_c10d_functional_autograd") for op, spec in {
        "all_reduce": ("all_reduce", 0, None), "all_reduce_": ("all_reduce", 0, None),
        "all_reduce_coalesced": ("all_reduce", 0, None), "all_reduce_coalesced_": ("all_reduce", 0, None),
        "all_gather_into_tensor": ("all_gather", 0, None, 1), "all_gather_into_tensor_out": ("all_gather", 0, 3, 1),
        "all_gather_into_tensor_coalesced": ("all_gather", 0, None, 1),
        "reduce_scatter_tensor": ("reduce_scatter", 0, None, 2), "reduce_scatter_tensor_out": ("reduce_scatter", 0, 4, 2),
        "reduce_scatter_tensor_coalesced": ("reduce_scatter", 0, None, 2),
        "all_to_all_single": ("all_to_all", 0, None), "broadcast": ("broadcast", 0, None),
        "broadcast_": ("broadcast", 0, None), "isend": ("send", 0, None), "irecv": ("recv", 0, None),
        "batch_p2p_ops": ("send", 3, None), "wait_tensor": ("wait", None, None)}.items()},
    # legacy functional namespace (torch 2.1-2.2): (…, str tag, int[] ranks, int group_size)
    "c10d_functional::all_reduce": ("all_reduce", 0, None, 4),
    "c10d_functional::all_reduce_coalesced": ("all_reduce", 0, None, 4),
    "c10d_functional::all_gather_into_tensor": ("all_gather", 0, None, 3),
    "c10d_functional::all_gather_into_tensor_coalesced": ("all_gather", 0, None, 3),
    "c10d_functional::reduce_scatter_tensor": ("reduce_scatter", 0, None, 4),
    "c10d_functional::reduce_scatter_tensor_coalesced": ("reduce_scatter", 0, None, 4),
    "c10d_functional::all_to_all_single": ("all_to_all", 0, None, 5),
    "c10d_functional::broadcast": ("broadcast", 0, None, 4), "c10d_functional::wait_tensor": ("wait", None, None),
    "_dtensor::shard_dim_alltoall": ("all_to_all", 0, None),
    # symmetric memory: the message is arg0 (one_shot_all_reduce_copy: the local input, arg1)
    "symm_mem::one_shot_all_reduce": ("all_reduce", 0, None), "symm_mem::one_shot_all_reduce_out": ("all_reduce", 0, None),
    "symm_mem::one_shot_all_reduce_copy": ("all_reduce", 1, None),
    "symm_mem::one_shot_all_reduce_copy_out": ("all_reduce", 1, None),
    "symm_mem::two_shot_all_reduce_": ("all_reduce", 0, None), "symm_mem::two_shot_all_reduce_out": ("all_reduce", 0, None),
    "symm_mem::multimem_all_reduce_": ("all_reduce", 0, None),
    "symm_mem::multimem_one_shot_all_reduce": ("all_reduce", 0, None),
    "symm_mem::multimem_one_shot_all_reduce_out": ("all_reduce", 0, None),
    "symm_mem::multimem_one_shot_reduce_out": ("reduce", 0, None),
    "symm_mem::multimem_all_gather_out": ("all_gather", 0, 2), "symm_mem::reduce_scatter_out": ("reduce_scatter", 0, 3),
    "symm_mem::nvshmem_all_to_all": ("all_to_all", 0, 1), "symm_mem::nvshmem_broadcast": ("broadcast", 0, None),
    # serving stacks' custom all-reduce: (handle, inp, out, ...)
    "_C_custom_ar::all_reduce": ("all_reduce", 1, None), "_C_custom_ar::all_reduce_reg": ("all_reduce", 1, None),
    "_C_custom_ar::all_reduce_unreg": ("all_reduce", 1, None), "_C_custom_ar::qr_all_reduce": ("all_reduce", 1, None),
    "sgl_kernel::all_reduce": ("all_reduce", 1, None), "sgl_kernel::mscclpp_allreduce": ("all_reduce", 1, None),
    "vllm::all_reduce": ("all_reduce", 0, None), "vllm::reduce_scatter": ("reduce_scatter", 0, None, 2),
    "vllm::all_gather": ("all_gather", 0, None, 2),
}


def _dispatcher(name, spec):
    kind, i_in, i_out = spec[:3]

    def collective_op_bytes(a):
        e = a.extra
        n_in, t_in = _elems(a, i_in)
        n_out, t_out = _elems(a, i_out)
        w = _group_size(a, spec) or finite_or_none(e.get("group_size"))
        t = t_in or t_out or comm_type(e.get("comm_dtype"))
        if t is None and (n_in is not None or n_out is not None):
            # a TensorList message: its dtype may sit on another tensor argument
            t = next((a.type(j) for j in a.tensor_idx()), None)
        if n_out is not None and n_in and not w and kind in ("all_gather", "reduce_scatter"):
            w = round(max(n_out, n_in) / min(n_out, n_in)) or None
        note = "TensorList shapes not recorded" if (n_in is None and n_out is None and kind not in ("barrier", "wait")
                                                    and (a.list_not_recorded(i_in or 0))) else None
        return cost(kind, message(kind, n_in, n_out, w), t, w, note=note)
    collective_op_bytes.__doc__ = (f"{name}: {kind}; message from input {i_in}" +
                                   (f" / output {i_out}" if i_out is not None else "") + " (S per NCCL-tests).")
    return collective_op_bytes


for _name, _spec in OP_SCHEMAS.items():
    register(_name, family="comm")(_dispatcher(_name, _spec))


@register("record_param_comms", family="comm", context="ancestors")
def record_param_comms_bytes(a):
    """record_param_comms: the named args where recorded (torch >= 2.1: Collective name, In/Out msg nelems, Group
    size, dtype); else the positional generation 1.13-2.0 `(InputTensors, seq, pg, rank, colName, inSplit,
    outSplit)`: the message is input 0 and the kind the enclosing c10d op's (or a colName in Concrete Inputs)."""
    e = a.extra
    kind = collective_kind(e.get("collective"))
    if kind is None:
        kind = next((k for k in (collective_kind(a.raw(i)) for i in range(len(a.concrete))) if k), None)
    if kind is None:
        kind = next((OP_SCHEMAS[x[0]][0] for x in e.get("ancestors", ()) if x[0] in OP_SCHEMAS), None)
    if kind is None:
        return None
    w, out, inp, at = _ancestor_info(a)
    w = finite_or_none(e.get("group_size")) or w
    n_in = finite_or_none(e.get("in_msg_nelems"))
    n_out = finite_or_none(e.get("out_msg_nelems"))
    t = comm_type(e.get("comm_dtype"))
    n0, t0 = _elems(a, 0)
    if n_in is None and n_out is None:
        t = t or t0
        n_in = n0 if n0 is not None else inp
        n_out = out
    # named counts without a dtype arg: the message's dtype is that of the tensor it records as input 0
    t = t or at or t0
    note = "TensorList shapes not recorded" if n_in is None and n_out is None and a.list_not_recorded(0) else None
    return cost(kind, message(kind, n_in, n_out, int(w) if w else None), t, int(w) if w else None, note=note)

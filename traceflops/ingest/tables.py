"""Decoded events → typed tables, one per kind of event, built column by column.

Events are routed by category once; each table is then built with one list comprehension per column,
so no per-event dict is ever made and events nobody needs (python stacks, counters, instants) are dropped.
"""
import pandas as pd

from .columns import floats, ints, keys, names, raw_text, stream_of

GPU_KINDS = {"kernel": "kernel", "gpu_memcpy": "memcpy", "memcpy": "memcpy", "gpu_memset": "memset", "memset": "memset"}
OP_CATS = {"cpu_op", "operator", "user_annotation"}
LAUNCH_CATS = {"cuda_runtime", "cuda_driver", "runtime", "xpu_runtime", "xpu_driver", "privateuse1_runtime",
               "privateuse1_driver", "mtia_runtime", "hip_runtime"}
FLOW_CATS = {"ac2g", "async", "async_gpu", "async_cpu_to_gpu", "fwdbwd", "forward_backward", "cpu_to_cuda"}
MODULE_PREFIXES = ("nn.Module:", "nn.Optimizer:")


class Router:
    """Collects decoded events per table across chunks."""

    def __init__(self, keep_python=False):
        self.keep_python = keep_python
        self.gpu, self.ops, self.launch, self.gpu_ann, self.flows, self.python, self.meta = [], [], [], [], [], [], []
        self.counts = {}

    def add(self, events):
        for e in events:
            cat = e.cat.lower() if isinstance(e.cat, str) else None
            ph = e.ph
            if ph == "X" or ph is None:
                if cat in GPU_KINDS:
                    self.gpu.append(e)
                elif cat in OP_CATS or (cat is None and e.pid == "CPU functions"):
                    self.ops.append(e)
                elif cat in LAUNCH_CATS:
                    self.launch.append(e)
                elif cat == "gpu_user_annotation":
                    self.gpu_ann.append(e)
                elif cat == "python_function":
                    if self.keep_python or (isinstance(e.name, str) and e.name.startswith(MODULE_PREFIXES)):
                        self.python.append(e)
                else:
                    self.counts[cat] = self.counts.get(cat, 0) + 1
            elif ph in ("s", "f", "t") and cat in FLOW_CATS:
                self.flows.append(e)
            elif ph == "M":
                self.meta.append(e)


def _args(evs):
    return [e.args for e in evs]


def _arg(args, field):
    return [None if a is None else getattr(a, field) for a in args]


def _first(a, b):
    return [x if x is not None else y for x, y in zip(a, b)]


def _common(evs):
    return {
        "name": pd.array(names([e.name for e in evs]), dtype="str"),
        "pid": pd.array(keys([e.pid for e in evs]), dtype="str"),
        "tid": pd.array(keys([e.tid for e in evs]), dtype="str"),
        "ts_us": floats([e.ts for e in evs]),
        "dur_us": floats([e.dur for e in evs]),
    }


def _comm(args):
    return {
        "collective": _arg(args, "collective"),
        "in_msg_nelems": floats(_arg(args, "in_msg_nelems")),
        "out_msg_nelems": floats(_arg(args, "out_msg_nelems")),
        "group_size": floats(_arg(args, "group_size")),
        "comm_dtype": _arg(args, "comm_dtype"),
    }


def gpu_table(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["kind"] = pd.array([GPU_KINDS[e.cat.lower()] for e in evs], dtype="str")
    dev = _arg(args, "device")
    cols["device"] = ints(_first(dev, [e.pid if isinstance(e.pid, int) else None for e in evs]))
    cols["stream"] = ints(_first(_arg(args, "stream"), stream_of([e.tid for e in evs])))
    cols["correlation"] = ints(_arg(args, "correlation"))
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    cols["grid"] = raw_text(_arg(args, "grid"))
    cols["block"] = raw_text(_arg(args, "block"))
    for c in ("registers", "shared_memory", "blocks_per_sm", "warps_per_sm", "occupancy", "bytes"):
        cols[c] = floats(_arg(args, c))
    cols["arg_bytes"] = cols.pop("bytes")
    cols["graph_id"] = ints(_arg(args, "graph_id"))
    cols["graph_node_id"] = ints(_arg(args, "graph_node_id"))
    cols.update(_comm(args))
    return pd.DataFrame(cols)


def op_table(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["cat"] = pd.array(["user_annotation" if (e.cat or "").lower() == "user_annotation" else "cpu_op" for e in evs], dtype="str")
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    cols["seq"] = ints(_arg(args, "seq"))
    cols["fwd_tid"] = ints(_arg(args, "fwd_tid"))
    cols["ev_idx"] = ints(_arg(args, "ev_idx"))
    cols["input_dims"] = raw_text(_first(_arg(args, "input_dims"), _arg(args, "input_dims_old")))
    cols["input_types"] = raw_text(_arg(args, "input_types"))
    cols["concrete_inputs"] = raw_text(_arg(args, "concrete"))
    cols["kernel_flop"] = floats(_arg(args, "kernel_flop"))
    cols["kernel_num_gb"] = floats(_arg(args, "kernel_num_gb"))
    cols.update(_comm(args))
    return pd.DataFrame(cols)


def launch_table(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["cat"] = [e.cat for e in evs]
    cols["correlation"] = ints(_arg(args, "correlation"))
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    return pd.DataFrame(cols)


def gpu_annotation_table(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["device"] = ints(_first(_arg(args, "device"), [e.pid if isinstance(e.pid, int) else None for e in evs]))
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    return pd.DataFrame(cols)


def flow_table(evs):
    return pd.DataFrame({
        "cat": pd.array([e.cat.lower() for e in evs], dtype="str"),
        "ph": pd.array([e.ph for e in evs], dtype="str"),
        "id": pd.array(keys([e.id for e in evs]), dtype="str"),
        "pid": pd.array(keys([e.pid for e in evs]), dtype="str"),
        "tid": pd.array(keys([e.tid for e in evs]), dtype="str"),
        "ts_us": floats([e.ts for e in evs]),
    })


def python_table(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["python_id"] = ints(_arg(args, "python_id"))
    cols["parent_id"] = ints(_arg(args, "python_parent_id"))
    return pd.DataFrame(cols)


def process_names(meta_events):
    """{pid: label} from process_name / process_labels metadata (GPU pids say 'GPU n')."""
    out = {}
    for e in meta_events:
        if e.name in ("process_name", "process_labels") and e.args is not None:
            label = e.args.labels if e.name == "process_labels" else e.args.name
            if isinstance(label, str):
                out.setdefault(str(e.pid), label)
    return out


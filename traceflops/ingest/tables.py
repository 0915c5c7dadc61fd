"""Decoded events → typed tables, one per kind of event, built column by column.

Events are routed by category once; each table is then built with one list comprehension per column,
so no per-event dict is ever made and events nobody needs (python stacks, counters, instants) are dropped.
"""
from operator import attrgetter

import numpy as np
import pandas as pd

from .columns import floats, ints, keys, names, raw_text, stream_of
from .schema import Args

_get_args, _get_name, _get_pid, _get_tid, _get_ts, _get_dur = map(attrgetter, ("args", "name", "pid", "tid", "ts", "dur"))

GPU_KINDS = {"kernel": "kernel", "gpu_memcpy": "memcpy", "memcpy": "memcpy", "gpu_memset": "memset", "memset": "memset"}
OP_CATS = {"cpu_op", "operator", "user_annotation"}
LAUNCH_CATS = {"cuda_runtime", "cuda_driver", "runtime", "xpu_runtime", "xpu_driver", "privateuse1_runtime",
               "privateuse1_driver", "mtia_runtime", "hip_runtime"}
FLOW_CATS = {"ac2g", "async", "async_gpu", "async_cpu_to_gpu", "fwdbwd", "forward_backward", "cpu_to_cuda"}
MODULE_PREFIXES = ("nn.Module:", "nn.Optimizer:")


class Router:
    """Routes decoded events per table; `flush()` turns what it holds into column pieces.

    Columnizing chunk by chunk (then dropping the structs) keeps memory at one chunk of Python objects;
    `tables()` concatenates the pieces and applies the final dtypes once, so the result is the same as
    building each table from all of its events at once.
    """

    def __init__(self, keep_python=False):
        self.keep_python = keep_python
        self.gpu, self.ops, self.launch, self.gpu_ann, self.flows, self.python, self.meta = [], [], [], [], [], [], []
        self.counts = {}
        self._pieces = {k: [] for k in _BUILDERS}
        self._meta_all = []

    def wants(self, e):
        """Would `add` keep this event? (`e` needs ph, cat, name, pid only; used to skip decoding args.)"""
        cat = e.cat.lower() if isinstance(e.cat, str) else None
        ph = e.ph
        if ph == "X" or ph is None:
            if cat == "python_function":
                return self.keep_python or (isinstance(e.name, str) and e.name.startswith(MODULE_PREFIXES))
            return True  # kept or counted in `skipped_categories` by add()
        return (ph in ("s", "f", "t") and cat in FLOW_CATS) or ph == "M"

    def flush(self):
        for key, (build, _) in _BUILDERS.items():
            evs = getattr(self, key)
            if evs:
                self._pieces[key].append(build(evs))
                setattr(self, key, [])
        self._meta_all.extend(self.meta)
        self.meta = []

    def tables(self):
        self.flush()
        out = {key: finish(self._pieces[key]) for key, (_, finish) in _BUILDERS.items()}
        self._pieces = {k: [] for k in _BUILDERS}
        out["processes"] = process_names(self._meta_all)
        return out

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


_EMPTY_ARGS = Args()


def _args(evs):
    return [_EMPTY_ARGS if a is None else a for a in map(_get_args, evs)]


def _arg(args, field):
    return list(map(attrgetter(field), args))  # C loop; a missing args reads as all-None fields


def _first(a, b):
    return [x if x is not None else y for x, y in zip(a, b)]


STR = "str"  # columns kept as Python lists per chunk and made pd.array(dtype="str") once at the end


def _common(evs):
    return {
        "name": names(list(map(_get_name, evs))),
        "pid": keys(list(map(_get_pid, evs))),
        "tid": keys(list(map(_get_tid, evs))),
        "ts_us": floats(list(map(_get_ts, evs))),
        # Kineto clamps negative durations to 0 since 2022; older or foreign writers may not.
        "dur_us": np.clip(floats(list(map(_get_dur, evs))), 0, None),
    }


def _comm(args):
    return {
        "collective": _arg(args, "collective"),
        "in_msg_nelems": floats(_arg(args, "in_msg_nelems")),
        "out_msg_nelems": floats(_arg(args, "out_msg_nelems")),
        "group_size": floats(_arg(args, "group_size")),
        "comm_dtype": _arg(args, "comm_dtype"),
    }


def gpu_columns(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["kind"] = [GPU_KINDS[e.cat.lower()] for e in evs]
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
    return cols


def op_columns(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["cat"] = ["user_annotation" if (e.cat or "").lower() == "user_annotation" else "cpu_op" for e in evs]
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
    return cols


def launch_columns(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["cat"] = [e.cat for e in evs]
    cols["correlation"] = ints(_arg(args, "correlation"))
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    return cols


def gpu_annotation_columns(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["device"] = ints(_first(_arg(args, "device"), [e.pid if isinstance(e.pid, int) else None for e in evs]))
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    return cols


def flow_columns(evs):
    return {
        "cat": [e.cat.lower() for e in evs],
        "ph": [e.ph for e in evs],
        "id": keys([e.id for e in evs]),
        "pid": keys([e.pid for e in evs]),
        "tid": keys([e.tid for e in evs]),
        "ts_us": floats([e.ts for e in evs]),
    }


def python_columns(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["python_id"] = ints(_arg(args, "python_id"))
    cols["parent_id"] = ints(_arg(args, "python_parent_id"))
    return cols


_STR_COLS = {"name", "pid", "tid", "kind", "id", "ph"}
_STR_COLS_BY = {"ops": {"cat"}, "flows": {"cat"}}


def _finisher(key, build):
    str_cols = _STR_COLS | _STR_COLS_BY.get(key, set())

    def finish(pieces):
        if not pieces:
            return _frame(build([]), str_cols)
        if len(pieces) == 1:
            return _frame(pieces[0], str_cols)
        cols = {}
        for c in pieces[0]:
            parts = [p[c] for p in pieces]
            if isinstance(parts[0], list):
                cols[c] = [v for part in parts for v in part]
            elif isinstance(parts[0], np.ndarray):
                cols[c] = np.concatenate(parts)
            else:  # pandas extension arrays (Int64)
                cols[c] = type(parts[0])._concat_same_type(parts)
        return _frame(cols, str_cols)
    return finish


def _frame(cols, str_cols):
    for c in str_cols:
        if c in cols:
            cols[c] = pd.array(cols[c], dtype="str")
    return pd.DataFrame(cols)


def gpu_table(evs):
    return _finisher("gpu", gpu_columns)([gpu_columns(evs)])


def op_table(evs):
    return _finisher("ops", op_columns)([op_columns(evs)])


def launch_table(evs):
    return _finisher("launch", launch_columns)([launch_columns(evs)])


def gpu_annotation_table(evs):
    return _finisher("gpu_ann", gpu_annotation_columns)([gpu_annotation_columns(evs)])


def flow_table(evs):
    return _finisher("flows", flow_columns)([flow_columns(evs)])


def python_table(evs):
    return _finisher("python", python_columns)([python_columns(evs)])


def process_names(meta_events):
    """{pid: label} from process_name / process_labels metadata (GPU pids say 'GPU n')."""
    out = {}
    for e in meta_events:
        if e.name in ("process_name", "process_labels") and e.args is not None:
            label = e.args.labels if e.name == "process_labels" else e.args.name
            if isinstance(label, str):
                out.setdefault(str(e.pid), label)
    return out



_COLUMNS = {"gpu": gpu_columns, "ops": op_columns, "launch": launch_columns, "gpu_ann": gpu_annotation_columns,
            "flows": flow_columns, "python": python_columns}
_BUILDERS = {k: (b, _finisher(k, b)) for k, b in _COLUMNS.items()}

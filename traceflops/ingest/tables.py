"""Decoded events → typed tables, one per kind of event, built column by column.

Events are routed by category once; each table is then built with one list comprehension per column,
so no per-event dict is ever made and events nobody needs (python stacks, counters, instants) are dropped.
"""
from itertools import compress, repeat
from operator import attrgetter

import numpy as np
import pandas as pd
import pyarrow as pa

from .columns import floats, has_zero_stride, ints, keys, names, raw_json, size_of, stream_of, text_column
from .schema import Args

_get_args, _get_name, _get_pid, _get_tid, _get_ts, _get_dur = map(attrgetter, ("args", "name", "pid", "tid", "ts", "dur"))

GPU_KINDS = {"kernel": "kernel", "gpu_memcpy": "memcpy", "memcpy": "memcpy", "gpu_memset": "memset", "memset": "memset"}
# On the GPU timeline but no work: synchronization waits and event records (Kineto's cuda_sync, cuda_event). They
# are counted with the other untabled categories (Trace.skipped_categories) and named in the summary's warnings.
GPU_MARKERS = {"cuda_sync", "cuda_event"}
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
        self.bad_args = 0  # kept events whose args were not an object
        self._pieces = {k: [] for k in _BUILDERS}
        self._meta_all = []

    def flush(self):
        for key, (build, _) in _BUILDERS.items():
            evs = getattr(self, key)
            if evs:
                self._pieces[key].append(_text_to_arrow(build(evs), key))
                setattr(self, key, [])
        self._meta_all.extend(self.meta)
        self.meta = []

    def state(self):
        """What this router has read, as picklable pieces (a parallel worker's result; see `absorb`)."""
        self.flush()
        return {"pieces": self._pieces, "counts": self.counts, "meta": self._meta_all,
                "bad_args": self.bad_args}

    def absorb(self, state):
        """Append what another router read from the events after ours (in file order)."""
        self.flush()
        for key, pieces in state["pieces"].items():
            self._pieces[key].extend(pieces)
        for cat, n in state["counts"].items():
            self.counts[cat] = self.counts.get(cat, 0) + n
        self._meta_all.extend(state["meta"])
        self.bad_args += state["bad_args"]

    def tables(self):
        self.flush()
        out = {key: finish(self._pieces[key]) for key, (_, finish) in _BUILDERS.items()}
        self._pieces = {k: [] for k in _BUILDERS}
        out["processes"] = process_names(self._meta_all)
        return out

    def add(self, events):
        """Route events by (ph, cat): each distinct pair is classified once and events are split with numpy
        masks; only python_function names and cat-less events' pids are looked at one by one."""
        n = len(events)
        if not n:
            return
        phs, cats = list(map(_get_ph, events)), list(map(_get_cat, events))
        try:
            code = _codes(phs, cats)
        except TypeError:  # an unhashable ph/cat (damaged trace): route one by one
            return self._add_slow(events)
        for row in np.flatnonzero(code == _CHECK_PID).tolist():
            code[row] = _OPS if events[row].pid == "CPU functions" else _COUNT
        for row in np.flatnonzero(code == _COUNT).tolist():  # in event order, as _add_slow counts
            cat = cats[row].lower() if isinstance(cats[row], str) else None
            self.counts[cat] = self.counts.get(cat, 0) + 1
        for c, key in enumerate(_ROUTE_KEYS):
            sel = code == c
            if sel.any():
                getattr(self, key).extend(compress(events, sel.tolist()))
        sel = code == _PYTHON
        if sel.any():
            evs = list(compress(events, sel.tolist()))
            if not self.keep_python:
                evs = compress(evs, _is_module(list(map(_get_name, evs))))
            self.python.extend(evs)

    def _add_slow(self, events):
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


_GPU, _OPS, _LAUNCH, _GPU_ANN, _FLOWS, _META, _PYTHON, _COUNT, _CHECK_PID, _DROP = range(10)
_ROUTE_KEYS = ("gpu", "ops", "launch", "gpu_ann", "flows", "meta")  # codes 0..5 go straight to these lists
_get_ph, _get_cat = attrgetter("ph"), attrgetter("cat")


def _route_of(ph, cat):
    """Where events with this (ph, cat) go; the same decisions as Router._add_slow."""
    cat = cat.lower() if isinstance(cat, str) else None
    if ph == "X" or ph is None:
        if cat in GPU_KINDS:
            return _GPU
        if cat in OP_CATS:
            return _OPS
        if cat is None:
            return _CHECK_PID  # an op if its pid is "CPU functions", else counted
        if cat in LAUNCH_CATS:
            return _LAUNCH
        if cat == "gpu_user_annotation":
            return _GPU_ANN
        if cat == "python_function":
            return _PYTHON
        return _COUNT
    if ph in ("s", "f", "t") and cat in FLOW_CATS:
        return _FLOWS
    if ph == "M":
        return _META
    return _DROP


def _codes(phs, cats):
    """Route code per event: each distinct ph and cat is looked up once (raises TypeError if unhashable)."""
    up, uc = dict.fromkeys(phs), dict.fromkeys(cats)
    table = np.array([[_route_of(p, c) for c in uc] for p in up], dtype=np.int64)
    for d in (up, uc):
        for i, k in enumerate(d):
            d[k] = i
    n = len(phs)
    return table[np.fromiter(map(up.__getitem__, phs), np.int64, n), np.fromiter(map(uc.__getitem__, cats), np.int64, n)]


def _is_module(names):
    try:
        return list(map(str.startswith, names, repeat(MODULE_PREFIXES)))
    except TypeError:
        return [isinstance(x, str) and x.startswith(MODULE_PREFIXES) for x in names]


_EMPTY_ARGS = Args()


def _args(evs):
    return [_EMPTY_ARGS if a is None else a for a in map(_get_args, evs)]


def _arg(args, field):
    return list(map(attrgetter(field), args))  # C loop; a missing args reads as all-None fields


def _first(a, b):
    return [x if x is not None else y for x, y in zip(a, b)]


def _first_raw(a, b):
    return [x if x else y for x, y in zip(a, b)]  # an empty Raw is a missing key (schema.MISSING)


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
    cols["grid"], _, cols["blocks"] = raw_json(_arg(args, "grid"), derive=size_of)
    cols["block"], _, cols["threads"] = raw_json(_arg(args, "block"), derive=size_of)
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
    # text (canonical JSON: outputs and grouping keys) and the decoded lists every later stage reads
    cols["input_dims"], cols["shapes"] = raw_json(_first_raw(_arg(args, "input_dims"), _arg(args, "input_dims_old")))
    cols["input_types"], cols["types"] = raw_json(_arg(args, "input_types"))
    # kept only where an input is an expand()ed view: other strides change no byte count, and a column of
    # mostly None keeps a gigabyte trace's ops table small
    cols["input_strides"], cols["strides"] = raw_json(_arg(args, "input_strides"), keep=has_zero_stride)
    cols["concrete_inputs"], cols["concrete"] = raw_json(_arg(args, "concrete"))
    cols["kernel_flop"] = floats(_arg(args, "kernel_flop"))
    cols["kernel_num_gb"] = floats(_arg(args, "kernel_num_gb"))
    cols["kernel_hash"] = [h if isinstance(h, str) and h else None for h in _arg(args, "kernel_hash")]
    cols.update(_comm(args))
    return cols


def launch_columns(evs):
    args = _args(evs)
    cols = _common(evs)
    cols["cat"] = [e.cat for e in evs]
    cols["correlation"] = ints(_arg(args, "correlation"))
    cols["external_id"] = ints(_first(_arg(args, "external_id"), _arg(args, "external_id_old")))
    cols["kernel"] = [k if isinstance(k, str) and k else None for k in _arg(args, "kernel")]
    cols["grid"], _, cols["blocks"] = raw_json(_arg(args, "grid"), derive=size_of)
    cols["block"], _, cols["threads"] = raw_json(_arg(args, "block"), derive=size_of)
    cols["graph_id"] = ints(_arg(args, "graph_id"))
    cols["graph_node_id"] = ints(_arg(args, "graph_node_id"))
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
_STR_COLS_BY = {"ops": {"cat", "kernel_hash"}, "flows": {"cat"}, "launch": {"kernel"}}


def _str_cols(key):
    return _STR_COLS | _STR_COLS_BY.get(key, set())


def _text_to_arrow(cols, key):
    """Text columns of a chunk's piece as Arrow strings now, so the chunk's Python strings are freed."""
    for c in _str_cols(key) & cols.keys():
        if isinstance(cols[c], pa.Array):
            continue
        try:
            cols[c] = pa.array(cols[c], type=pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
            pass  # not all str/None: left to pd.array(dtype="str") in _frame
    return cols


def _finisher(key, build):
    str_cols = _str_cols(key)

    def finish(pieces):
        if not pieces:
            return _frame(build([]), str_cols)
        if len(pieces) == 1:
            return _frame(pieces[0], str_cols)
        cols = {}
        for c in list(pieces[0]):
            parts = [p.pop(c) for p in pieces]  # each column's pieces are freed once it is joined
            if any(isinstance(x, pa.Array) for x in parts) and not all(isinstance(x, pa.Array) for x in parts):
                parts = [x.to_pylist() if isinstance(x, pa.Array) else x for x in parts]
            if isinstance(parts[0], pa.Array):
                cols[c] = pa.concat_arrays(parts)
            elif isinstance(parts[0], list):
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
            if isinstance(cols[c], list):
                try:
                    cols[c] = pa.array(cols[c], type=pa.large_string())
                except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
                    pass
            cols[c] = pd.array(cols[c], dtype="str")
    for c, v in cols.items():
        if isinstance(v, np.ndarray) and v.dtype == object:  # JSON text (shapes, types, grid): a few distinct values
            cols[c] = text_column(v)
    return pd.DataFrame(cols, copy=False)  # the columns are fresh: no consolidating copy


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

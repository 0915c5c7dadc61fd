"""analysis: wires the stages (ingest → link → kernels → attribute → roofline → mfu) into one object.

The CLI, the report, compare and notebooks all go through `analyze()` and `Analysis`.
"""
import contextlib
import gc
import json

import numpy as np
import pandas as pd

from . import devices as devmod
from .attribute import attribute, mark_recompute, one_level
from .breakdown import breakdown
from .forks import release_heap
from .graphs import attribute_graphs, finish_graphs, graph_summary
from .ingest import DEFAULT_MAX_BYTES, read_trace
from .ingest.columns import text_column
from .kernels import classify_kernels, cost_ops
from .launch_shapes import cost_from_launch_shapes
from .link import link
from .mfu import mfu_summary, union_length
from .numbers import finite_or_none
from .phases import kernel_phases
from .roofline import compute_dtype, roofline

KERNEL_COLUMNS = [
    "name", "kind", "ts_us", "dur_us", "device", "stream", "correlation", "op", "link", "link_reason",
    "category", "dtype", "flops", "recompute_flops", "bytes", "flops_source", "flops_reason",
    "achieved_tflops", "achieved_tbps", "intensity", "peak_tflops", "peak_tbps", "ceiling_tflops",
    "pct_of_ceiling", "bound", "roof_flag", "time_at_ceiling_us", "time_lost_us", "tensor_core", "library",
    "family", "launch_op", "module", "annotation", "step", "input_dims", "input_types", "grid", "block",
    "waves", "tail_efficiency", "sm_fill", "phase", "external_id", "graph_id", "graph_node_id", "collective", "op_row",
    "graph_match", "graph_confidence",
]
OP_COLUMNS = [
    "name", "cat", "ts_us", "dur_us", "pid", "tid", "input_dims", "input_types", "concrete_inputs",
    "flops", "recompute_flops", "bytes", "dtype", "family", "flops_source", "counted_below", "recompute", "external_id",
    "seq", "parent", "module", "annotation", "step",
]


class Analysis:
    """The result of analyzing one trace: `kernels` and `ops` DataFrames and a `summary` dict."""

    def __init__(self, trace, kernels, ops, summary, tables):
        self.trace = trace
        self.kernels = kernels
        self.ops = ops
        self.summary = summary
        self.tables = tables  # per-step, per-module and timeline MFU tables

    @property
    def name(self):
        return self.trace.name

    def __repr__(self):
        return f"<Analysis {self.name}: {len(self.kernels)} GPU events, {len(self.ops)} ops>"

    def write(self, outdir, report=True):
        """Write kernels.parquet, ops.parquet, summary.json (and report.html) into `outdir`."""
        from .outputs import write_outputs
        with gc_paused():
            return write_outputs(self, outdir, report=report)

    def reconcile(self, config, tokens, phase="prefill", seq=None, context=None):
        """Analytic FLOPs of a HF config for `tokens` next to the FLOPs counted here, by op family."""
        from .reconcile import reconcile
        return reconcile(self, config, tokens, phase=phase, seq=seq, context=context)

    # Plot helpers live in traceflops.report; imported lazily so the core does not need plotly.
    def roofline_figure(self, **kw):
        from .report import plots
        return plots.roofline_figure(self, **kw)

    def breakdown_figure(self, by="category", **kw):
        from .report import plots
        return plots.breakdown_figure(self, by=by, **kw)

    def timeline_figure(self, **kw):
        from .report import plots
        return plots.timeline_figure(self, **kw)


def analyze(path, *, device=None, device_file=None, max_bytes=DEFAULT_MAX_BYTES, progress=None, capture=None,
            workers=None):
    """Analyze one trace file. `device` overrides the GPU (catalog key or name).

    `workers`: processes decoding the file (default: the cores available, for a large file; see forks.py).

    `capture`: a graph-capture trace of the same run; replayed graph kernels take its kernels' costs.
    """
    catalog = devmod.load_catalog(device_file)
    if device is not None:
        devmod.find_device(device, catalog)  # fail early on an unknown --device
    with gc_paused():
        trace = read_trace(path, max_bytes=max_bytes, progress=progress, workers=workers)
        a = analyze_trace(trace, catalog=catalog, device=device, capture=capture)
    release_heap()  # the stages' temporaries: give their freed heap back before the outputs are written
    return a


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: the pipeline allocates millions of short-lived objects and builds
    no reference cycles worth collecting, and the collector's passes over them cost 0.7 s (6%) of a 505 MB
    run (docs/performance.md). Reference counting still frees everything; the previous state is restored."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def analyze_trace(trace, *, catalog=None, device=None, capture=None):
    catalog = catalog or devmod.load_catalog()
    gpu, ops = link(trace)
    costs = mark_recompute(ops, one_level(ops, cost_ops(ops))) if len(ops) else _empty_costs()
    classes = classify_kernels(gpu["name"])
    k = gpu.copy(deep=False)  # copy-on-write (pandas 3): no data copied, and gpu stays as it was
    att = attribute(gpu, ops, costs, classes)
    for c in att.columns:
        k[c] = att[c].to_numpy()
    for c in ("category", "library", "tensor_core", "name_dtype", "is_helper"):
        k[c] = classes[c].to_numpy()
    k.loc[k["kind"] == "memcpy", "category"] = "copy"
    k.loc[k["kind"] == "memset", "category"] = "memset"
    cost_from_launch_shapes(k, ops, trace.launches)
    # Replayed graph kernels take the costs of the kernel they replay (before dtype and roofline).
    graph_info = attribute_graphs(k, ops, capture=capture, catalog=catalog, device=device)
    comm = _comm_bytes(k)
    k["bytes"] = np.where(k["bytes"].isna() & np.isfinite(comm), comm, k["bytes"])
    k["dtype"], k["tensor_core"] = compute_dtype(k["dtype"].to_numpy(object), k["name_dtype"].to_numpy(object),
                                                 k["category"].to_numpy(object), k["tensor_core"].to_numpy(object))
    used = sorted(int(d) for d in k["device"].dropna().unique())
    devices, dev_warnings = devmod.resolve_devices(trace.meta.get("deviceProperties"), used, catalog, override=device)
    k = roofline(k, devices, _props_by_id(trace.meta))
    lo = k["launch_op"].to_numpy()
    k["launch_op"] = np.where(lo >= 0, ops["name"].to_numpy(object)[np.clip(lo, 0, None)] if len(ops) else None, None)
    row = k["op_row"].to_numpy()
    for c in ("input_dims", "input_types"):
        k[c] = np.where(row >= 0, ops[c].to_numpy(object)[np.clip(row, 0, None)] if len(ops) else None, None)
    k = finish_graphs(k)  # shapes of replayed kernels
    k["phase"] = kernel_phases(k, ops)
    kernels = k[[c for c in KERNEL_COLUMNS if c in k.columns]].reset_index(drop=True)
    op_table = ops.copy(deep=False)  # copy-on-write: no data copied
    for c in ("flops", "recompute_flops", "bytes", "dtype", "family", "flops_source", "counted_below", "recompute"):
        v = costs[c].to_numpy() if c in costs else None
        op_table[c] = text_column(v, op_table.index) if getattr(v, "dtype", None) == object else v
    op_table = op_table[[c for c in OP_COLUMNS if c in op_table.columns]]
    mfu, tables = mfu_summary(kernels, op_table)
    summary = build_summary(trace, kernels, op_table, devices, dev_warnings, mfu)
    summary["graphs"] = graph_summary(kernels, graph_info)
    summary["breakdown"], tables["breakdown"] = breakdown(kernels, op_table, trace.launches)
    return Analysis(trace, kernels, op_table, summary, tables)


def _props_by_id(meta):
    """deviceProperties entries keyed by their device id (the list position when an entry has none)."""
    props = {}
    for i, p in enumerate(meta.get("deviceProperties") or []):
        if isinstance(p, dict):
            try:
                props[int(p.get("id", i))] = p
            except (TypeError, ValueError):
                pass
    return props


def _empty_costs():
    return pd.DataFrame({c: pd.Series(dtype=float) for c in ("flops", "recompute_flops", "bytes")}).assign(
        dtype=None, family=None, flops_source=None, cost_note=None, counted_below=False)


def _comm_bytes(k):
    """Bytes a collective kernel moves per rank, from its own collective args (NCCL kernels launched by
    `record_param_comms` carry them), costed by the same registry formula as the op."""
    out = np.full(len(k), np.nan)
    if "collective" not in k:
        return out
    rows = np.flatnonzero(k["collective"].notna().to_numpy(bool))
    if len(rows):
        cols = ["collective", "in_msg_nelems", "out_msg_nelems", "group_size", "comm_dtype"]
        sub = k.iloc[rows][cols].assign(name="record_param_comms")
        out[rows] = cost_ops(sub)["bytes"].to_numpy(float)
    return out


def _device_block(spec):
    if spec is None:
        return None
    return {"name": spec.name, "key": spec.key, "peak_tflops": dict(spec.peak_tflops), "peak_tbps": spec.peak_tbps,
            "source": spec.source}


def build_summary(trace, k, ops, devices, dev_warnings, mfu):
    kern = k.loc[k["kind"] == "kernel", ["link", "link_reason"]]  # narrow: a full-width take copies every column
    dur = k["dur_us"].fillna(0)
    busy = sum(union_length(g["ts_us"].to_numpy(float), (g["ts_us"] + g["dur_us"].fillna(0)).to_numpy(float))
               for _, g in k.loc[k["ts_us"].notna(), ["device", "ts_us", "dur_us"]].groupby("device"))
    in_window = ~kern["link_reason"].fillna("").str.startswith("launched before the profiling window")
    linked = kern["link"] != "none"
    has_cost = (k["flops"].fillna(0) > 0) | k["bytes"].notna()
    total_time = float(dur.sum())
    shaped = k["input_dims"].notna() & (k["link"] != "none")
    by_cat = (pd.DataFrame({"cat": k["category"].fillna("other"), "t": dur, "c": has_cost})
              .groupby("cat").apply(lambda g: {"time_us": float(g["t"].sum()),
                                               "covered": float(g.loc[g["c"], "t"].sum() / g["t"].sum()) if g["t"].sum() > 0 else None},
                                    include_groups=False).to_dict())
    flags = k["roof_flag"].value_counts().to_dict()
    worst = (k.loc[k["roof_flag"].notna(), ["name", "op", "pct_of_ceiling", "roof_flag", "flops", "bytes", "dur_us"]]
             .sort_values("pct_of_ceiling", ascending=False).head(10))
    dev_ids = sorted(devices)
    first = next((devices[d] for d in dev_ids if devices[d] is not None), None)
    dist = trace.meta.get("distributedInfo") if isinstance(trace.meta.get("distributedInfo"), dict) else {}
    warnings = list(trace.warnings) + list(dev_warnings)
    if mfu.get("kernels_with_flops_but_no_peak"):
        warnings.append(f"{mfu['kernels_with_flops_but_no_peak']} kernel(s) have FLOPs but no known peak (unknown device or dtype); left out of MFU")
    summary = {
        "trace": {"name": trace.name, "path": trace.path, "rank": dist.get("rank"), "world_size": dist.get("world_size"),
                  "format": "relative-ns" if "baseTimeNanoseconds" in trace.meta else "absolute-us"},
        "device": _device_block(first) or {"name": None, "peak_tflops": {}, "peak_tbps": None},
        "devices": {str(d): _device_block(devices[d]) for d in dev_ids} if len(dev_ids) > 1 else None,
        "totals": {
            "gpu_events": int(len(k)), "kernels": int(len(kern)),
            "memcpy": int((k["kind"] == "memcpy").sum()), "memset": int((k["kind"] == "memset").sum()),
            "cpu_ops": int(len(ops)), "gpu_time_us": total_time, "gpu_busy_us": float(busy),
            "flops": float(np.nansum(k["flops"].to_numpy(float))), "bytes": float(np.nansum(k["bytes"].to_numpy(float))),
            "op_flops": float(np.nansum(ops["flops"].to_numpy(float))) if len(ops) else 0.0,
            "op_recompute_flops": float(np.nansum(ops["recompute_flops"].to_numpy(float))) if len(ops) else 0.0,
        },
        "coverage": {
            "link_rate": finite_or_none(linked.mean()) if len(kern) else None,
            "link_rate_in_window": finite_or_none(linked[in_window].mean()) if in_window.any() else None,
            "links": kern["link"].value_counts().to_dict(),
            "unlinked_reasons": kern.loc[~linked, "link_reason"].value_counts().to_dict(),
            "time_with_flops_or_bytes": finite_or_none(dur[has_cost].sum() / total_time) if total_time > 0 else None,
            "time_with_flops_or_bytes_of_shaped": finite_or_none(dur[has_cost & shaped].sum() / dur[shaped].sum()) if dur[shaped].sum() > 0 else None,
            "by_category": by_cat,
        },
        "roofline": {"suspect": int(flags.get("suspect", 0)), "cache_resident": int(flags.get("cache_resident", 0)),
                     "with_ceiling": int(k["ceiling_tflops"].notna().sum()),
                     "worst": json.loads(worst.to_json(orient="records"))},
        "mfu": mfu,
        "warnings": warnings,
    }
    return summary

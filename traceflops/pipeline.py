"""pipeline: the stages in order, nothing else.

    ingest (bytes → tables) → link (kernel → launch → op) → kernels (op shapes → FLOPs, bytes) → cost (op costs
    onto kernels; graph replay) → roofline (device → ceilings) → metrics (MFU, breakdown, summary) → Analysis

`analyze(path)` is what the CLI, the report, compare, the hook and notebooks go through.
"""
import numpy as np
import pandas as pd

from .analysis import Analysis
from .cost import attribute, collective_bytes, cost_from_launch_shapes, mark_recompute, one_level
from .cost.compiled import compiled_costs
from .cost.compiled_files import beside_trace, load_compiled
from .cost.compiled_replay import compiled_replays, compiled_summary
from .cost.multi_tensor import multi_tensor_bytes
from .cost.serving_attention import op_steps, step_attention
from .cost.graphs import attribute_graphs, capture_reference_rows, captured_launches, empty_reference, finish_graphs, graph_kernels
from .ingest import DEFAULT_MAX_BYTES, read_trace
from .ingest.columns import text_at, text_column
from .kernels import classify_kernels, cost_ops
from .kernels.fallback import reject_false_bounds
from .link import link
from .memory import gc_paused, release_heap
from .metrics import breakdown, build_summary, kernel_phases, mfu_summary
from .metrics.model_run import attribute_model, finish_model, model_run
from .metrics.serving import steps_summary
from .metrics.steps import serving_steps
from .outputs import schema
from .roofline import Devices, compute_dtype, roofline

KERNEL_COLUMNS = [f.name for f in schema.KERNELS]  # kernels.parquet, in order (docs/schema.md)
OP_COLUMNS = [f.name for f in schema.OPS]


def analyze(path, *, device=None, device_file=None, max_bytes=DEFAULT_MAX_BYTES, progress=None, capture=None,
            workers=None, devices=None, compiled=None, model=None, tp=None, ep=None, tokens=None, seq=None,
            phase="prefill", draft=None, accepted=None):
    """Analyze one trace file. `device` overrides the GPU (catalog key or name); `device_file` adds devices or
    measured ceilings; `devices` (a roofline.Devices) replaces both, for callers analyzing many traces.

    `workers`: processes decoding the file (default: the cores available, for a large file; see ingest/forks.py).

    `capture`: a graph-capture trace of the same run; replayed graph kernels take its kernels' costs.

    `compiled`: the run's Inductor output code (a folder or file, docs/compiled.md); default: the
    `<trace>.compiled/` folder the profiler hook saves beside the trace, when there is one (False: none).

    `model`: the model's HF config.json (a path or dict): kernels without shapes take the costs of the component
    they compute (docs/attribution.md), serving steps their model FLOPs, bytes, MFU and MBU (docs/serving.md);
    `tp`/`ep` (default: distributedInfo), `tokens`/`seq`/`phase` for traces without step annotations (then
    also the model-vs-trace reconciliation), `draft`/`accepted` for speculative decoding.
    """
    devices = devices or Devices.load(device, device_file)  # before the read: an unknown --device fails at once
    compiled = beside_trace(path) if compiled is None else compiled  # False: none, not even beside the trace
    code = load_compiled(compiled) if compiled else None  # before the read: a bad folder fails at once
    run = (model_run(model, tp=tp, ep=ep, tokens=tokens, seq=seq, phase=phase, draft=draft)
           if model is not None else None)  # before the read: a bad config or option fails at once
    with gc_paused():
        trace = read_trace(path, max_bytes=max_bytes, progress=progress, workers=workers)
        a = analyze_trace(trace, devices=devices, capture=capture, compiled=code, model=run)
        if run is not None:
            finish_model(a, run, accepted=accepted)
    release_heap()  # the stages' temporaries: give their freed heap back before the outputs are written
    return a


def op_costs(ops, gpu=None):
    """Each op's FLOPs and bytes, counted at one level of the op tree, recompute apart. With the linked `gpu`
    table, lower-bound bytes go only to ops that launch kernels themselves."""
    if not len(ops):
        return _empty_costs()
    if gpu is not None:
        launched = np.zeros(len(ops), dtype=bool)
        # a graph launch's kernels replay captured work: the op around the launch call does not describe it
        lo = gpu["launch_op_row"].to_numpy()[(gpu["kind"] == "kernel").to_numpy(bool) & (gpu["link"] != "graph").to_numpy(bool)]
        launched[lo[lo >= 0]] = True
        ops = ops.assign(launches_kernels=launched)
    return mark_recompute(ops, one_level(ops, cost_ops(ops)))


def kernel_costs(trace, gpu, ops, costs):
    """The kernel table with each kernel's share of its op's costs and its name's class (before graph replay)."""
    classes = classify_kernels(gpu["name"])
    k = gpu.copy(deep=False)  # copy-on-write (pandas 3): no data copied, and gpu stays as it was
    att = attribute(gpu, ops, costs, classes)
    for c in att.columns:  # Series on the same index: text columns stay as they are, not converted and back
        k[c] = att[c]
    for c in ("category", "library", "tensor_core", "name_dtype", "is_helper"):
        k[c] = classes[c]
    k.loc[k["kind"] == "memcpy", "category"] = "copy"
    k.loc[k["kind"] == "memset", "category"] = "memset"
    cost_from_launch_shapes(k, ops, trace.launches)
    multi_tensor_bytes(k)  # fused/foreach optimizer kernels: bytes from their grid
    return k


def finish_costs(k):
    """Collective kernels' own bytes, and the dtype and math mode each kernel computes in."""
    comm = collective_bytes(k)
    own = k["bytes"].isna().to_numpy(bool) & np.isfinite(comm)
    k["bytes"] = np.where(own, comm, k["bytes"])
    if "bytes_source" in k:
        k["bytes_source"] = np.where(own, "formula", k["bytes_source"].to_numpy(object))
    k["dtype"], k["tensor_core"] = compute_dtype(k["dtype"].to_numpy(object), k["name_dtype"].to_numpy(object),
                                                 k["category"].to_numpy(object), k["tensor_core"].to_numpy(object))


def capture_reference(capture, max_bytes=DEFAULT_MAX_BYTES):
    """Per-kernel costs of every kernel captured in a capture trace (a path or a read Trace), in capture order:
    the capture trace goes through the same link and cost stages as any trace."""
    trace = capture if hasattr(capture, "gpu") else read_trace(capture, max_bytes=max_bytes)
    with_captured, la = captured_launches(trace)
    if with_captured is None:
        return empty_reference()
    gpu, ops = link(with_captured)
    k = kernel_costs(with_captured, gpu, ops, op_costs(ops, gpu))
    attribute_graphs(k, ops)
    finish_costs(k)
    _op_shapes(k, ops)
    k = finish_graphs(k)
    return capture_reference_rows(k, len(trace.gpu), la)


def analyze_trace(trace, *, devices=None, capture=None, compiled=None, model=None):
    """The stages after ingest, on a read Trace; `compiled`: a cost.compiled_files.CompiledCode or None;
    `model`: a metrics.serving.ModelRun (model_run) or None."""
    devices = devices or Devices.load()
    gpu, ops = link(trace)
    steps, kernel_step = serving_steps(gpu, ops, trace.launches, trace.gpu_annotations)  # engine step annotations
    costs = op_costs(ops, gpu)
    step_attention(ops, costs, op_steps(ops, gpu, kernel_step), steps)  # attention from the step's Σsq·sk
    compiled_info = compiled_costs(ops, costs, compiled) if compiled is not None else None
    k = kernel_costs(trace, gpu, ops, costs)
    # Replayed graph kernels take the costs of the kernel they replay (before dtype and roofline).
    ref = None
    if capture is not None and graph_kernels(k).any():
        ref = (getattr(capture, "path", capture), capture_reference(capture))
    graph_info = attribute_graphs(k, ops, ref)
    compiled_replays(k, ops, compiled, graph_info)
    model_info = attribute_model(k, model, steps, kernel_step, trace.meta.distributed)  # --model: shapeless kernels
    finish_costs(k)
    used = sorted(int(d) for d in k["device"].dropna().unique())
    specs, dev_warnings = devices.resolve(trace.meta.device_properties, used)
    k = roofline(k, specs, trace.meta.device_properties_by_id)
    reject_false_bounds(k, costs)  # a lower bound above the memory roof was no bound
    _op_shapes(k, ops)
    k = finish_graphs(k)  # shapes of replayed kernels
    k["phase"] = kernel_phases(k, ops)
    k["serving_step"] = kernel_step
    kernels = k[[c for c in KERNEL_COLUMNS if c in k.columns]].reset_index(drop=True)
    op_table = ops.copy(deep=False)  # copy-on-write: no data copied
    for c in ("flops", "recompute_flops", "bytes", "dtype", "family", "flops_source", "bytes_source",
              "counted_below", "recompute"):
        v = costs[c].to_numpy() if c in costs else None
        op_table[c] = text_column(v, op_table.index) if getattr(v, "dtype", None) == object else v
    op_table = op_table[[c for c in OP_COLUMNS if c in op_table.columns]]
    mfu, tables = mfu_summary(kernels, steps)
    summary = build_summary(trace, kernels, op_table, specs, dev_warnings, mfu)
    summary["graphs"] = graph_info if graph_info.get("replayed_kernels") else None
    summary["compiled"] = compiled_summary(k, op_table, compiled_info)
    summary["breakdown"], tables["breakdown"] = breakdown(kernels, op_table, trace.launches)
    summary["serving"] = steps_summary(steps, kernels)
    summary["model_attribution"] = model_info
    return Analysis(trace, kernels, op_table, summary, tables, steps=steps)


def _op_shapes(k, ops):
    """Launching op name, and the input dims/types of the op whose shapes define each kernel's work."""
    lo = k["launch_op_row"].to_numpy()
    k["launch_op"] = text_at(ops["name"], lo) if len(ops) else None
    row = k["op_row"].to_numpy()
    for c in ("input_dims", "input_types", "shapes"):
        k[c] = text_at(ops[c], row) if c in ops else np.full(len(row), None, dtype=object)


def _empty_costs():
    return pd.DataFrame({c: pd.Series(dtype=float) for c in ("flops", "recompute_flops", "bytes")}).assign(
        dtype=None, family=None, flops_source=None, bytes_source=None, cost_note=None, counted_below=False)

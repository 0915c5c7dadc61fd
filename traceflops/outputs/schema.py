"""What every output column and summary key means: the one source of docs/schema.md.

`python -m traceflops.outputs.schema > docs/schema.md` regenerates the page; tests check that the page is
current and that real outputs carry exactly these columns and only these summary keys.
"""
from dataclasses import dataclass

from .schema_model import MODEL_ROWS
from .schema_ranks import RANKS_ROWS
from .schema_steps import SERVING_ROWS, STEP_ROWS


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    unit: str
    meaning: str


def _fields(rows):
    return [Field(*r) for r in rows]


KERNELS = _fields([
    ("name", "str", "", "GPU activity name as recorded (mangled kernel name, `Memcpy DtoD (Device -> Device)`, ...)"),
    ("kind", "str", "", "`kernel`, `memcpy` or `memset`"),
    ("ts_us", "float", "µs", "start, in the trace's time base"),
    ("dur_us", "float", "µs", "duration"),
    ("device", "int", "", "GPU index"),
    ("stream", "int", "", "GPU stream"),
    ("correlation", "int", "", "CUPTI/roctracer correlation id (links the activity to its launch call)"),
    ("op", "str", "", "the op whose shapes define this kernel's work: the launching op or its nearest costed "
                      "ancestor (for a graph replay, the op of the kernel it replays)"),
    ("link", "str", "", "how the kernel reached a CPU op: `correlation`, `flow`, `external_id`, `graph`, `model` (its "
                        "costs come from the model config, `model_component`), or `none`"),
    ("link_reason", "str", "", "why `link` is `none`"),
    ("category", "str", "", "kernel class from its name: gemm, attention, conv, fused, elementwise, reduction, "
                            "norm, softmax, copy, memset, comm, other"),
    ("dtype", "str", "", "the dtype the kernel computes in (op dtype refined by the kernel name: tf32, fp8, ...)"),
    ("flops", "float", "FLOP", "model FLOPs of this execution (2 per multiply-accumulate); NaN when unknown"),
    ("recompute_flops", "float", "FLOP", "FLOPs redone by this kernel (activation checkpointing, flash backward's "
                                         "QKᵀ recompute): counted in HFU, not MFU"),
    ("bytes", "float", "B", "minimal DRAM traffic: inputs read once, outputs written once; for collectives the "
                            "message size a rank moves"),
    ("bytes_source", "str", "", "how the bytes are known: `formula`, `estimate`, `inductor`, `compiled`, `launch_shapes`, "
                                "`model`, `recorded` (a copy's own byte count), `lower_bound` (every recorded tensor argument once: the real "
                                "traffic is at least this, so achieved TB/s and pct_of_ceiling are lower bounds), "
                                "`upper_bound` (multi_tensor_apply kernels: at most 65536 elements per block of the "
                                "grid), or empty"),
    ("flops_source", "str", "", "how the FLOPs are known: `formula`, `estimate`, `inductor`, `compiled`, `launch_shapes`, "
                                "`step_annotation`, "
                                "`model` (the model config's component, docs/attribution.md), `graph:<source>`, or `none`"),
    ("flops_reason", "str", "", "why a GPU event has no FLOPs (empty when it has them)"),
    ("work_split", "str", "", "how an op's FLOPs reached this kernel when several kernels share them: `part` (its own "
                              "part of the work, e.g. a conv backward's dgrad or wgrad, from the kernel name) or "
                              "`time_share` (split by GPU time: the fallback when the kernels' parts are not known)"),
    ("achieved_tflops", "float", "TFLOP/s", "flops / dur"),
    ("achieved_tbps", "float", "TB/s", "bytes / dur"),
    ("intensity", "float", "FLOP/B", "arithmetic intensity, flops / bytes"),
    ("peak_tflops", "float", "TFLOP/s", "datasheet dense peak of the device for this dtype and math mode"),
    ("peak_tbps", "float", "TB/s", "datasheet bandwidth of the kernel's memory roof: HBM, or the host link for "
                                  "host↔device copies"),
    ("ceiling_tflops", "float", "TFLOP/s", "roofline ceiling: min(peak_tflops, intensity × peak_tbps)"),
    ("pct_of_ceiling", "float", "%", "achieved_tflops / ceiling_tflops × 100 (bytes-only kernels: achieved_tbps / "
                                     "peak_tbps × 100); never clipped"),
    ("bound", "str", "", "which roof the ceiling is on: `compute`, `memory` (HBM), `host_link` (a host↔device copy "
                         "over PCIe/NVLink-C2C) or `host_link_pageable` (the same from a pageable host buffer, staged "
                         "by the driver through a pinned one)"),
    ("roof_flag", "str", "", "above the roof by more than 5%: `cache_resident` (memory-bound, explained by L2), "
                             "`suspect` (above the compute peak: the FLOP count is wrong; left out of MFU/HFU) or "
                             "`suspect_bytes` (faster than its bytes allow: the byte count is wrong)"),
    ("time_at_ceiling_us", "float", "µs", "the time the kernel would take at its ceiling"),
    ("time_lost_us", "float", "µs", "dur − time_at_ceiling: where a speed-up is possible"),
    ("achievable_tflops", "float", "TFLOP/s", "the ceiling under the measured roofs of a `--device-file` "
                                              "`max_achievable` entry (datasheet roofs where it gives none); NaN "
                                              "without one"),
    ("pct_of_achievable", "float", "%", "achieved / achievable ceiling × 100 (bytes-only: vs the measured bandwidth)"),
    ("tensor_core", "bool", "", "the kernel runs on tensor/matrix cores (from its name, else its category and dtype)"),
    ("library", "str", "", "kernel library from its name: cublas, nvjet, cutlass, cudnn, flash, ck, hipblaslt, "
                           "triton, nccl, aten, ..."),
    ("family", "str", "", "op family of the formula that costed it: gemm, attention, conv, elementwise, norm, comm, ..."),
    ("launch_op", "str", "", "name of the innermost CPU op around the launch call (may differ from `op`, which is "
                             "the op whose shapes define the work)"),
    ("module", "str", "", "nn.Module path of the launching op (`Net.encoder.layer0`)"),
    ("annotation", "str", "", "innermost user annotation (record_function) around the launching op"),
    ("step", "int", "", "profiler step (ProfilerStep#N)"),
    ("input_dims", "str", "", "`op`'s recorded input shapes (canonical JSON)"),
    ("input_types", "str", "", "`op`'s recorded input types (canonical JSON)"),
    ("grid", "str", "", "launch grid [x, y, z] (JSON), where recorded"),
    ("block", "str", "", "launch block [x, y, z] (JSON), where recorded"),
    ("waves", "float", "", "blocks / (SMs × resident blocks per SM)"),
    ("tail_efficiency", "float", "", "waves / ceil(waves): share of the last wave's SMs that have work"),
    ("sm_fill", "float", "", "min(blocks / SMs, 1)"),
    ("phase", "str", "", "`prefill`, `decode` or `mixed` (serving annotations, else attention query lengths)"),
    ("serving_step", "int", "", "serving engine step (row `step` of steps.parquet), empty outside steps"),
    ("external_id", "int", "", "the activity's External id as recorded"),
    ("graph_id", "int", "", "CUDA graph id (CUDA >= 12 CUPTI)"),
    ("graph_node_id", "int", "", "CUDA graph node id"),
    ("collective", "str", "", "collective name from the kernel's own args (record_param_comms)"),
    ("op_row", "int", "", "row of `op` in ops.parquet (−1: none, or the op lives in a capture trace)"),
    ("graph_match", "str", "", "how a replayed graph kernel found its costs: `capture_align`, `eager_align`, "
                               "`graph_node_id`, `compiled_order` (aligned with its Inductor output module)"),
    ("graph_confidence", "float", "", "share of the aligned window that agrees, divided by the number of equally good "
                                      "windows that would give other costs"),
    ("model_component", "str", "", "with --model: the model component the kernel computes, as `L<layer>.<gemm>[M x N x "
                                   "K]` (`lm_head[...]`, `L<layer>.attention[...]`, `norm[T x h]`, ...; "
                                   "docs/attribution.md)"),
    ("model_confidence", "float", "", "confidence of that attribution: 1 when the layer count, the GEMMs per layer and "
                                      "the launch grid all fit; lower without a grid, for sliding-window upper bounds, "
                                      "ambiguous fusions and bytes-only kernels (docs/attribution.md)"),
])

OPS = _fields([
    ("name", "str", "", "op name (`aten::mm`) or user annotation"),
    ("cat", "str", "", "`cpu_op` or `user_annotation`"),
    ("ts_us", "float", "µs", "start"),
    ("dur_us", "float", "µs", "duration (CPU)"),
    ("pid", "str", "", "process id"),
    ("tid", "str", "", "thread id"),
    ("input_dims", "str", "", "recorded Input Dims (canonical JSON)"),
    ("input_types", "str", "", "recorded Input type (canonical JSON)"),
    ("concrete_inputs", "str", "", "recorded Concrete Inputs (canonical JSON)"),
    ("flops", "float", "FLOP", "the op's model FLOPs, counted at exactly one level of the op tree: the column's "
                               "sum is the total; 0 where a descendant counts them"),
    ("recompute_flops", "float", "FLOP", "recomputed FLOPs (activation checkpointing, flash backward recompute)"),
    ("bytes", "float", "B", "minimal DRAM traffic of the op (one level, as flops)"),
    ("dtype", "str", "", "compute dtype from the recorded input types"),
    ("family", "str", "", "formula family"),
    ("flops_source", "str", "", "`formula`, `estimate`, `inductor`, `compiled` (from the Inductor output code), "
                                "`step_annotation` (attention from the serving step's Σsq·sk), or empty"),
    ("bytes_source", "str", "", "`formula`, `estimate`, `inductor`, `compiled`, `lower_bound` (no formula: every recorded tensor "
                                "argument once, a lower bound), or empty"),
    ("counted_below", "bool", "", "a same-family descendant carries this op's cost"),
    ("recompute", "bool", "", "a forward op run inside a backward node (activation checkpointing)"),
    ("external_id", "int", "", "External id"),
    ("seq", "int", "", "autograd sequence number"),
    ("parent", "int", "", "row of the enclosing op on the same thread (−1: a root)"),
    ("module", "str", "", "nn.Module path"),
    ("annotation", "str", "", "innermost enclosing user annotation"),
    ("step", "int", "", "profiler step"),
])

# Key paths of summary.json: `a.b` nests, `a[]` is a list of objects, `a.*` a map with data-dependent keys.
SUMMARY = _fields([
    ("trace", "object", "", "the trace analyzed"),
    ("trace.name", "str", "", "file name without .json/.gz"),
    ("trace.path", "str", "", "path as given"),
    ("trace.rank", "int", "", "distributedInfo rank"),
    ("trace.world_size", "int", "", "distributedInfo world size"),
    ("trace.format", "str", "", "`relative-ns` (baseTimeNanoseconds, Kineto >= 2024-04) or `absolute-us`"),
    ("trace.events_not_tabled", "object", "", "events read but not rows of any table, by lower-cased category "
     "(`{\"cuda_sync\": 2, \"trace\": 1}`): GPU-timeline markers (cuda_sync, cuda_event; also named in `warnings`), "
     "profiler spans and categories of other backends"),
    ("trace.events_not_tabled.*", "int", "", "events of one category"),
    ("device", "object", "", "the catalog entry of the (first) device, whose peaks MFU is measured against"),
    ("device.name", "str", "", "device name"),
    ("device.key", "str", "", "catalog key (`traceflops devices`)"),
    ("device.peak_tflops", "object", "TFLOP/s", "dense datasheet peak per dtype"),
    ("device.peak_tflops.*", "float", "TFLOP/s", "one dtype's peak (fp64, fp64_tc, fp32, tf32, bf16, fp16, fp8, int8, fp4)"),
    ("device.peak_tbps", "float", "TB/s", "memory bandwidth"),
    ("device.source", "str", "", "where the figures come from"),
    ("device.max_achievable", "object", "", "measured ceilings from a `--device-file` (TFLOP/s per dtype, `tbps`)"),
    ("device.max_achievable.*", "float", "", "one measured ceiling"),
    ("devices", "object", "", "per device id, the same block, when kernels ran on several GPUs"),
    ("devices.*", "object", "", "one device's block (as `device`)"),
    ("devices.*.name", "str", "", "device name"),
    ("devices.*.key", "str", "", "catalog key"),
    ("devices.*.peak_tflops", "object", "TFLOP/s", "peaks per dtype"),
    ("devices.*.peak_tflops.*", "float", "TFLOP/s", "one dtype's peak"),
    ("devices.*.peak_tbps", "float", "TB/s", "memory bandwidth"),
    ("devices.*.source", "str", "", "source"),
    ("devices.*.max_achievable", "object", "", "measured ceilings"),
    ("devices.*.max_achievable.*", "float", "", "one measured ceiling"),
    ("totals", "object", "", "counts and sums over the trace"),
    ("totals.gpu_events", "int", "", "GPU activity events (= rows of kernels.parquet)"),
    ("totals.kernels", "int", "", "kernels"),
    ("totals.memcpy", "int", "", "memcpy events"),
    ("totals.memset", "int", "", "memset events"),
    ("totals.cpu_ops", "int", "", "CPU ops and user annotations (= rows of ops.parquet)"),
    ("totals.gpu_time_us", "float", "µs", "sum of GPU event durations"),
    ("totals.gpu_busy_us", "float", "µs", "union of GPU activity per device, summed over devices"),
    ("totals.flops", "float", "FLOP", "sum of kernel FLOPs"),
    ("totals.bytes", "float", "B", "sum of kernel bytes"),
    ("totals.op_flops", "float", "FLOP", "sum of op FLOPs (ops.parquet)"),
    ("totals.op_recompute_flops", "float", "FLOP", "sum of op recomputed FLOPs"),
    ("coverage", "object", "", "how much of the trace could be linked and costed"),
    ("coverage.link_rate", "float", "", "share of kernels linked to a CPU op"),
    ("coverage.link_rate_in_window", "float", "", "the same, over kernels launched inside the profiling window"),
    ("coverage.links", "object", "", "kernels per link kind"),
    ("coverage.links.*", "int", "", "kernels linked this way"),
    ("coverage.unlinked_reasons", "object", "", "unlinked kernels per reason"),
    ("coverage.unlinked_reasons.*", "int", "", "kernels"),
    ("coverage.time_with_flops_or_bytes", "float", "", "share of GPU time with FLOPs or bytes"),
    ("coverage.time_with_flops_or_bytes_of_shaped", "float", "", "the same, over kernels whose op records shapes"),
    ("coverage.by_category", "object", "", "per kernel category"),
    ("coverage.by_category.*", "object", "", "one category"),
    ("coverage.by_category.*.time_us", "float", "µs", "GPU time"),
    ("coverage.by_category.*.covered", "float", "", "share of it with FLOPs or bytes"),
    ("roofline", "object", "", "roofline flags"),
    ("roofline.suspect", "int", "", "kernels above their compute peak: FLOP counts that cannot be right (out of MFU)"),
    ("roofline.suspect_bytes", "int", "", "kernels faster than their bytes allow, even with a warm L2"),
    ("roofline.with_achievable", "int", "", "kernels with a measured (`max_achievable`) ceiling"),
    ("roofline.cache_resident", "int", "", "memory-bound kernels above the roof that L2 explains"),
    ("roofline.with_ceiling", "int", "", "kernels with a ceiling"),
    ("roofline.worst[]", "object", "", "the ten flagged kernels furthest above their ceiling"),
    ("roofline.worst[].name", "str", "", "kernel"),
    ("roofline.worst[].op", "str", "", "op"),
    ("roofline.worst[].pct_of_ceiling", "float", "%", "% of ceiling"),
    ("roofline.worst[].roof_flag", "str", "", "flag"),
    ("roofline.worst[].flops", "float", "FLOP", "FLOPs"),
    ("roofline.worst[].bytes", "float", "B", "bytes"),
    ("roofline.worst[].dur_us", "float", "µs", "duration"),
    ("mfu", "object", "", "model FLOPs utilization"),
    ("mfu.mfu", "float", "", "whole-trace MFU: Σ flops/peak(dtype) ÷ (wall × GPUs); `suspect` kernels left out"),
    ("mfu.peak_basis", "str", "", "what MFU divides by (always the datasheet peaks, never measured ones)"),
    ("mfu.peaks_used[]", "object", "", "the peaks MFU measured FLOPs against"),
    ("mfu.peaks_used[].dtype", "str", "", "dtype"),
    ("mfu.peaks_used[].tensor_core", "bool", "", "math on tensor/matrix cores"),
    ("mfu.peaks_used[].peak_tflops", "float", "TFLOP/s", "the datasheet peak"),
    ("mfu.peaks_used[].flops_share", "float", "", "share of counted FLOPs measured against it"),
    ("mfu.suspect_flops", "float", "FLOP", "FLOPs of `suspect` kernels, left out of MFU/HFU"),
    ("mfu.suspect_kernels", "int", "", "how many kernels that is"),
    ("mfu.hfu", "float", "", "MFU with recomputed FLOPs"),
    ("mfu.busy_mfu", "float", "", "Σ flops/peak ÷ GPU busy time"),
    ("mfu.flops", "float", "FLOP", "FLOPs counted"),
    ("mfu.recompute_flops", "float", "FLOP", "recomputed FLOPs"),
    ("mfu.wall_us", "float", "µs", "the wall time MFU divides by"),
    ("mfu.wall_basis", "str", "", "what the wall time is"),
    ("mfu.gpu_busy_us", "float", "µs", "GPU busy time"),
    ("mfu.gpus", "int", "", "GPUs with activity"),
    ("mfu.achieved_tflops", "float", "TFLOP/s", "FLOPs ÷ (wall × GPUs)"),
    ("mfu.kernels_with_flops_but_no_peak", "int", "", "FLOP kernels left out of MFU (unknown device or dtype)"),
    ("mfu.note", "str", "", "why there is no MFU"),
    ("mfu.per_step[]", "object", "", "per profiler step"),
    ("mfu.per_step[].step", "int", "", "step number"),
    ("mfu.per_step[].flops", "float", "FLOP", "FLOPs"),
    ("mfu.per_step[].recompute_flops", "float", "FLOP", "recomputed FLOPs"),
    ("mfu.per_step[].wall_us", "float", "µs", "first kernel start to last kernel end of the step"),
    ("mfu.per_step[].gpu_busy_us", "float", "µs", "GPU busy time"),
    ("mfu.per_step[].gpus", "int", "", "GPUs"),
    ("mfu.per_step[].mfu", "float", "", "MFU"),
    ("mfu.per_step[].hfu", "float", "", "HFU"),
    ("mfu.per_step[].busy_mfu", "float", "", "busy MFU"),
    ("mfu.per_step[].achieved_tflops", "float", "TFLOP/s", "achieved TFLOP/s"),
    ("mfu.per_module_top[]", "object", "", "the 20 modules with the most GPU time"),
    ("mfu.per_module_top[].module", "str", "", "module path"),
    ("mfu.per_module_top[].kernels", "int", "", "kernels"),
    ("mfu.per_module_top[].gpu_time_us", "float", "µs", "GPU time"),
    ("mfu.per_module_top[].flops", "float", "FLOP", "FLOPs"),
    ("mfu.per_module_top[].busy_mfu", "float", "", "busy MFU"),
    ("mfu.per_phase[]", "object", "", "per phase (prefill / decode / mixed)"),
    ("mfu.per_phase[].phase", "str", "", "phase"),
    ("mfu.per_phase[].kernels", "int", "", "kernels"),
    ("mfu.per_phase[].gpu_time_us", "float", "µs", "GPU time"),
    ("mfu.per_phase[].flops", "float", "FLOP", "FLOPs"),
    ("mfu.per_phase[].busy_mfu", "float", "", "busy MFU"),
    ("mfu.phase_requests", "object", "", "requests and query tokens per phase, from serving step annotations"),
    ("mfu.phase_requests.*", "int", "", "count"),
    ("graphs", "object", "", "CUDA/HIP graph replay attribution (null without graph launches)"),
    ("graphs.replayed_kernels", "int", "", "kernels launched by a graph launch"),
    ("graphs.by", "object", "", "replayed kernels matched per method"),
    ("graphs.by.*", "int", "", "kernels"),
    ("graphs.capture", "object", "", "the capture trace used (--capture)"),
    ("graphs.capture.path", "str", "", "its path"),
    ("graphs.capture.captured_kernels", "int", "", "captured launches"),
    ("graphs.capture.capture_windows", "int", "", "BeginCapture…EndCapture windows"),
    ("graphs.matched", "int", "", "replayed kernels matched to a reference"),
    ("graphs.with_op_and_cost", "int", "", "replayed kernels with an op and FLOPs or bytes"),
    ("graphs.with_flops", "int", "", "replayed kernels with FLOPs"),
    ("graphs.rate_op_and_cost", "float", "", "with_op_and_cost / replayed_kernels"),
    ("graphs.mean_confidence", "float", "", "mean graph_confidence of the matched"),
    ("graphs.unmatched_top", "object", "", "the most frequent replayed kernels without cost"),
    ("graphs.unmatched_top.*", "int", "", "kernels"),
    ("compiled", "object", "", "torch.compile code: how much of its kernels' GPU time is costed, and how "
                               "(docs/compiled.md; null without compiled graphs or Triton launches)"),
    ("compiled.path", "str", "", "the output code used (--compiled, or <trace>.compiled/ beside the trace); null: none"),
    ("compiled.modules", "int", "", "output modules found there"),
    ("compiled.with_graph_key", "int", "", "modules whose FX graph key is known (the annotation's key)"),
    ("compiled.kernel_defs", "int", "", "Triton kernel definitions found (by kernel_hash)"),
    ("compiled.skipped", "object", "", "files that looked like output code but did not parse (first 5)"),
    ("compiled.graph_calls", "int", "", "`## Call CompiledFxGraph` ops in the trace"),
    ("compiled.graph_calls_matched", "int", "", "graph calls matched to an output module"),
    ("compiled.ops_costed", "int", "", "ops costed from the output code"),
    ("compiled.by", "object", "", "ops costed per way of finding their kernel"),
    ("compiled.by.*", "int", "", "`output_code` (a call site of a matched graph call), `kernel_hash`"),
    ("compiled.kernels", "int", "", "GPU kernels of compiled code (launched inside a graph call, or Triton)"),
    ("compiled.time_us", "float", "µs", "their GPU time"),
    ("compiled.costed_time_share", "float", "", "share of that time on kernels with FLOPs or bytes"),
    ("compiled.flops_time_share", "float", "", "share of that time on kernels with FLOPs"),
    ("compiled.time_share_by_method", "object", "", "share of that time costed per method"),
    ("compiled.time_share_by_method.*", "float", "", "`output_code`, `compiled_order`, `graph_replay`, "
                                                     "`inductor_meta`, `trace_estimate`, `trace`"),
    ("breakdown", "object", "", "where the wall time of each step went"),
    ("breakdown.note", "str", "", "caveat"),
    ("breakdown.basis", "str", "", "per ProfilerStep and device, or the whole trace"),
    ("breakdown.priority", "str", "", "which class wins where classes overlap"),
    ("breakdown.totals", "object", "µs", "sums over steps and devices"),
    ("breakdown.totals.*", "float", "µs", "wall_us, flop_us, nonflop_us, comm_exposed_us, idle_us, sum_of_parts_us"),
    ("breakdown.fractions", "object", "", "the four parts as shares of wall time"),
    ("breakdown.fractions.*", "float", "", "share"),
    ("breakdown.per_step[]", "object", "", "one row per (step, device)"),
    ("breakdown.per_step[].*", "float", "", "step, device, start_us, end_us, wall_us, flop_us, nonflop_us, "
                                            "comm_exposed_us, idle_us, flops, peak_seconds, flops_without_peak"),
    ("breakdown.waterfall[]", "object", "", "MFU waterfall stages (fractions of peak)"),
    ("breakdown.waterfall[].stage", "str", "", "stage"),
    ("breakdown.waterfall[].value", "float", "", "fraction of peak"),
    ("breakdown.waterfall[].kind", "str", "", "`total` or `loss`"),
    ("breakdown.launch", "object", "", "launch overhead"),
    ("breakdown.launch.per_step[]", "object", "", "per step"),
    ("breakdown.launch.per_step[].*", "float", "", "step, cpu_span_us, launch_calls, launch_call_us, "
                                                   "runtime_call_us, gpu_busy_us, gpu_idle_us, gpu_wall_us, launch_to_busy"),
    ("breakdown.launch.top_gap_ops[]", "object", "", "CPU ops charged with the most GPU idle time"),
    ("breakdown.launch.top_gap_ops[].cpu_op", "str", "", "op"),
    ("breakdown.launch.top_gap_ops[].gap_us", "float", "µs", "idle time charged"),
    ("breakdown.launch.top_gap_ops[].gaps", "int", "", "gaps"),
    ("breakdown.launch.gap_basis", "str", "", "how gaps are charged"),
    ("model_reconciliation", "object", "", "with --model: analytic FLOPs next to the trace's, by family"),
    ("model_reconciliation.*", "object", "", "phase, tokens, seq, context, model_type, active_params, "
                                             "analytic_total, trace_total, ratio, by_family, source, notes"),
    *SERVING_ROWS,
    *MODEL_ROWS,
    ("advice[]", "object", "", "what to do about GPU time that could not be costed (graph replay without shapes, an "
                               "unknown device, no GPU events)"),
    ("advice[].issue", "str", "", "what is missing"),
    ("advice[].gpu_time_share", "float", "", "share of GPU time it concerns (null: not a share of GPU time)"),
    ("advice[].remedy", "str", "", "the flag or recording option that fixes it"),
    ("warnings", "list", "", "one line per thing the user should know (unknown device, damaged input, ...)"),
])

STEPS = _fields(STEP_ROWS)  # steps.parquet (outputs/schema_steps.py)


RANKS_SUMMARY = _fields(RANKS_ROWS)  # the combined summary.json of a rank folder (outputs/schema_ranks.py)


def _table(fields, title):
    out = [f"## {title}", "", "| column | type | unit | meaning |", "|---|---|---|---|"]
    out += [f"| `{f.name}` | {f.type} | {f.unit} | {f.meaning} |" for f in fields]
    return out + [""]


def markdown():
    """docs/schema.md."""
    out = ["# Output schema", "",
           "Generated from `traceflops/outputs/schema.py` (`python -m traceflops.outputs.schema > docs/schema.md`); "
           "a test fails when the two differ. Units: µs, FLOP (2 per multiply-accumulate), B (bytes), TFLOP/s = 1e12 "
           "FLOP/s, TB/s = 1e12 B/s.", "",
           "`op` vs `launch_op`: `launch_op` is the innermost CPU op around the kernel's launch call; `op` is the op "
           "whose recorded shapes define the kernel's work, the launching op or its nearest ancestor with a formula "
           "(`aten::linear` → `aten::addmm` launches the GEMM; both are the same op there, but a kernel launched by a "
           "helper op under `aten::convolution_backward` has that helper as `launch_op` and the convolution as `op`). "
           "For a replayed graph kernel, `op` is the op of the kernel it replays and `launch_op` the op around the "
           "graph launch.", ""]
    out += _table(KERNELS, "kernels.parquet: one row per GPU activity event")
    out += _table(OPS, "ops.parquet: one row per CPU op")
    out += _table(STEPS, "steps.parquet: one row per serving engine step (written for traces with step "
                  "annotations; docs/serving.md)")
    out += ["## summary.json", "", "Key paths: `a.b` nests, `a[]` is a list of objects, `a.*` is a map whose keys "
            "depend on the data.", "", "| key | type | unit | meaning |", "|---|---|---|---|"]
    out += [f"| `{f.name}` | {f.type} | {f.unit} | {f.meaning} |" for f in SUMMARY] + [""]
    out += ["## summary.json of a rank folder", "", "`traceflops analyze DIR/` (several traces: ranks of one job) writes "
            "`OUT/kernels/rank=N/part-0.parquet`, `OUT/ops/rank=N/…` and `OUT/ranks/rank=N/summary.json` (a one-trace "
            "summary, above) per rank, or `rank=N/file=NAME/…` for every file when two files report the same rank; and "
            "this combined `OUT/summary.json`:", "", "| key | type | unit | meaning |", "|---|---|---|---|"]
    out += [f"| `{f.name}` | {f.type} | {f.unit} | {f.meaning} |" for f in RANKS_SUMMARY] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")

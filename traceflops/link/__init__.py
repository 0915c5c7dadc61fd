"""link: GPU activity → launch call → CPU op, plus each op's parent, module, annotation and profiler step.

Adds columns only; never computes FLOPs.  Rules (see shared kineto-format.md §5):
1. activity.correlation == launch.correlation (one graph launch owns many kernels);
2. the launch → the innermost CPU op on the launching thread that contains it in time;
3. else activity `External id` → op `External id`, trusted only where it is not the old
   "External id == correlation" convention.
"""
from ..ingest.columns import text_column
from .gpu import GRAPH_LAUNCH, gpu_steps, link_gpu
from .intervals import group_codes, nest
from .ops import STEP_RE, annotations, modules, steps_by_time

__all__ = ["link", "GRAPH_LAUNCH", "STEP_RE"]


def link(trace):
    """Return (gpu, ops) copies of the trace tables with link columns added."""
    ops = trace.ops.reset_index(drop=True)  # copy-on-write (pandas 3): new columns never reach trace.ops
    gpu = trace.gpu.reset_index(drop=True)
    launches = trace.launches.reset_index(drop=True)

    op_groups = group_codes(ops["pid"], ops["tid"])
    starts, durs = ops["ts_us"].to_numpy(float), ops["dur_us"].to_numpy(float)
    _, parent = nest(op_groups, starts, durs)
    ops["parent"] = parent
    ops["step"] = steps_by_time(ops, ops["ts_us"].to_numpy(float))
    annotations(ops, parent)
    ops["module"] = text_column(modules(trace, ops, parent), ops.index)

    link_gpu(gpu, ops, launches, op_groups, parent, trace.meta, trace.flows)
    gpu_steps(gpu, ops, trace.gpu_annotations)
    return gpu, ops

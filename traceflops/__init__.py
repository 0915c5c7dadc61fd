"""traceflops: the truth about how well a GPU was used, from a saved PyTorch profiler trace.

    import traceflops
    a = traceflops.analyze("trace.json.gz")      # an Analysis: a.kernels, a.ops, a.summary, a.write(dir)
    r = traceflops.compare(a, traceflops.analyze("new.json.gz"))

Extension points: `register_formula` (an op's FLOPs and bytes), `load_catalog(device_file)` (devices and
measured ceilings). The stages behind `analyze` are listed in `traceflops.pipeline`.
"""
__version__ = "0.1.0"

from .analysis import Analysis  # noqa: E402
from .apps.hooks import on_trace_ready  # noqa: E402
from .errors import TraceError  # noqa: E402
from .ingest import Trace, read_trace  # noqa: E402
from .kernels import Args, OpCost, op_cost  # noqa: E402
from .kernels import register as register_formula  # noqa: E402
from .outputs.compare import CompareResult, compare  # noqa: E402
from .pipeline import analyze  # noqa: E402
from .roofline import load_catalog  # noqa: E402

__all__ = ["analyze", "Analysis", "compare", "CompareResult", "register_formula", "OpCost", "Args", "op_cost",
           "load_catalog", "read_trace", "Trace", "on_trace_ready", "TraceError", "__version__"]

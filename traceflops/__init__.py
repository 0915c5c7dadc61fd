"""traceflops: the truth about how well a GPU was used, from a saved PyTorch profiler trace."""
__version__ = "0.1.0"

from .analysis import Analysis, analyze  # noqa: E402
from .errors import TraceError  # noqa: E402
from .hooks import on_trace_ready  # noqa: E402

__all__ = ["analyze", "Analysis", "TraceError", "on_trace_ready", "__version__"]

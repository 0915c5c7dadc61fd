"""report: the outputs people look at — plotly figures, a self-contained report.html, markdown.

Everything here reads an `Analysis` (see traceflops.analysis) and never changes it.  plotly is
imported only when this package is, so the core pipeline does not need it.
"""
from .html import write_report  # noqa: F401
from .plots import breakdown_figure, roofline_figure, timeline_figure  # noqa: F401

__all__ = ["write_report", "roofline_figure", "breakdown_figure", "timeline_figure"]

"""report: the outputs people look at — plotly figures, a self-contained report.html, markdown.

Everything here reads an `Analysis` (see traceflops.analysis) and never changes it.  plotly is
imported only when a figure or the page is asked for (`tables` and `demangle` need only pandas), so the core
pipeline and the CLI's tables do not need it.
"""

__all__ = ["write_report", "roofline_figure", "breakdown_figure", "timeline_figure"]


def __getattr__(name):
    if name == "write_report":
        from .html import write_report
        return write_report
    if name in ("roofline_figure", "breakdown_figure", "timeline_figure"):
        from . import plots
        return getattr(plots, name)
    raise AttributeError(name)

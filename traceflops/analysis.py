"""The result of analyzing one trace: the `Analysis` object (built by `traceflops.pipeline.analyze`)."""


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
        return write_outputs(self, outdir, report=report)

    def reconcile(self, config, tokens, phase="prefill", seq=None, context=None):
        """Analytic FLOPs of a HF config for `tokens` next to the FLOPs counted here, by op family."""
        from .metrics.reconcile import reconcile
        return reconcile(self, config, tokens, phase=phase, seq=seq, context=context)

    # Plot helpers live in traceflops.outputs.report; imported lazily so the core does not need plotly.
    def roofline_figure(self, **kw):
        from .outputs.report import plots
        return plots.roofline_figure(self, **kw)

    def breakdown_figure(self, by="category", **kw):
        from .outputs.report import plots
        return plots.breakdown_figure(self, by=by, **kw)

    def timeline_figure(self, **kw):
        from .outputs.report import plots
        return plots.timeline_figure(self, **kw)

"""The result of analyzing one trace: the `Analysis` object (built by `traceflops.pipeline.analyze`)."""


class Analysis:
    """The result of analyzing one trace: `kernels` and `ops` DataFrames and a `summary` dict."""

    def __init__(self, trace, kernels, ops, summary, tables, steps=None):
        self.trace = trace
        self.kernels = kernels
        self.ops = ops
        self.summary = summary
        self.tables = tables  # per-step, per-module and timeline MFU tables
        self.steps = steps  # serving engine steps (steps.parquet; empty without step annotations)

    @property
    def name(self):
        return self.trace.name

    def __repr__(self):
        return f"<Analysis {self.name}: {len(self.kernels)} GPU events, {len(self.ops)} ops>"

    def _repr_html_(self):
        """Jupyter: a compact, escaped HTML summary (headline numbers, top kernels, what to do)."""
        from .outputs.report.notebook import analysis_html
        return analysis_html(self)

    def write(self, outdir, report=True):
        """Write kernels.parquet, ops.parquet, summary.json (and report.html) into `outdir`."""
        from .outputs import write_outputs
        return write_outputs(self, outdir, report=report)

    def reconcile(self, config, tokens, phase="prefill", seq=None, context=None):
        """Analytic FLOPs of a HF config for `tokens` next to the FLOPs counted here, by op family."""
        from .metrics.reconcile import reconcile
        return reconcile(self, config, tokens, phase=phase, seq=seq, context=context)

    def model_steps(self, config, *, tp=None, ep=None, draft=None, accepted=None, kv_dtype=None, mla_absorbed=False):
        """Each serving step's analytic FLOPs and bytes from a HF config (a path or dict), hence per-step MFU and
        MBU: fills the model columns of `steps` and `summary["serving"]`; returns the summary's model block."""
        from .metrics.serving import cost_steps, steps_summary
        if self.steps is None or not len(self.steps):
            raise ValueError(f"{self.name}: no serving step annotations; give the tokens instead (reconcile, --tokens)")
        # trace.ops: the ops table's rows in the same order (link adds columns only), with the shapes ingest
        # decoded, which ops.parquet does not keep
        ops = self.trace.ops if self.trace is not None else self.ops
        model = cost_steps(self.steps, self.kernels, ops, self.summary, config, tp=tp, ep=ep, draft=draft,
                           accepted=accepted, kv_dtype=kv_dtype, mla_absorbed=mla_absorbed,
                           distributed=self.trace.meta.distributed if self.trace is not None else None)
        self.summary["serving"] = steps_summary(self.steps, self.kernels, model)
        if model["check"]["warning"]:
            self.summary.setdefault("warnings", []).append(model["check"]["warning"])
        return model

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

"""hooks: analyze traces as torch.profiler produces them.

    from traceflops import on_trace_ready
    with torch.profiler.profile(schedule=torch.profiler.schedule(wait=1, warmup=1, active=2, repeat=2),
                                on_trace_ready=on_trace_ready("prof")) as prof:
        for batch in loader:
            train_step(batch)
            prof.step()

Each time the schedule fires, the trace is exported to `prof/<worker>.<step>.pt.trace.json` and its
traceflops outputs (kernels.parquet, ops.parquet, summary.json, report.html) are written to
`prof/<worker>.<step>/` beside it.  torch is not imported here: the handler only calls methods of the
profiler object it is given.  An analysis failure never stops training: it is logged as a warning and
kept in `handler.errors`.
"""
import logging
import os
import socket
import warnings
from pathlib import Path

log = logging.getLogger("traceflops")


class TraceReadyHandler:
    """Callable for torch.profiler's `on_trace_ready`; see `on_trace_ready`."""

    def __init__(self, dir, worker_name=None, report=True, gzip=False, analyze_kwargs=None, callback=None):
        self.dir = Path(dir)
        self.worker_name = worker_name
        self.report = report
        self.gzip = gzip
        self.analyze_kwargs = dict(analyze_kwargs or {})
        self.callback = callback
        self.traces = []  # exported trace paths, in order
        self.outputs = []  # {path: written} per analyzed trace
        self.errors = []  # (trace path, exception) for traces that could not be analyzed

    def _worker(self):
        return self.worker_name or f"{socket.gethostname()}_{os.getpid()}"

    def __call__(self, prof):
        self.dir.mkdir(parents=True, exist_ok=True)
        step = getattr(prof, "step_num", len(self.traces))
        stem = f"{self._worker()}.{step}"
        trace = self.dir / f"{stem}.pt.trace.json"
        prof.export_chrome_trace(str(trace))
        if self.gzip:
            import gzip
            import shutil
            gz = trace.with_name(trace.name + ".gz")
            with open(trace, "rb") as src, gzip.open(gz, "wb") as dst:
                shutil.copyfileobj(src, dst)
            trace.unlink()
            trace = gz
        self.traces.append(trace)
        try:
            from ..pipeline import analyze
            a = analyze(str(trace), **self.analyze_kwargs)
            written = a.write(self.dir / stem, report=self.report)
            self.outputs.append({"trace": trace, **written})
            if self.callback is not None:
                self.callback(a, written)
        except Exception as e:  # the training loop must go on
            self.errors.append((trace, e))
            msg = f"traceflops: could not analyze {trace}: {type(e).__name__}: {e}"
            log.warning(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return trace


def on_trace_ready(dir, worker_name=None, report=True, gzip=False, analyze_kwargs=None, callback=None):
    """A torch.profiler `on_trace_ready` handler that exports each trace to
    `dir/<worker>.<step>.pt.trace.json` and writes its traceflops outputs to `dir/<worker>.<step>/`.

    worker_name: defaults to "<hostname>_<pid>" like torch's tensorboard_trace_handler.
    report: also write report.html.  gzip: store the trace as .pt.trace.json.gz.
    analyze_kwargs: passed to traceflops.analyze (device=..., device_file=...).
    callback(analysis, written_paths): called after each successful analysis.
    """
    return TraceReadyHandler(dir, worker_name=worker_name, report=report, gzip=gzip, analyze_kwargs=analyze_kwargs,
                             callback=callback)

"""hooks: analyze traces as torch.profiler produces them.

    from traceflops import on_trace_ready
    with torch.profiler.profile(schedule=torch.profiler.schedule(wait=1, warmup=1, active=2, repeat=2),
                                on_trace_ready=on_trace_ready("prof")) as prof:
        for batch in loader:
            train_step(batch)
            prof.step()

Each time the schedule fires, the trace is exported to `prof/<worker>.<step>.pt.trace.json` and its
traceflops outputs (kernels.parquet, ops.parquet, summary.json, report.html) are written to
`prof/<worker>.<step>/` beside it.  With torch.compile in the process, the Inductor output code of every
compiled graph is saved to `prof/<worker>.<step>.compiled/` first (`<FX graph key>.py` + index.json; see
`save_compiled`), and the analysis costs the compiled kernels from it (docs/compiled.md); a later
`traceflops analyze prof/<worker>.<step>.pt.trace.json` finds that folder beside the trace.  torch is not
imported here: the handler only calls methods of the profiler object it is given and reads what Inductor
already loaded.  An analysis failure never stops training: it is logged as a warning and kept in
`handler.errors`.
"""
import gc
import json
import logging
import os
import socket
import sys
import warnings
from pathlib import Path

log = logging.getLogger("traceflops")


class TraceReadyHandler:
    """Callable for torch.profiler's `on_trace_ready`; see `on_trace_ready`."""

    def __init__(self, dir, worker_name=None, report=True, gzip=False, analyze_kwargs=None, callback=None,
                 save_code=True, analyze=True):
        self.save_code = save_code
        self.analyze = analyze
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
        used = {t.name.split(".pt.trace.json")[0] for t in self.traces}
        n = 1
        while stem in used:  # the profiler can fire twice at one step (the cycle ended by exiting the context)
            stem, n = f"{self._worker()}.{step}_{n}", n + 1
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
        kwargs = dict(self.analyze_kwargs)
        if self.save_code and "compiled" not in kwargs:
            try:
                folder = self.dir / f"{stem}.compiled"
                if save_compiled(folder):
                    kwargs["compiled"] = str(folder)
            except Exception as e:  # saving is a convenience: never stop training for it
                log.warning(f"traceflops: could not save the compiled code: {type(e).__name__}: {e}")
        if not self.analyze:
            return trace
        try:
            from ..pipeline import analyze
            a = analyze(str(trace), **kwargs)
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


def on_trace_ready(dir, worker_name=None, report=True, gzip=False, analyze_kwargs=None, callback=None,
                   save_code=True, analyze=True):
    """A torch.profiler `on_trace_ready` handler that exports each trace to
    `dir/<worker>.<step>.pt.trace.json` and writes its traceflops outputs to `dir/<worker>.<step>/`.

    worker_name: defaults to "<hostname>_<pid>" like torch's tensorboard_trace_handler.
    report: also write report.html.  gzip: store the trace as .pt.trace.json.gz.
    analyze_kwargs: passed to traceflops.analyze (device=..., device_file=...).
    callback(analysis, written_paths): called after each successful analysis.
    save_code: save the Inductor output code of the process's compiled graphs beside each trace (when
    torch.compile was used) and cost the compiled kernels from it.
    analyze: False only exports (and saves the code), for a machine that records but analyzes later.
    """
    return TraceReadyHandler(dir, worker_name=worker_name, report=report, gzip=gzip, analyze_kwargs=analyze_kwargs,
                             callback=callback, save_code=save_code, analyze=analyze)


def _graph_classes():
    """CompiledFxGraph (torch >= 2.6: torch._inductor.output_code; before: codecache), if Inductor is loaded."""
    out = []
    for name in ("torch._inductor.output_code", "torch._inductor.codecache"):
        cls = getattr(sys.modules.get(name), "CompiledFxGraph", None)
        if isinstance(cls, type) and cls not in out:
            out.append(cls)
    return tuple(out)


def compiled_graphs():
    """[{fx_graph_cache_key, output_code_key, source_code, is_backward, is_inference, cudagraphs}] of every
    CompiledFxGraph alive in this process (a gc scan; nothing is compiled or imported)."""
    classes = _graph_classes()
    if not classes:
        return []
    found = {}
    for obj in gc.get_objects():
        try:  # type(), not isinstance(): isinstance on a dead weakproxy raises ReferenceError
            if not issubclass(type(obj), classes):
                continue
        except Exception:
            continue
        src = getattr(obj, "source_code", None)
        if not isinstance(src, str) or not src:
            continue
        key = getattr(obj, "_fx_graph_cache_key", None)
        fx = getattr(obj, "fx_kwargs", None) or {}
        g = {"fx_graph_cache_key": key if isinstance(key, str) else None,
             "output_code_key": getattr(obj, "cache_key", None), "source_code": src,
             "is_backward": fx.get("is_backward") if isinstance(fx, dict) else None,
             "is_inference": fx.get("is_inference") if isinstance(fx, dict) else None,
             "cudagraphs": getattr(obj, "cudagraph_info", None) is not None}
        found.setdefault((g["fx_graph_cache_key"], g["output_code_key"]), g)
    return list(found.values())


def save_compiled(folder):
    """Write the output code of every compiled graph of this process to `folder` (`<FX graph key>.py`, or
    `<output code key>.py` when the FX graph cache was off, and index.json); returns how many were written
    (0, and no folder, without torch.compile)."""
    graphs = compiled_graphs()
    if not graphs:
        return 0
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for g in graphs:
        stem = g["fx_graph_cache_key"] or g["output_code_key"] or f"graph_{len(index)}"
        name = f"{stem}.py"
        (folder / name).write_text(g["source_code"], encoding="utf-8")
        index.append({**{k: v for k, v in g.items() if k != "source_code"}, "file": name})
    torch = sys.modules.get("torch")
    (folder / "index.json").write_text(json.dumps({"torch": getattr(torch, "__version__", None), "graphs": index},
                                                  indent=1), encoding="utf-8")
    return len(index)

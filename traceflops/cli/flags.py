"""No flag is silently ignored: a flag that does not apply to what was asked is one line and exit 2.

`traceflops analyze`:
- `--capture`, `--model` and the model flags (`--tokens`, `--seq`, `--phase`, `--tp`, `--ep`, `--draft`, `--accepted`)
  apply to one trace, not to a folder of ranks;
- `--tokens`, `--seq`, `--phase`, `--tp`, `--ep`, `--draft`, `--accepted` need `--model CONFIG`; `--seq` needs `--tokens`;
- `--executor` and `--straggler-pct` apply to several traces (ranks of one job);
- `--jobs` must be at least 1 (several traces: rank tasks; one trace: decoding processes);
- `--capture F` where F is missing, holds no graph capture, or the trace replays no CUDA/HIP graph: the
  request cannot be honored, so it is an error, not a warning (drop --capture, or give the right file).
"""
from pathlib import Path

import click
from click.core import ParameterSource

from ..errors import TraceError

ONE_TRACE = ("capture", "model_config", "tokens", "seq", "tp", "ep", "draft", "accepted")
NEEDS_MODEL = ("tokens", "seq", "phase", "tp", "ep", "draft", "accepted")
RANKS_ONLY = ("executor", "straggler_pct")


def _flag(ctx, name):
    """The option's name as typed (`--model` for the `model_config` parameter)."""
    for p in ctx.command.params:
        if p.name == name:
            return max(p.opts, key=len)
    return name


def _given(ctx, name):
    """True when the user set this parameter (not its default)."""
    if name not in ctx.params:
        return False
    src = ctx.get_parameter_source(name)
    return src in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT) or (
        src is None and ctx.params[name] is not None)


def check_analyze_flags(ctx, many, n_files):
    """Refuse flags `traceflops analyze` would not use for these inputs (before any trace is read)."""
    p = ctx.params
    jobs = p.get("jobs")
    if jobs is not None and jobs < 1:
        raise TraceError(f"--jobs must be at least 1, got {jobs}")
    if p.get("max_size") is not None and p["max_size"] <= 0:
        raise TraceError(f"--max-size must be above 0 GiB, got {p['max_size']:g}")
    if many:
        for name in ONE_TRACE:
            if _given(ctx, name):
                raise TraceError(f"{_flag(ctx, name)} applies to one trace; the {n_files} traces given are analyzed "
                                 "as ranks of one job (analyze each trace on its own to use it)")
    else:
        for name in RANKS_ONLY:
            if _given(ctx, name):
                raise TraceError(f"{_flag(ctx, name)} applies to several traces (ranks of one job); one trace was given")
    if p.get("model_config") is None:
        for name in NEEDS_MODEL:
            if _given(ctx, name):
                raise TraceError(f"{_flag(ctx, name)} needs --model CONFIG (the model's HF config.json)")
    for name in ("tokens", "seq"):
        if p.get(name) is not None and p[name] < 1:
            raise TraceError(f"--{name} must be at least 1, got {p[name]}")
    if p.get("seq") is not None and p.get("tokens") is None:
        raise TraceError("--seq needs --tokens N (the tokens the trace processed)")
    for name in ("capture", "model_config", "draft"):
        path = p.get(name)
        if path is not None and not Path(path).exists():
            raise TraceError(f"{_flag(ctx, name)} {path}: no such file")


def check_capture_used(a, capture):
    """After the analysis: --capture must have had graph replays to cost and a capture to cost them with."""
    if capture is None:
        return
    g = a.summary.get("graphs")
    if not g:
        raise TraceError(f"--capture {capture}: {a.name} replays no CUDA/HIP graph (no cudaGraphLaunch/hipGraphLaunch), "
                         "so there is nothing to take costs from it; run without --capture")
    cap = g.get("capture") or {}
    if not cap.get("captured_kernels"):
        raise TraceError(f"--capture {capture}: holds no kernels launched inside a graph capture "
                         "(cudaStreamBeginCapture…EndCapture); pass the capture trace of this run")
    if not (g.get("by") or {}).get("capture_align"):
        click.echo(f"warning: --capture {capture}: none of its {cap['captured_kernels']} captured kernels matched a "
                   f"replayed kernel of {a.name} (is it the capture of this run?)", err=True)

"""`traceflops analyze`: one trace → its output folder; a folder or several traces → ranks of one job."""
from importlib import resources
from pathlib import Path

import click

from ..errors import TraceError
from .errors import guarded
from .flags import check_analyze_flags, check_capture_used


def bundled_sample():
    return str(resources.files("traceflops") / "sample_data" / "h100_bert_small.json.gz")


@click.command()
@click.argument("traces", nargs=-1, type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--out", "outdir", type=click.Path(path_type=str), help="Output folder (default traceflops-out/<trace name>/).")
@click.option("--device", default=None, help="Override the GPU (catalog key or name; see `traceflops devices`).")
@click.option("--device-file", type=click.Path(path_type=str), default=None, help="YAML/JSON adding devices or measured ceilings.")
@click.option("--max-size", type=float, default=8.0, show_default=True, help="Largest inflated trace to accept, in GiB.")
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@click.option("-q", "--quiet", is_flag=True, help="No summary table.")
@click.option("--executor", default="local", show_default=True,
              help="Several traces (a folder or many files) are ranks: local processes, dask://HOST:PORT or dask://local.")
@click.option("--jobs", type=int, default=None,
              help="Parallel processes: rank tasks for several traces (--executor local), decoding workers for one "
                   "large trace (default: CPU count).")
@click.option("--straggler-pct", type=float, default=10.0, show_default=True,
              help="A rank whose GPU busy or step time is this % above the median is a straggler.")
@click.option("--capture", type=click.Path(path_type=str), default=None,
              help="Graph-capture trace of the same run: replayed CUDA/HIP graph kernels take its kernels' costs.")
@click.option("--compiled", type=click.Path(path_type=str), default=None,
              help="Inductor output code of the run (the Inductor cache dir, a TORCH_COMPILE_DEBUG folder, output_code.py "
                   "files, or the folder the profiler hook saved): torch.compile kernels take their costs from it.")
@click.option("--model", "model_config", type=click.Path(path_type=str), default=None,
              help="HF config.json: per-step model FLOPs, bytes, MFU and MBU from the serving step annotations; with "
                   "--tokens, reconcile its analytic FLOPs with the FLOPs counted in the trace.")
@click.option("--tokens", type=int, default=None, help="Tokens the trace processed (for --model).")
@click.option("--seq", type=int, default=None,
              help="Tokens per prompt (for --model --tokens: the trace ran tokens/seq prompts of seq tokens).")
@click.option("--phase", type=click.Choice(["prefill", "decode", "train"]), default="prefill", show_default=True,
              help="What the tokens were (for --model).")
@click.option("--tp", type=int, default=None, help="Tensor-parallel degree (for --model; default: distributedInfo).")
@click.option("--ep", type=int, default=None, help="Expert-parallel degree (for --model; the GPUs are the larger of --tp/--ep).")
@click.option("--draft", type=click.Path(path_type=str), default=None, help="Draft model config.json (speculative decoding).")
@click.option("--accepted", type=float, default=None,
              help="Draft tokens accepted per request per verify step (speculative decoding; not in any annotation).")
@guarded
def analyze(traces, outdir, device, device_file, max_size, no_report, quiet, executor, jobs, straggler_pct,
            capture, model_config, tokens, seq, phase, compiled, tp, ep, draft, accepted):
    """Analyze TRACE files (the bundled sample when none is given).

    One trace writes OUT/kernels.parquet, ops.parquet, summary.json, report.html. A folder or several
    traces are treated as ranks of one job and analyzed in parallel into a rank-partitioned dataset:
    OUT/kernels/rank=N/part-0.parquet, OUT/ops/rank=N/…, OUT/ranks/rank=N/summary.json and a combined
    OUT/summary.json with per-rank totals and stragglers.
    """
    from ..pipeline import analyze as run
    from .render import print_summary, progress_bar

    paths = list(traces) or [bundled_sample()]
    files, many = _expand(paths)
    check_analyze_flags(click.get_current_context(), many, len(files))
    max_bytes = int(max_size * (1 << 30))
    if many and compiled:
        raise TraceError("--compiled names the output code of one trace; for a folder of ranks, save each rank's "
                         "code beside its trace (<trace>.compiled/, as the profiler hook does)")
    if many:
        from ..apps.ranks import run_ranks
        target = Path(outdir or "traceflops-out")
        s = run_ranks(files, target, jobs=jobs, executor=executor, straggler_pct=straggler_pct, device=device,
                      device_file=device_file, max_bytes=max_bytes, report=not no_report)
        for w in s["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if not quiet:
            from .render import print_ranks
            print_ranks(s, target)
        return
    for path in files:
        with progress_bar(quiet) as progress:
            try:
                a = run(path, device=device, device_file=device_file, max_bytes=max_bytes, progress=progress, capture=capture,
                        compiled=compiled, workers=jobs, model=model_config, tp=tp, ep=ep, tokens=tokens, seq=seq,
                        phase=phase, draft=draft, accepted=accepted)
            except TraceError:
                raise
            except (ValueError, OverflowError, RecursionError, UnicodeDecodeError) as e:
                raise TraceError(f"{path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        check_capture_used(a, capture)
        if model_config and not tokens and not (a.steps is not None and len(a.steps)):
            raise TraceError("--model: the trace has no serving step annotations; give --tokens N (the tokens it processed)")
        target = Path(outdir) if outdir else Path("traceflops-out") / a.name
        written = a.write(target, report=not no_report)
        for w in a.summary["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if not quiet:
            print_summary(a, written)
            if model_config and a.summary.get("serving") and a.summary["serving"].get("by_phase"):
                from .render import table
                table("model cost per step phase (MFU, MBU: over the steps' GPU wall time)",
                      [{k: r[k] for k in ("phase", "steps", "tokens", "model_flops", "model_bytes", "mfu", "mbu")}
                       for r in a.summary["serving"]["by_phase"]])
            if model_config and tokens:
                from .render import table
                r = a.summary["model_reconciliation"]
                table(f"model vs trace FLOPs ({r['phase']}, {r['tokens']:,} tokens; total ratio {r['ratio'] or 0:.3f})",
                      r["by_family"])


def _expand(paths):
    """(trace files, whether they are several ranks): a folder or more than one file means ranks."""
    files, many = [], len(paths) > 1
    for p in paths:
        pp = Path(p)
        if pp.is_dir():
            many = True
            found = sorted(x for x in pp.iterdir() if x.is_file() and (x.name.endswith(".json") or x.name.endswith(".json.gz")))
            if not found:
                raise TraceError(f"{p}: folder holds no .json or .json.gz traces")
            files.extend(str(x) for x in found)
        else:
            files.append(p)
    return files, many or len(files) > 1

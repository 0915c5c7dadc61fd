"""`traceflops analyze`: one trace → its output folder; a folder or several traces → ranks of one job."""
from importlib import resources
from pathlib import Path

import click

from ..errors import TraceError
from .errors import guarded


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
@click.option("--jobs", type=int, default=None, help="Parallel rank tasks for --executor local (default: CPU count).")
@click.option("--straggler-pct", type=float, default=10.0, show_default=True,
              help="A rank whose GPU busy or step time is this % above the median is a straggler.")
@click.option("--capture", type=click.Path(path_type=str), default=None,
              help="Graph-capture trace of the same run: replayed CUDA/HIP graph kernels take its kernels' costs.")
@click.option("--model", "model_config", type=click.Path(path_type=str), default=None,
              help="HF config.json: reconcile its analytic FLOPs with the FLOPs counted in the trace (needs --tokens).")
@click.option("--tokens", type=int, default=None, help="Tokens the trace processed (for --model).")
@click.option("--phase", type=click.Choice(["prefill", "decode", "train"]), default="prefill", show_default=True,
              help="What the tokens were (for --model).")
@guarded
def analyze(traces, outdir, device, device_file, max_size, no_report, quiet, executor, jobs, straggler_pct,
            capture, model_config, tokens, phase):
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
    max_bytes = int(max_size * (1 << 30))
    if many:
        from ..apps.ranks import run_ranks
        target = Path(outdir or "traceflops-out")
        s = run_ranks(files, target, jobs=jobs, executor=executor, straggler_pct=straggler_pct, device=device,
                      device_file=device_file, max_bytes=max_bytes, report=not no_report)
        for w in s["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if not quiet:
            from .render import table
            strag = {x["rank"] for x in s["stragglers"]}
            table(f"{s['rank_count']} ranks -> {target}", [
                {"rank": r["rank"], "trace": r["trace"], "kernels": r["totals"]["kernels"],
                 "gpu_busy_ms": r["totals"]["gpu_busy_us"] / 1e3,
                 "step_ms": r["step_time_us"] / 1e3 if r["step_time_us"] else None,
                 "straggler": "yes" if r["rank"] in strag else ""} for r in s["ranks"]])
        return
    for path in files:
        with progress_bar(quiet) as progress:
            try:
                a = run(path, device=device, device_file=device_file, max_bytes=max_bytes, progress=progress, capture=capture)
            except TraceError:
                raise
            except (ValueError, OverflowError, RecursionError, UnicodeDecodeError) as e:
                raise TraceError(f"{path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        if model_config:
            if not tokens:
                raise TraceError("--model needs --tokens N (the tokens the trace processed)")
            a.summary["model_reconciliation"] = a.reconcile(model_config, tokens, phase=phase)
        target = Path(outdir) if outdir else Path("traceflops-out") / a.name
        written = a.write(target, report=not no_report)
        for w in a.summary["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if not quiet:
            print_summary(a, written)
            if model_config:
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

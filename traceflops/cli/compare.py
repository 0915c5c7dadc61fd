"""`traceflops compare` and `traceflops annotate`.

Bad input (missing or unreadable trace, unknown device) prints one line and exits 2, also when these
commands run outside the main group.  `compare --fail-on-regression PCT` exits 1 when the GPU time of
matched work grew by more than PCT percent.
"""
from pathlib import Path

import click

from .errors import guarded

EXIT_REGRESSION = 1


def _stem(path):
    from ..ingest import trace_name
    return trace_name(path)


@click.command()
@click.argument("base", type=click.Path(path_type=str))
@click.argument("new", type=click.Path(path_type=str))
@click.option("-o", "--out", "outdir", type=click.Path(path_type=str), default=None,
              help="Output folder (default traceflops-out/compare/<base>__vs__<new>/).")
@click.option("--format", "formats", type=click.Choice(["html", "md", "json"]), multiple=True, default=("html",),
              show_default=True, help="Output format; repeat for several (md also writes roofline_shift.png when it can).")
@click.option("--fail-on-regression", "fail_pct", type=float, default=None, metavar="PCT",
              help="Exit 1 when the total GPU time of matched work grows by more than PCT percent.")
@click.option("--device", default=None, help="Override the GPU of both traces (catalog key or name).")
@click.option("--device-file", type=click.Path(path_type=str), default=None, help="YAML/JSON adding devices or ceilings.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and the regression verdict.")
@guarded
def compare(base, new, outdir, formats, fail_pct, device, device_file, quiet):
    """Compare two traces BASE → NEW, matching work by op + shapes + dtype + category."""
    from ..outputs.compare import compare as run, write_outputs
    from ..pipeline import analyze
    from ..roofline import Devices
    devices = Devices.load(device, device_file)
    a = analyze(base, devices=devices)
    b = analyze(new, devices=devices)
    res = run(a, b)
    out = Path(outdir) if outdir else Path("traceflops-out") / "compare" / f"{_stem(base)}__vs__{_stem(new)}"
    paths = write_outputs(res, out, formats=formats, fail_on_regression=fail_pct)
    s = res.summary
    d = s["matched_delta_pct"]
    if not quiet:
        click.echo(f"matched work: {s['base']['matched_time_us']:.1f} us -> {s['new']['matched_time_us']:.1f} us "
                   f"({'n/a' if d is None else f'{d:+.2f}%'}); matched share of GPU time "
                   f"{100 * (s['base']['matched_share'] or 0):.1f}% (base) / {100 * (s['new']['matched_share'] or 0):.1f}% (new); "
                   f"keys matched/new/missing {s['keys']['matched']}/{s['keys']['new']}/{s['keys']['missing']}")
        for k, p in paths.items():
            click.echo(f"{k}: {p}")
    if fail_pct is not None:
        if res.regressed(fail_pct):
            click.echo(f"traceflops: regression: GPU time of matched work grew {d:+.2f}%, over the {fail_pct:g}% limit",
                       err=True)
            raise click.exceptions.Exit(EXIT_REGRESSION)
        if not quiet:
            click.echo(f"regression check passed: {'n/a' if d is None else f'{d:+.2f}%'} <= {fail_pct:g}%")


@click.command()
@click.argument("trace", type=click.Path(path_type=str))
@click.option("-o", "--out", "out", type=click.Path(path_type=str), default=None,
              help="Output file (default <trace name>.annotated.json.gz beside the input); .gz is gzipped.")
@click.option("--device", default=None, help="Override the GPU (catalog key or name).")
@click.option("--device-file", type=click.Path(path_type=str), default=None)
@guarded
def annotate(trace, out, device, device_file):
    """Write TRACE with flops, bytes, achieved/ceiling TFLOP/s, % of ceiling, bound and op in each GPU event's args
    (open it in Perfetto or chrome://tracing)."""
    from ..apps.annotate import annotate as run
    target = out or str(Path(trace).with_name(_stem(trace) + ".annotated.json.gz"))
    r = run(trace, target, device=device, device_file=device_file)
    click.echo(f"annotated {r['annotated']} of {r['gpu_events']} GPU events -> {r['path']}")

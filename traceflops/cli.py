"""The `traceflops` command: a thin click shell over the Python API.

Bad input (missing file, damaged beyond recovery, unknown device) prints one line and exits 2.
"""
import sys
from importlib import resources
from pathlib import Path

import click

from .errors import TraceError

EXIT_BAD_INPUT = 2


def bundled_sample():
    return str(resources.files("traceflops") / "sample_data" / "h100_bert_small.json.gz")


def fail(msg):
    click.echo(f"traceflops: error: {msg}", err=True)
    raise click.exceptions.Exit(EXIT_BAD_INPUT)


class Group(click.Group):
    """Turn bad-input exceptions from any command into one line and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (TraceError, ValueError, OSError) as e:
            fail(str(e).splitlines()[0] if str(e) else type(e).__name__)


@click.group(cls=Group)
@click.version_option(package_name="traceflops")
def main():
    """FLOPs, bytes, roofline and MFU from saved PyTorch profiler traces."""


@main.command()
@click.argument("traces", nargs=-1, type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--out", "outdir", type=click.Path(path_type=str), help="Output folder (default traceflops-out/<trace name>/).")
@click.option("--device", default=None, help="Override the GPU (catalog key or name; see `traceflops devices`).")
@click.option("--device-file", type=click.Path(path_type=str), default=None, help="YAML/JSON adding devices or measured ceilings.")
@click.option("--max-size", type=float, default=8.0, show_default=True, help="Largest inflated trace to accept, in GiB.")
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@click.option("-q", "--quiet", is_flag=True, help="No summary table.")
def analyze(traces, outdir, device, device_file, max_size, no_report, quiet):
    """Analyze TRACE files (the bundled sample when none is given)."""
    from .analysis import analyze as run
    from .terminal import print_summary, progress_bar

    paths = list(traces) or [bundled_sample()]
    files = _expand(paths)
    for path in files:
        with progress_bar(quiet) as progress:
            a = run(path, device=device, device_file=device_file, max_bytes=int(max_size * (1 << 30)), progress=progress)
        target = Path(outdir) if outdir and len(files) == 1 else Path(outdir or "traceflops-out") / a.name
        written = a.write(target, report=not no_report)
        for w in a.summary["warnings"]:
            click.echo(f"warning: {w}", err=True)
        if not quiet:
            print_summary(a, written)


def _expand(paths):
    files = []
    for p in paths:
        pp = Path(p)
        if pp.is_dir():
            found = sorted(x for x in pp.iterdir() if x.is_file() and (x.name.endswith(".json") or x.name.endswith(".json.gz")))
            if not found:
                raise TraceError(f"{p}: folder holds no .json or .json.gz traces")
            files.extend(str(x) for x in found)
        else:
            files.append(p)
    return files


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@click.option("--device-file", type=click.Path(path_type=str), default=None)
def devices(as_json, device_file):
    """List the device catalog (dense datasheet peaks, TFLOP/s; HBM TB/s)."""
    import json

    from .devices import catalog_table, load_catalog
    rows = catalog_table(load_catalog(device_file))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from .terminal import table
    table("Device catalog (dense peaks)", rows)


def _register_optional():
    from .model_cli import model
    from .report_cli import annotate, compare
    main.add_command(model)
    main.add_command(compare)
    main.add_command(annotate)


_register_optional()

if __name__ == "__main__":
    sys.exit(main())

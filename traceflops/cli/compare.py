"""`traceflops compare` and `traceflops annotate`.

Bad input (missing or unreadable trace, unknown device, a bad --gate) prints one line and exits 2, also when
these commands run outside the main group. `compare --fail-on-regression PCT` exits 1 when the GPU time of
matched work grew by more than PCT percent; `--gate SPEC` (outputs/compare/gate.py: `mfu:-2pt`, `time:+5%`,
`tflops:-3%`, `ceiling:-5pt`) exits 1 when any gate fails. The verdict is appended to $GITHUB_STEP_SUMMARY
when that is set (GitHub Actions). `-o -` prints compare.md (or compare.json) to stdout and everything else
to stderr.
"""
import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from ..errors import TraceError
from .errors import guarded

EXIT_REGRESSION = 1


def _stem(path):
    from ..ingest import trace_name
    return trace_name(path)


@click.command()
@click.argument("base", type=click.Path(path_type=str))
@click.argument("new", type=click.Path(path_type=str))
@click.option("-o", "--out", "outdir", type=click.Path(path_type=str), default=None,
              help="Output folder (default traceflops-out/compare/<base>__vs__<new>/); `-' prints the markdown (or "
                   "the JSON) to stdout.")
@click.option("--format", "formats", type=click.Choice(["html", "md", "json"]), multiple=True, default=("html",),
              show_default=True, help="Output format; repeat for several (md also writes roofline_shift.png when it can).")
@click.option("--fail-on-regression", "fail_pct", type=float, default=None, metavar="PCT",
              help="Exit 1 when the total GPU time of matched work grows by more than PCT percent.")
@click.option("--gate", "gate_specs", multiple=True, metavar="SPEC",
              help="Exit 1 when a metric moves past a limit: METRIC:±N% or METRIC:±Npt with METRIC time, mfu, busy_mfu, "
                   "tflops or ceiling (e.g. --gate mfu:-2pt --gate time:+5% --gate tflops:-3%). Repeatable.")
@click.option("--device", default=None, help="Override the GPU of both traces (catalog key or name).")
@click.option("--device-file", type=click.Path(path_type=str), default=None, help="YAML/JSON adding devices or ceilings.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and the gate verdicts.")
@guarded
def compare(base, new, outdir, formats, fail_pct, gate_specs, device, device_file, quiet):
    """Compare two traces BASE → NEW, matching work by op + shapes + dtype + category."""
    from ..outputs.compare import compare as run, evaluate_gates, parse_gate, to_json, to_markdown, write_outputs
    from ..outputs.compare.figures import IMAGE_HELP
    from ..outputs.write import writable_dir
    from ..pipeline import analyze
    from ..roofline import Devices
    gates = [parse_gate(g) for g in gate_specs]  # a bad spec fails before any trace is read
    to_stdout = outdir == "-"
    if to_stdout:
        given = click.get_current_context().get_parameter_source("formats") == ParameterSource.COMMANDLINE
        formats = tuple(dict.fromkeys(formats)) if given else ("md",)
        if len(formats) != 1 or formats[0] not in ("md", "json"):
            raise TraceError("-o - prints one format to stdout: --format md or --format json")
    devices = Devices.load(device, device_file)
    out = None
    if not to_stdout:  # an unwritable folder fails before two traces are analyzed
        out = writable_dir(Path(outdir) if outdir else Path("traceflops-out") / "compare" / f"{_stem(base)}__vs__{_stem(new)}")
    a = analyze(base, devices=devices)
    b = analyze(new, devices=devices)
    res = run(a, b)
    results = evaluate_gates(res, gates) if gates else []
    verdicts = results + ([_regression(res, fail_pct)] if fail_pct is not None else [])
    say = (lambda m: click.echo(m, err=True)) if to_stdout else click.echo
    if to_stdout:
        if formats[0] == "md":
            click.echo(to_markdown(res, image=None, image_note="stdout", fail_on_regression=fail_pct, gates=results),
                       nl=False)
        else:
            click.echo(to_json(res, gates=results), nl=False)
        paths = {}
    else:
        notes = {}
        paths = write_outputs(res, out, formats=formats, fail_on_regression=fail_pct, gates=results, notes=notes)
        if notes.get("image") and not quiet:
            say(f"note: roofline_shift.png not written: {IMAGE_HELP[notes['image']].replace('`', '')}")
    s = res.summary
    d = s["matched_delta_pct"]
    if not quiet:
        say(f"matched work: {s['base']['matched_time_us']:.1f} us -> {s['new']['matched_time_us']:.1f} us "
            f"({'n/a' if d is None else f'{d:+.2f}%'}); matched share of GPU time "
            f"{100 * (s['base']['matched_share'] or 0):.1f}% (base) / {100 * (s['new']['matched_share'] or 0):.1f}% (new); "
            f"keys matched/new/missing {s['keys']['matched']}/{s['keys']['new']}/{s['keys']['missing']}")
        for k, p in paths.items():
            say(f"{k}: {p}")
    if verdicts:
        _step_summary(res, verdicts)
    from ..outputs.compare.gate import describe
    for r in results:
        if not r["passed"] or not quiet:
            click.echo(f"traceflops: gate {describe(r)}", err=not r["passed"] or to_stdout)
    if fail_pct is not None:
        if res.regressed(fail_pct):
            click.echo(f"traceflops: regression: GPU time of matched work grew {d:+.2f}%, over the {fail_pct:g}% limit",
                       err=True)
        elif not quiet:
            say(f"regression check passed: {'n/a' if d is None else f'{d:+.2f}%'} <= {fail_pct:g}%")
    if any(not r["passed"] for r in verdicts):
        raise click.exceptions.Exit(EXIT_REGRESSION)


def _regression(res, pct):
    from ..outputs.compare.gate import regression_result
    return regression_result(res, pct)


def _step_summary(res, verdicts):
    """Append the verdict to $GITHUB_STEP_SUMMARY (the job summary of a GitHub Actions step), when it is set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from ..outputs.compare.gate import gates_markdown
    from ..outputs.redact import redact_text
    s = res.summary
    head = (f"traceflops compare `{s['base']['name']}` → `{s['new']['name']}`: "
            f"matched GPU time {s['matched_delta_pct']:+.2f}%\n\n" if s.get("matched_delta_pct") is not None else "")
    try:
        with open(target, "a", encoding="utf-8") as f:
            f.write(redact_text(head + gates_markdown(verdicts)) + "\n")
    except OSError as e:
        print(f"warning: cannot append to $GITHUB_STEP_SUMMARY ({e.strerror or e})", file=sys.stderr)


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
    if Path(target).resolve() == Path(trace).resolve():
        raise TraceError(f"-o {out}: that is the input trace; annotate writes a new file beside it")
    r = run(trace, target, device=device, device_file=device_file)
    click.echo(f"annotated {r['annotated']} of {r['gpu_events']} GPU events -> {r['path']}")

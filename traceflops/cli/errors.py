"""The CLI's one error path: bad input (missing file, damaged beyond recovery, unknown device, bad flag
combination) prints one line and exits 2; a bug prints one line that says it is ours."""
import functools

import click

from ..errors import TraceError

EXIT_BAD_INPUT = 2


def fail(msg):
    """One line on stderr, exit 2."""
    click.echo(f"traceflops: error: {msg}", err=True)
    raise click.exceptions.Exit(EXIT_BAD_INPUT)


def _first_line(e):
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def run_guarded(fn, *args, **kwargs):
    """fn(*args, **kwargs) with every exception turned into one line (exit 2); click's own exits pass."""
    try:
        return fn(*args, **kwargs)
    except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
        raise
    except (TraceError, ValueError, OSError, OverflowError, RecursionError, UnicodeDecodeError) as e:
        fail(_first_line(e))
    except Exception as e:  # a bug, not bad input: still one line, and say it is ours
        fail(f"internal error ({type(e).__name__}: {_first_line(e) if str(e) else ''}); please report it")


def guarded(fn):
    """Decorator: the command's bad input exits 2 with one line, also when it runs outside the main group."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return run_guarded(fn, *args, **kwargs)
    return wrapper

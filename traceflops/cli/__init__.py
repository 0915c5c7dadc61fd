"""The `traceflops` command: a thin click shell over the Python API.

Bad input (missing file, damaged beyond recovery, unknown device) prints one line and exits 2 (errors.py).
"""
import sys

import click

from .analyze import analyze
from .compare import annotate, compare
from .devices import devices
from .errors import EXIT_BAD_INPUT, fail, run_guarded
from .model import model

__all__ = ["main", "entry", "fail", "EXIT_BAD_INPUT"]


class Group(click.Group):
    """Turn bad-input exceptions from any command into one line and exit code 2."""

    def invoke(self, ctx):
        return run_guarded(super().invoke, ctx)


@click.group(cls=Group)
@click.version_option(package_name="traceflops")
def main():
    """FLOPs, bytes, roofline and MFU from saved PyTorch profiler traces."""


for _cmd in (analyze, devices, model, compare, annotate):
    main.add_command(_cmd)


def entry():
    """The console script: `main`, then a fast exit. Tearing down the interpreter frees every object of a
    large analysis one by one (0.3 s after a 505 MB trace); the OS reclaims it at once instead. Exit
    handlers still run, and output is flushed first."""
    import atexit
    import os
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

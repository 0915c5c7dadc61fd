"""Where the tests find the real traces, and what happens when they are not there.

TRACEFLOPS_SHARED names the shared *traces* folder (what ../shared/traces beside the repository is); the
reference tables sit beside it (TRACEFLOPS_SHARED/../reference). Without it, tests that read real traces skip
locally (the header says so in one line) and, in CI (CI=true), the run fails before collecting anything.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Under coverage (README "Tests"), processes the tests start in other folders (the CLI in a tmp cwd) write their
# data beside this run's, where it is combined: coverage reads COVERAGE_FILE in every process.
os.environ.setdefault("COVERAGE_FILE", os.path.abspath(".coverage"))
SAMPLES = REPO / "sample_traces"
DEFAULT_SHARED = REPO.parent / "shared" / "traces"
ENV = "TRACEFLOPS_SHARED"


def shared_traces():
    """The shared traces folder, or None: $TRACEFLOPS_SHARED when set, else ../shared/traces."""
    env = os.environ.get(ENV)
    cand = Path(env) if env else DEFAULT_SHARED
    return cand if cand.is_dir() else None


SHARED = shared_traces()
SHARED_ROOT = SHARED.parent if SHARED is not None else None  # the shared/ folder: reference/, tools/
NOT_TRACES = {"SOURCES.json", "flops_reference.json"}


def all_shared_traces():
    if SHARED is None:
        return []
    return sorted(p for p in SHARED.rglob("*") if p.is_file() and (p.name.endswith(".json") or p.name.endswith(".json.gz"))
                  and p.name not in NOT_TRACES)


needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/traces not present")


def in_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _where():
    env = os.environ.get(ENV)
    return f"{ENV}={env}" if env else f"{DEFAULT_SHARED} (set {ENV} to the traces folder)"


def pytest_configure(config):
    if SHARED is None and in_ci():
        raise pytest.UsageError(f"CI: the shared traces are missing: {_where()}; the tests that read them must run")


def _missing_line():
    return f"shared traces: NOT FOUND at {_where()}: every test that reads real traces skipped"


def pytest_report_header(config):
    return f"shared traces: {SHARED}" if SHARED is not None else _missing_line()


def pytest_terminal_summary(terminalreporter):
    if SHARED is None:  # also under -q, which drops the header
        terminalreporter.write_line(_missing_line(), yellow=True, bold=True)

"""Without the shared traces CI fails and a local run skips with one line; TRACEFLOPS_SHARED names the traces
folder. Checked by running pytest with this repository's conftest.py in a copy that has no ../shared beside it."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import conftest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bare_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", repo / "tests" / "conftest.py")
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_one.py").write_text(
        "from .conftest import SHARED, needs_shared\n\n\n"
        "def test_plain():\n    assert True\n\n\n"
        "@needs_shared\ndef test_real_traces():\n    assert SHARED.is_dir()\n")
    assert not (tmp_path / "shared").exists()
    return repo


def pytest_in(repo, *flags, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("CI", conftest.ENV, "PYTHONPATH")}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", *(flags or ["-q"]), "-p", "no:cacheprovider", "tests"],
                          cwd=repo, env=e, capture_output=True, text=True, timeout=120)


def test_ci_fails_without_shared_traces(bare_repo):
    res = pytest_in(bare_repo, CI="true")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "CI: the shared traces are missing" in out and "passed" not in out


def test_local_run_skips_with_one_line(bare_repo):
    res = pytest_in(bare_repo)
    assert res.returncode == 0, res.stdout + res.stderr
    said = [line for line in res.stdout.splitlines() if line.startswith("shared traces:")]
    assert len(said) == 1 and "NOT FOUND" in said[0] and "TRACEFLOPS_SHARED" in said[0]  # under -q too
    assert re.search(r"1 passed, 1 skipped", res.stdout)


def test_env_names_the_traces_folder(bare_repo, tmp_path):
    traces = tmp_path / "elsewhere" / "my-traces"
    traces.mkdir(parents=True)
    res = pytest_in(bare_repo, "-v", CI="true", TRACEFLOPS_SHARED=str(traces))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"shared traces: {traces}" in res.stdout and "2 passed" in res.stdout and "NOT FOUND" not in res.stdout
    # the shared root (reference tables, tools) is the folder above it
    wrong = pytest_in(bare_repo, CI="true", TRACEFLOPS_SHARED=str(tmp_path / "elsewhere" / "missing"))
    assert wrong.returncode != 0 and "TRACEFLOPS_SHARED=" in wrong.stdout + wrong.stderr


def test_this_run_uses_one_meaning():
    if conftest.SHARED is None:
        pytest.skip("../shared/traces not present")
    assert (conftest.SHARED / "INVENTORY.md").exists() and (conftest.SHARED / "tracelens").is_dir()
    assert conftest.SHARED_ROOT == conftest.SHARED.parent


def test_ci_script_runs_the_readme_command():
    readme = (REPO / "README.md").read_text()
    cmd = re.search(r"^(apt-get update .*python3 -m pytest -q)", readme, re.M).group(1).split("   #")[0].strip()
    script = (REPO / ".ci" / "run").read_text()
    assert script.rstrip().splitlines()[-1] == cmd
    assert "export CI=true" in script

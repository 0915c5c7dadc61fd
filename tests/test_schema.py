"""docs/schema.md is generated from traceflops/outputs/schema.py, and real outputs carry exactly what it lists."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import traceflops
from traceflops.outputs import schema

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "sample_traces").glob("*.json.gz"))


def test_schema_page_is_current():
    assert (REPO / "docs" / "schema.md").read_text() == schema.markdown(), \
        "docs/schema.md is stale: python -m traceflops.outputs.schema > docs/schema.md"


def _pattern(path):
    """A documented key path as a regex over concrete paths ('a.*' any key, 'a[]' a list element)."""
    out = ""
    for part in re.split(r"(\.\*|\[\])", path):
        out += {".*": r"\.[^.]+", "[]": r"\[\]"}.get(part, re.escape(part))
    return re.compile(out + r"$")


def _paths(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            q = f"{p}.{k}" if p else str(k)
            yield q
            yield from _paths(v, q)
    elif isinstance(o, list):
        for v in o:
            if isinstance(v, (dict, list)):
                yield from _paths(v, p + "[]")


DOCUMENTED = [_pattern(f.name) for f in schema.SUMMARY]


def _undocumented(summary):
    """Concrete key paths no documented path covers (a documented map or object covers what is below it only
    when it says so with `.*`)."""
    return sorted({p for p in _paths(summary) if not any(r.match(p) or r.match(p + "[]") for r in DOCUMENTED)
                   and not any(_pattern(f.name + ".*").match(p) or _pattern(f.name + "[].*").match(p)
                               for f in schema.SUMMARY if f.name.endswith(".*") or f.name.endswith("[].*"))})


def test_undocumented_key_is_caught():
    assert _undocumented({"totals": {"flops": 1.0, "new_thing": 2}}) == ["totals.new_thing"]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name[:40])
def test_outputs_match_the_schema(path, tmp_path):
    a = traceflops.analyze(path)
    written = a.write(tmp_path, report=False)
    k, o = pd.read_parquet(written["kernels"]), pd.read_parquet(written["ops"])
    assert list(k.columns) == [f.name for f in schema.KERNELS]
    assert list(o.columns) == [f.name for f in schema.OPS]
    assert _undocumented(json.loads(Path(written["summary"]).read_text())) == []

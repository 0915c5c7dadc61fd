import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_traces"


def shared_traces():
    env = os.environ.get("TRACEFLOPS_SHARED")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "traces"]:
        if cand.is_dir():
            return cand
    return None


SHARED = shared_traces()
NOT_TRACES = {"SOURCES.json", "flops_reference.json"}


def all_shared_traces():
    if SHARED is None:
        return []
    return sorted(p for p in SHARED.rglob("*") if p.is_file() and (p.name.endswith(".json") or p.name.endswith(".json.gz"))
                  and p.name not in NOT_TRACES)


needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/traces not present")

"""analyze() pauses the cyclic GC for speed and always restores the caller's setting."""
import gc

import pytest

from tests.conftest import SAMPLES
from traceflops import analyze
from traceflops.memory import gc_paused

TRACE = SAMPLES / "h100__gaunernst_bert-small-uncased__1016001.json.gz"


def test_gc_state_restored():
    assert gc.isenabled()
    seen = []
    with gc_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ValueError):
        with gc_paused():
            raise ValueError
    assert gc.isenabled()
    a = analyze(TRACE)
    assert gc.isenabled() and len(a.kernels)
    gc.disable()
    try:
        analyze(TRACE)
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()

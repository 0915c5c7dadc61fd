"""A real torch.compile run (torch 2.13, CPU): the profiler hook saves the output code of every compiled graph
beside the trace, and the analysis costs the graph calls from it. On CPU Inductor emits C++ kernels (invisible
in the trace), but the `## Call CompiledFxGraph` annotation, the FX graph keys, the cache layout and the
output-code structure are the ones a GPU run has, and the extern GEMMs (aten::addmm / aten::mm) are ops the
code's call sites must be matched with. With record_shapes=False those ops record no shapes: their costs
must come from the code, and must equal what the formulas give with record_shapes=True."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from traceflops import analyze

torch = pytest.importorskip("torch")
REPO = Path(__file__).resolve().parents[1]
SCRIPT = """
import os, sys
import torch
from torch.profiler import profile, ProfilerActivity, schedule
from traceflops import on_trace_ready
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(128, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64))
cm = torch.compile(m)
x = torch.randn(8, 128)
cm(x).sum().backward()  # compile fwd and bwd outside the profiled window
for rs in (1, 0):
    h = on_trace_ready(os.path.join(sys.argv[1], f"rs{rs}"), worker_name="w", report=False)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=bool(rs),
                 schedule=schedule(wait=0, warmup=0, active=1, repeat=1), on_trace_ready=h) as p:
        cm(x).sum().backward()
        p.step()
    assert not h.errors, h.errors
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled_hook")
    env = dict(os.environ, PYTHONPATH=str(REPO), TORCHINDUCTOR_CACHE_DIR=str(out / "cache"))
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, timeout=900,
                       env=env, cwd=REPO)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out


def _gemms(a):
    o = a.ops
    g = o[o["name"].isin(["aten::addmm", "aten::mm"])].sort_values("ts_us")
    return g[["name", "flops", "bytes"]].to_numpy().tolist(), g["flops_source"].tolist()


def _keys(trace):
    names = {e.get("name", "") for e in json.loads(Path(trace).read_text())["traceEvents"]}
    return {n.split()[3] for n in names if n.startswith("## Call CompiledFxGraph ")}


def test_hook_saves_code_keyed_by_the_annotation(run):
    folder = run / "rs0" / "w.1.compiled"
    index = json.loads((folder / "index.json").read_text())
    keys = {g["fx_graph_cache_key"] for g in index["graphs"]}
    assert keys == _keys(run / "rs0" / "w.1.pt.trace.json") and len(keys) == 2  # forward and backward
    assert {g["file"] for g in index["graphs"]} == {f"{k}.py" for k in keys}
    assert sorted(g["is_backward"] for g in index["graphs"]) == [False, True]
    s = json.loads((run / "rs0" / "w.1" / "summary.json").read_text())["compiled"]  # the hook's own analysis
    assert s["path"] == str(folder) and s["graph_calls"] == s["graph_calls_matched"] == 2
    assert s["by"] == {"output_code": 5}  # 2 addmm (forward) + 3 mm (backward)


def test_code_gives_the_costs_shapes_give(run):
    """No shapes recorded: the GEMMs' FLOPs and bytes from the saved code equal the formulas over recorded shapes."""
    with_shapes, src1 = _gemms(analyze(run / "rs1" / "w.1.pt.trace.json"))
    no_shapes, src0 = _gemms(analyze(run / "rs0" / "w.1.pt.trace.json"))  # finds w.1.compiled/ beside it
    assert len(with_shapes) == 5 and all(f > 0 for _, f, _ in with_shapes)
    assert no_shapes == with_shapes and set(src0) == {"compiled"} and set(src1) == {"formula"}
    bare = analyze(run / "rs0" / "w.1.pt.trace.json", compiled=run / "rs1" / "w.1.compiled")
    assert _gemms(bare)[0] == with_shapes  # the other profile's folder holds the same graphs


def test_cache_dir_and_debug_style_folders(run, tmp_path):
    """The Inductor cache dir (FX keys from the fxgraph entries, read with pickletools) and a folder of
    output_code.py files without keys (calls matched by their op sequence) give the same costs."""
    trace = run / "rs0" / "w.1.pt.trace.json"
    with_shapes, _ = _gemms(analyze(run / "rs1" / "w.1.pt.trace.json"))
    via_cache = analyze(trace, compiled=run / "cache")
    assert via_cache.summary["compiled"]["with_graph_key"] >= 2
    assert _gemms(via_cache)[0] == with_shapes
    for i, f in enumerate(sorted((run / "rs0" / "w.1.compiled").glob("f*.py"))):
        (tmp_path / f"model__0_{i}").mkdir()
        shutil.copy(f, tmp_path / f"model__0_{i}" / "output_code.py")
    debug = analyze(trace, compiled=tmp_path)
    assert debug.summary["compiled"]["with_graph_key"] == 0
    assert _gemms(debug)[0] == with_shapes
    assert np.isfinite(debug.ops["flops"].to_numpy(float)).any()


class _FakeProf:
    step_num = 3

    def export_chrome_trace(self, path):
        Path(path).write_text(json.dumps({"traceEvents": []}))


def test_handler_keeps_both_exports_of_one_step(tmp_path):
    """The profiler can fire twice at one step (a cycle ended by leaving the context): the second export gets
    its own name instead of overwriting the first; analyze=False only exports."""
    from traceflops.apps.hooks import TraceReadyHandler
    h = TraceReadyHandler(tmp_path, worker_name="w", analyze=False, save_code=False)
    h(_FakeProf())
    h(_FakeProf())
    assert [t.name for t in h.traces] == ["w.3.pt.trace.json", "w.3_1.pt.trace.json"]
    assert all(t.exists() for t in h.traces) and not h.outputs and not h.errors

"""cost/compiled_files.py: every layout `--compiled PATH` may point at, read without running anything.

Layouts (the module docstring): saved output_code.py files (also gzipped, as fixtures keep them), the folder
the profiler hook saves (`<fx key>.py` + index.json), per-kernel modules named by their PyCodeCache hash, FX
graph cache entries (a pickle whose source_code string is found by walking opcodes, never unpickling), and the
`<trace>.compiled/` folder beside a trace. The output modules are the hand-written fixtures of
tests/data/inductor/ (their kernels and FX keys are known).
"""
import gzip
import json
import pickle
from pathlib import Path

import pytest

from traceflops.cost import compiled_files
from traceflops.cost.compiled_files import beside_trace, load_compiled
from traceflops.cost.output_code import code_hash
from traceflops.errors import TraceError

DATA = Path(__file__).parent / "data" / "inductor"
STATIC = (DATA / "synthetic_triton_v28plus_static.py").read_text()
DYNAMIC = (DATA / "synthetic_triton_v25_dynamic.py").read_text()
KEY_A, KEY_B = "f" + "a" * 51, "f" + "b" * 51
KERNEL = ("import triton\nfrom torch._inductor.runtime import triton_heuristics\n\n"
          "@triton.jit\ndef triton_poi_fused_relu_0(in_ptr0, out_ptr0, xnumel, XBLOCK: tl.constexpr):\n    pass\n")


def test_gzipped_code_and_the_hook_index(tmp_path):
    with gzip.open(tmp_path / f"{KEY_A}.py.gz", "wt", encoding="utf-8") as f:
        f.write(STATIC)  # named by its FX key
    (tmp_path / "graph_1.py").write_text(DYNAMIC)
    (tmp_path / "index.json").write_text(json.dumps({"graphs": [
        {"file": "graph_1.py", "fx_graph_cache_key": KEY_B}, {"file": 3}, "not a graph"]}))
    code = load_compiled(tmp_path)
    assert {k: m.key for k, m in code.by_fx_key.items()} == {KEY_A: code_hash(STATIC), KEY_B: code_hash(DYNAMIC)}
    s = code.summary()
    assert s["modules"] == 2 and s["with_graph_key"] == 2 and s["path"] == str(tmp_path) and s["skipped"] == []


def test_a_broken_index_is_ignored(tmp_path):
    (tmp_path / "graph_1.py").write_text(DYNAMIC)
    (tmp_path / "index.json").write_text("{not json")
    code = load_compiled(tmp_path)
    assert len(code.modules) == 1 and code.by_fx_key == {}
    (tmp_path / "index.json").write_text("[1, 2]")  # valid JSON, not the hook's object
    assert load_compiled(tmp_path).by_fx_key == {}


def test_kernel_modules_by_their_hash(tmp_path):
    named = "c" + "k" * 51
    (tmp_path / f"{named}.py").write_text(KERNEL)
    other = tmp_path / "sub"
    other.mkdir()
    (other / "kernel.py").write_text(KERNEL + "\n# another copy\n")
    code = load_compiled(tmp_path)
    assert code.modules == []
    # the trace's kernel_hash is the file name (PyCodeCache names files by the hash of their text); a file named
    # otherwise is keyed by the hash of its text
    assert set(code.kernels) == {named, code_hash(KERNEL + "\n# another copy\n")}
    assert code.kernels[named].fn_name == "triton_poi_fused_relu_0"


def test_fx_graph_cache_entries(tmp_path):
    entry = tmp_path / "fxgraph" / "aa" / KEY_A
    entry.mkdir(parents=True)
    (entry / "0").write_bytes(pickle.dumps({"cache_key": KEY_A, "source_code": STATIC, "n": 3}))
    bad = tmp_path / "fxgraph" / "bb" / KEY_B
    bad.mkdir(parents=True)
    (bad / "0").write_bytes(b"\x80\x05not a pickle at all")
    (tmp_path / "fxgraph" / "bb" / "notes").write_bytes(pickle.dumps(["no code here"]))
    code = load_compiled(tmp_path)
    assert list(code.by_fx_key) == [KEY_A] and code.by_fx_key[KEY_A].key == code_hash(STATIC)
    assert any("not a readable FX graph cache entry" in s for s in code.skipped)


def test_unreadable_and_oversized_files_are_skipped(tmp_path, monkeypatch):
    (tmp_path / "ok.py").write_text(STATIC)
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe async_compile def call(")  # not UTF-8
    (tmp_path / "broken.py.gz").write_bytes(b"\x1f\x8b not really gzip")
    (tmp_path / "bad_syntax.py").write_text("async_compile = 1\ndef call(:\n")  # looks like output code, no parse
    code = load_compiled(tmp_path)
    assert len(code.modules) == 1
    assert [s.split(":")[0] for s in code.skipped] == [str(tmp_path / "bad_syntax.py")]
    assert "SyntaxError" in code.skipped[0]
    # a file over the size limit is no output code
    monkeypatch.setattr(compiled_files, "MAX_FILE", 100)
    with pytest.raises(TraceError, match="no Inductor output code"):
        load_compiled(tmp_path / "ok.py")


def test_the_same_module_twice_is_parsed_once(tmp_path):
    (tmp_path / f"{KEY_A}.py").write_text(STATIC)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "output_code.py").write_text(STATIC)
    code = load_compiled(tmp_path)
    assert len(code.modules) == 1 and list(code.by_fx_key) == [KEY_A]


def test_beside_trace(tmp_path):
    trace = tmp_path / "worker0.12.pt.trace.json.gz"
    trace.write_bytes(b"")
    assert beside_trace(trace) is None
    (tmp_path / "worker0.12.compiled").mkdir()
    assert beside_trace(str(trace)) == str(tmp_path / "worker0.12.compiled")
    assert beside_trace(None) is None and beside_trace(3) is None

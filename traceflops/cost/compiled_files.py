"""Find the Inductor output code in what the user points at (`--compiled PATH`; the pipeline passes the path).

PATH may be
* the Inductor cache dir (`$TORCHINDUCTOR_CACHE_DIR`, default `/tmp/torchinductor_<user>`): output modules
  `<2ch>/c….py`, per-kernel modules `<2ch>/c….py` (each named by the `kernel_hash` the trace records), and
  the FX graph cache `fxgraph/<2ch>/<fx key>/<entry>` (a pickled CompiledFxGraph: its `source_code` string is
  read with `pickletools.genops`, which walks the opcodes and never unpickles, so no code runs);
* a `TORCH_COMPILE_DEBUG` folder (`…/torchinductor/<model>__<n>_<forward|backward|inference>_<k>.<i>/output_code.py`);
* a folder of saved `output_code.py` files, or one such file;
* the folder the profiler hook saves (`<worker>.<step>.compiled/`: `<fx key>.py` files and `index.json`).

Output modules are known by their FX graph key (the `## Call CompiledFxGraph <key> ##` annotation) when the
layout says it: a file named `f<51 chars>.py`, the hook's index, or an FX cache entry's folder. Without a key
(debug folders) a graph call is matched to a module by the kernels it launches (compiled.py).
"""
from __future__ import annotations

import gzip
import json
import pickletools
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TraceError
from .output_code import OutputCode, is_kernel_module, is_output_code, parse_triton_source

FX_KEY = re.compile(r"^f[a-z0-9]{51}$")
CODE_KEY = re.compile(r"^c[a-z0-9]{51}$")
MAX_FILE = 64 << 20  # larger files are not output code
STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}


@dataclass
class CompiledCode:
    path: str
    modules: list = field(default_factory=list)  # OutputCode, one per distinct source
    by_fx_key: dict = field(default_factory=dict)  # FX graph key -> OutputCode
    kernels: dict = field(default_factory=dict)  # kernel_hash -> KernelDef (module literals and kernel files)
    skipped: list = field(default_factory=list)  # "file: why" for files that looked like code but did not parse

    def add(self, source, where, fx_key=None):
        """Parse one output module (once per distinct source); returns it or None."""
        try:
            mod = OutputCode(source, where)
        except (SyntaxError, ValueError, RecursionError) as e:
            self.skipped.append(f"{where}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200])
            return None
        known = next((m for m in self.modules if m.key == mod.key), None)
        mod = known or mod
        if known is None:
            self.modules.append(mod)
            for kd in mod.kernels.values():
                if kd.kernel_hash:
                    self.kernels.setdefault(kd.kernel_hash, kd)
        if fx_key:
            self.by_fx_key.setdefault(fx_key, mod)
        return mod

    def summary(self):
        return {"path": self.path, "modules": len(self.modules), "with_graph_key": len(self.by_fx_key),
                "kernel_defs": len(self.kernels), "skipped": self.skipped[:5]}


def beside_trace(trace_path):
    """The `<trace>.compiled/` folder the profiler hook saves beside `<trace>.pt.trace.json(.gz)`, or None."""
    if not isinstance(trace_path, (str, Path)):
        return None
    p = Path(trace_path)
    stem = p.name
    for suffix in (".gz", ".json", ".pt.trace"):
        stem = stem.removesuffix(suffix)
    cand = p.with_name(stem + ".compiled")
    return str(cand) if cand.is_dir() else None


def load_compiled(path):
    """Every output module and Triton kernel under `path`; TraceError when it holds none."""
    p = Path(path)
    if not p.exists():
        raise TraceError(f"--compiled {path}: no such file or folder")
    code = CompiledCode(str(p))
    files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
    index = _hook_index(p) if p.is_dir() else {}
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            continue
        if size > MAX_FILE:
            continue
        if f.suffix == ".py" or f.name.endswith(".py.gz"):
            _add_py(code, f, index)
        elif not f.suffix and "fxgraph" in f.parts:
            _add_fx_entry(code, f)
    if not code.modules and not code.kernels:
        raise TraceError(f"--compiled {path}: no Inductor output code found (expected output_code.py files, "
                         "the Inductor cache dir, a TORCH_COMPILE_DEBUG folder or the folder the profiler hook saved)")
    return code


def _read(f):
    try:
        if f.name.endswith(".gz"):  # fixtures keep saved code gzipped
            with gzip.open(f, "rb") as fh:
                return fh.read(MAX_FILE + 1).decode("utf-8")
        return f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


def _add_py(code, f, index):
    text = _read(f)
    if text is None:
        return
    stem = f.name.removesuffix(".gz").removesuffix(".py")
    if is_output_code(text):
        key = index.get(f.name) or index.get(f.name.removesuffix(".gz")) or (stem if FX_KEY.match(stem) else None)
        code.add(text, str(f), key)
    elif is_kernel_module(text):
        kd = parse_triton_source(text, stem)
        # the trace's kernel_hash is this file's name (PyCodeCache names files by the hash of their text)
        code.kernels.setdefault(stem if CODE_KEY.match(stem) else kd.kernel_hash, kd)


def _add_fx_entry(code, f):
    """An FX graph cache entry: `fxgraph/<2ch>/<fx key>/<entry>`, a pickle holding the output code as a string."""
    key = f.parent.name if FX_KEY.match(f.parent.name) else None
    try:
        data = f.read_bytes()
        strings = [arg for op, arg, _ in pickletools.genops(data) if op.name in STRING_OPS and isinstance(arg, str)]
    except (OSError, ValueError, EOFError, KeyError, IndexError):
        code.skipped.append(f"{f}: not a readable FX graph cache entry")
        return
    src = next((s for s in strings if is_output_code(s)), None)
    if src is not None:
        code.add(src, str(f), key)


def _hook_index(p):
    """file name -> FX key, from the index.json the profiler hook writes."""
    idx = p / "index.json"
    if not idx.is_file():
        return {}
    try:
        doc = json.loads(idx.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for g in doc.get("graphs", []) if isinstance(doc, dict) else []:
        if isinstance(g, dict) and isinstance(g.get("file"), str) and isinstance(g.get("fx_graph_cache_key"), str):
            out[g["file"]] = g["fx_graph_cache_key"]
    return out

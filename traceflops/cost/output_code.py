"""Read an Inductor output module (`output_code.py`, a cache `c….py`) without executing it.

What it gives (docs/compiled.md):
* `kernels`: each kernel the module defines (`X = async_compile.triton('name', '''source''', …)`; C++ kernels
  `async_compile.cpp_pybinding([types], '''source''')`): its parameters with their Triton types and roles
  (`in_out_ptr*` read and written, `in_ptr*`/`arg_*` read, `out_ptr*` written; `mutated_arg_names` makes an
  input in-out), its kind (the `triton_heuristics` decorator), `inductor_meta`, template M/N/K, and its
  `kernel_hash` = "c" + base32(sha256(source.strip()))[:51] (the name of the per-kernel file the trace's
  `kernel_file` / `kernel_hash` args point at; PyCodeCache's code_hash);
* `sites`: every kernel launch and extern call of `call()` (top-level `def call`, or `Runner.call` with its
  `partition_N` functions inlined where they are called), in execution order, each argument resolved to a
  `View` of a buffer (`empty_strided_*`, `reinterpret_tensor`, `assert_size_stride` of a graph input,
  aliases `a = b`) or to a size expression;
* `env(bind)`: values of the symbols (`s0 = arg2_1`, `ps0 = 128*s1`, `<kernel>_xnumel = …`) from the example
  inputs of `get_args()` / `benchmark_compiled_module()` (the compile-time size hints) and `bind` (values seen
  in the trace).
Nothing here imports torch or runs the module: the text is parsed with `ast` and evaluated with a small
integer evaluator.
"""
from __future__ import annotations

import ast
import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .code_eval import FUNCS, evaluate, literal

ANNOTATION = re.compile(r"^## Call CompiledFxGraph (\S+) ##$")
AOT_ID = re.compile(r"# AOT ID: \['([^']+)'\]")
CPP_TYPES = {"float": "fp32", "double": "fp64", "half": "fp16", "at::Half": "fp16", "bfloat16": "bf16",
             "at::BFloat16": "bf16", "int64_t": "i64", "int32_t": "i32", "int8_t": "i8", "uint8_t": "u8",
             "bool": "i1"}


def code_hash(text):
    """PyCodeCache's key of a source text: 'c' + the first 51 base32 characters of sha256(text.strip())."""
    digest = hashlib.sha256(text.strip().encode("utf-8")).digest()
    return "c" + base64.b32encode(digest)[:51].decode("ascii").lower()


def is_output_code(text):
    return "async_compile" in text and ("def call(" in text or "class Runner" in text)


def is_kernel_module(text):
    return "triton_heuristics" in text and "@triton.jit" in text


@dataclass
class Param:
    name: str
    ty: str | None  # '*bf16', 'i32', 'constexpr', 'fp32' (a scalar passed by value)
    role: str  # in | out | in_out | size | numel | scalar | constexpr | other

    @property
    def is_ptr(self):
        return isinstance(self.ty, str) and self.ty.startswith("*")


@dataclass
class KernelDef:
    name: str  # the variable in the output code (the descriptive name)
    backend: str  # triton | cpp
    kind: str | None = None  # pointwise, reduction, persistent_reduction, template, foreach, …, cpp
    params: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # inductor_meta
    mnk: dict = field(default_factory=dict)  # template literals: M, N, K -> expression text
    kernel_hash: str | None = None
    fn_name: str | None = None  # the @triton.jit function: the GPU kernel's name (`triton_` with unique names off)

    @property
    def kernel_name(self):
        """What the trace calls it: the launch cpu_op's name (inductor_meta['kernel_name'])."""
        n = self.meta.get("kernel_name")
        return n if isinstance(n, str) and n else self.name

    def run_params(self):
        """The parameters `.run()` takes positionally (constexprs are not passed)."""
        return [p for p in self.params if p.role != "constexpr"]


@dataclass
class View:
    base: str  # the root buffer (after aliases)
    size: tuple  # expressions: int or text
    stride: tuple
    offset: Any = 0
    dtype: str | None = None  # torch dtype name


@dataclass
class Site:
    kind: str  # triton | cpp | extern
    name: str  # kernel variable, or the extern op ('aten::mm')
    args: list  # View | expression text | constant, per positional argument
    kwargs: dict


def _role(name, ty, mutated):
    if ty == "constexpr":
        return "constexpr"
    ptr = ty is None or ty.startswith("*")
    if name.startswith("in_out_ptr"):
        return "in_out"
    if name.startswith(("in_ptr", "arg_", "seed")):
        if not ptr:
            return "scalar"
        return "in_out" if name in mutated else "in"
    if name.startswith("out_ptr"):
        return "out"
    if re.fullmatch(r"[xyz]numel|r\d*_?numel|rnumel", name):
        return "numel"
    if re.fullmatch(r"ks\d+", name):
        return "size"
    return "other"


def parse_triton_source(src, name="triton_"):
    """The KernelDef of one Triton kernel source (an `async_compile.triton` literal or a `kernel_file`)."""
    kd = KernelDef(name, "triton", kernel_hash=code_hash(src))
    try:
        mod = ast.parse(src)
    except (SyntaxError, ValueError, RecursionError):
        return kd
    fn = next((n for n in mod.body if isinstance(n, ast.FunctionDef)), None)
    if fn is None:
        return kd
    kd.fn_name = fn.name
    triton_meta = {}
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and ast.unparse(dec.func).startswith("triton_heuristics."):
            kd.kind = ast.unparse(dec.func).split(".", 1)[1]
            for kw in dec.keywords:
                if kw.arg in ("triton_meta", "meta"):  # `meta=` in torch <= 2.1
                    triton_meta = literal(kw.value)
                    if kw.arg == "meta" and isinstance(triton_meta, dict):
                        kd.meta = triton_meta
                elif kw.arg == "inductor_meta":
                    kd.meta = literal(kw.value)
    triton_meta = triton_meta if isinstance(triton_meta, dict) else {}
    kd.meta = kd.meta if isinstance(kd.meta, dict) else {}
    sig = triton_meta.get("signature") if isinstance(triton_meta.get("signature"), dict) else {}
    mutated = set(kd.meta.get("mutated_arg_names") or triton_meta.get("mutated_arg_names") or [])
    for i, a in enumerate(fn.args.args):
        ty = sig.get(a.arg, sig.get(i))  # >= 2.6 keyed by name, <= 2.5 by position
        if ty is None and a.annotation is not None and "constexpr" in ast.unparse(a.annotation):
            ty = "constexpr"
        kd.params.append(Param(a.arg, ty if isinstance(ty, str) else None, _role(a.arg, ty if isinstance(ty, str) else None, mutated)))
    for st in fn.body:  # template problem sizes: M = 1024 (or an expression of ks0…)
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            t = st.targets[0].id
            if t in ("M", "N", "K") and t not in kd.mnk:
                kd.mnk[t] = ast.unparse(st.value)
    return kd


def _parse_cpp(name, call):
    kd = KernelDef(name, "cpp", "cpp")
    types = literal(call.args[0]) if call.args else []
    src = call.args[1].value if len(call.args) > 1 and isinstance(call.args[1], ast.Constant) else ""
    m = re.search(r'extern\s+"C"[^(]*\bkernel\s*\(([^)]*)\)', src if isinstance(src, str) else "", re.S)
    pnames = [p.strip().split()[-1].lstrip("*") for p in m.group(1).split(",") if p.strip()] if m else []
    for i, cty in enumerate(types if isinstance(types, list) else []):
        base = str(cty).replace("const", "").strip()
        ptr = base.endswith("*")
        ty = ("*" if ptr else "") + CPP_TYPES.get(base.rstrip("*").strip(), base.rstrip("*").strip())
        pn = pnames[i] if i < len(pnames) else f"arg{i}"
        kd.params.append(Param(pn, ty, _role(pn, ty, ()) if ptr else "scalar"))
    return kd


def _extern_name(fn):
    """The op an extern call runs: extern_kernels.mm -> aten::mm; torch.ops.aten.x.default / aten.x -> aten::x."""
    if fn.startswith("extern_kernels."):
        return "aten::" + fn.split(".", 1)[1]
    parts = fn.removeprefix("torch.ops.").split(".")
    if fn.startswith("aten."):
        parts = ["aten"] + parts[1:]
    if fn.startswith(("torch.ops.", "aten.")) and len(parts) >= 2 and parts[0] != "inductor":
        return f"{parts[0]}::{parts[1]}"
    return None


class OutputCode:
    """One parsed output module; `path` is where it was read from (for messages)."""

    def __init__(self, source, path=None):
        self.source, self.path = source, path
        self.key = code_hash(source)
        m = AOT_ID.search(source)
        self.aot_id = m.group(1) if m else None
        tree = ast.parse(source)
        self.kernels = self._kernel_defs(tree)
        self.examples = _example_inputs(tree)
        self.sym, self.sites = {}, []
        # graph inputs as the example inputs give them (their sizes are the compile-time hints);
        # `assert_size_stride` in call() replaces them with the (possibly symbolic) sizes
        self.views = {n: View(n, v[0], v[1], 0, v[2]) for n, v in self.examples.items() if isinstance(v, tuple)}
        fns = _functions(tree)
        if "call" in fns:
            self._walk(fns["call"].body, fns, set())

    def _kernel_defs(self, tree):
        out = {}
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call)):
                continue
            fn, var, args = ast.unparse(node.value.func), node.targets[0].id, node.value.args
            if fn == "async_compile.triton" and len(args) > 1 and isinstance(args[1], ast.Constant) \
                    and isinstance(args[1].value, str):
                kd = parse_triton_source(args[1].value, var)
                kd.name = var
                out[var] = kd
            elif fn in ("async_compile.cpp_pybinding", "async_compile.cpp"):
                out[var] = _parse_cpp(var, node.value)
        return out

    def _value(self, node):
        """A call argument: a View of a known buffer, a constant, or expression text."""
        v = self._view(node)
        if v is not None:
            return v
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._value(e) for e in node.elts]
        return ast.unparse(node)

    def _view(self, node):
        if isinstance(node, ast.Name):
            return self.views.get(node.id)
        if not isinstance(node, ast.Call):
            return None
        fn, a = ast.unparse(node.func), node.args
        if fn.endswith("reinterpret_tensor") and len(a) >= 3 and all(isinstance(x, (ast.Tuple, ast.List)) for x in a[1:3]):
            base = self._view(a[0])
            return View(base.base if base else ast.unparse(a[0]), _exprs(a[1]), _exprs(a[2]),
                        ast.unparse(a[3]) if len(a) > 3 else 0, base.dtype if base else None)
        if fn.split(".")[-1].startswith("empty_strided") and len(a) >= 2 and all(isinstance(x, (ast.Tuple, ast.List)) for x in a[:2]):
            dt = ast.unparse(a[2]) if len(a) > 2 else next((ast.unparse(k.value) for k in node.keywords if k.arg == "dtype"), None)
            return View("<new>", _exprs(a[0]), _exprs(a[1]), 0, dt.split(".")[-1] if dt else None)
        return None

    def _walk(self, body, fns, inlined):
        for st in body:
            if isinstance(st, (ast.With, ast.If)):
                self._walk(st.body, fns, inlined)
                continue
            value = st.value if isinstance(st, (ast.Assign, ast.Expr)) else None
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and not isinstance(st.targets[0], ast.Tuple):
                name = ast.unparse(st.targets[0])
                v = self._view(st.value)
                if v is not None:
                    self.views[name] = View(name if v.base == "<new>" else v.base, v.size, v.stride, v.offset, v.dtype)
                    continue
                if isinstance(st.value, (ast.Name, ast.BinOp, ast.Constant, ast.Subscript, ast.UnaryOp)) or (
                        isinstance(st.value, ast.Call) and ast.unparse(st.value.func) in FUNCS):
                    self.sym[name] = ast.unparse(st.value)
            if isinstance(value, ast.Call):
                self._call(value, fns, inlined)

    def _call(self, c, fns, inlined):
        fn = ast.unparse(c.func)
        part = re.fullmatch(r"(?:self\.)?partitions\[(\d+)\]|partition_(\d+)", fn)
        if part:
            pname = f"partition_{part.group(1) or part.group(2)}"
            if pname in fns and pname not in inlined:
                self._walk(fns[pname].body, fns, inlined | {pname})
            return
        if fn == "assert_size_stride" and len(c.args) >= 3 and all(isinstance(x, (ast.Tuple, ast.List)) for x in c.args[1:3]):
            name = ast.unparse(c.args[0])
            ex = self.examples.get(name)
            old = self.views.get(name)
            self.views[name] = View(old.base if old else name, _exprs(c.args[1]), _exprs(c.args[2]), 0,
                                    ex[2] if isinstance(ex, tuple) else (old.dtype if old else None))
            return
        kind = None
        if fn.endswith(".run") and fn[:-4] in self.kernels:
            kind, name = "triton", fn[:-4]
        elif fn in self.kernels:
            kind, name = "cpp", fn
        elif _extern_name(fn):
            kind, name = "extern", _extern_name(fn)
        if kind:
            kw = {k.arg: self._value(k.value) for k in c.keywords if k.arg}
            self.sites.append(Site(kind, name, [self._value(a) for a in c.args], kw))

    def env(self, bind=None):
        """Symbol values: example inputs (the compile-time hints), then `bind`, then the module's own
        assignments resolved in order until nothing changes."""
        env = {}
        for name, v in self.examples.items():
            if isinstance(v, int):
                env[name] = v
            else:
                env.update({f"{name}_size[{d}]": s for d, s in enumerate(v[0])})
                env.update({f"{name}_stride[{d}]": s for d, s in enumerate(v[1])})
        env.update(bind or {})
        for _ in range(8):
            changed = False
            for k, e in self.sym.items():
                if bind and k in bind:
                    continue
                val = evaluate(e, env)
                if val is not None and env.get(k) != val:
                    env[k], changed = val, True
            if not changed:
                break
        return env


def _exprs(node):
    return tuple(e.value if isinstance(e, ast.Constant) and isinstance(e.value, int) else ast.unparse(e) for e in node.elts)


def _functions(tree):
    """`call` (top level or Runner.call) and `partition_N` functions by name."""
    out = {}
    for node in tree.body:
        subs = node.body if isinstance(node, ast.ClassDef) else [node]
        for f in subs:
            if isinstance(f, ast.FunctionDef) and (f.name == "call" or f.name.startswith("partition_")):
                out.setdefault(f.name, f)
    return out


def _example_inputs(tree):
    """arg -> (size, stride, dtype) or int, from get_args() / benchmark_compiled_module()."""
    ex = {}
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name in ("get_args", "benchmark_compiled_module")):
            continue
        for st in ast.walk(node):
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
                continue
            v, name = st.value, st.targets[0].id
            fn = ast.unparse(v.func) if isinstance(v, ast.Call) else None
            if fn in ("rand_strided", "torch.as_strided") and len(v.args) >= (2 if fn == "rand_strided" else 3):
                a = v.args if fn == "rand_strided" else v.args[1:]  # as_strided(<shared storage>, size, stride)
                size, stride = literal(a[0]), literal(a[1])
                dt = next((ast.unparse(k.value).split(".")[-1] for k in v.keywords if k.arg == "dtype"), None)
                base = ex.get(ast.unparse(v.args[0])) if fn == "torch.as_strided" else None
                dt = dt or (base[2] if isinstance(base, tuple) else None)
                if isinstance(size, (tuple, list)) and isinstance(stride, (tuple, list)):
                    ex[name] = (tuple(size), tuple(stride), dt)
            elif isinstance(v, ast.Constant) and isinstance(v.value, int) and not isinstance(v.value, bool):
                ex[name] = v.value
    return ex

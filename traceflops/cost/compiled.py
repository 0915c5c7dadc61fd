"""compiled: costs of torch.compile'd code from its Inductor output code (docs/compiled.md).

Every execution of a compiled graph runs inside a `## Call CompiledFxGraph <key> ##` op (torch >= 2.9; a
user_annotation with record_shapes, a cpu_op without). Inside it the trace records, in the order `call()` runs
them, one cpu_op per Triton launch (named after the kernel) and the aten op of every extern call
(`extern_kernels.mm` -> `aten::mm`, fallbacks such as `aten::_scaled_dot_product_cudnn_attention`).
`compiled_costs` matches each graph call with its output module — by the FX key of the annotation when the
folder names it, else by the kernels it launches — aligns the call's ops with the module's call sites by name
(difflib, so an autotuning launch in between does not shift the rest), and costs each matched op from its site:

* a Triton launch: the kernel's roles (in / out / in_out, from its signature and mutated_arg_names) over the
  trace's recorded shapes (or, without them, the site's buffers with the symbols bound from the code's
  example inputs: the compile-time size hints), `kernels.inductor.launch_bytes`; GEMM templates
  (`triton_tem_fused_mm/addmm/bmm…`) 2·M·N·K(·batch) from their `arg_A`/`arg_B` shapes;
* an extern op without recorded shapes: the registered formula of that op over the site's buffers.
Outside a matched call (no annotation, torch < 2.9) a launch whose `kernel_hash` names a kernel found under
the folder takes that kernel's roles over its recorded shapes. Op costs set here say `flops_source`
`compiled`; replayed graphs copy them from their warm-up (graphs/), or align with the module (compiled_replay.py).
"""
from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from ..kernels import Args, op_cost
from ..kernels.dtypes import compute_dtype
from ..kernels.inductor import KIND_FAMILY, first_type, launch_bytes, trace_type
from ..link.intervals import propagate
from .code_eval import evaluate
from .output_code import ANNOTATION, View

SOURCE = "compiled"


def graph_call_rows(ops):
    """(rows of the `## Call CompiledFxGraph` ops, their keys) - matched by name, whatever their category."""
    codes, uniq = _factorize(ops["name"])
    keys = np.array([_key(u) for u in uniq] + [None], dtype=object)[codes]
    rows = np.flatnonzero(keys != None)  # noqa: E711 (elementwise)
    return rows, keys[rows]


def _key(name):
    m = ANNOTATION.match(name) if isinstance(name, str) else None
    return m.group(1) if m else None


def _factorize(values):
    """(code per value, with len(uniques) for a missing one; uniques). A text Series is factorized as it is
    (Arrow hashes its strings without a Python str per row)."""
    if not (isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype)):
        values = pd.Series(values, dtype=object)
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    return np.where(codes < 0, len(uniq), codes), list(uniq)


def call_of(ops, rows):
    """Each op's nearest enclosing graph call (itself included), -1 outside any."""
    own = np.full(len(ops), -1, dtype=np.int64)
    own[rows] = rows
    return propagate(ops["parent"].to_numpy(), own, lambda a: a == -1)


def is_triton(names, hashes=None):
    codes, uniq = _factorize(names)
    out = np.array([isinstance(u, str) and u.startswith("triton_") for u in uniq] + [False])[codes]
    if hashes is not None:
        out |= np.array([isinstance(h, str) and bool(h) for h in hashes], dtype=bool)
    return out


def compiled_costs(ops, costs, code):
    """Fill `costs` (the op cost table, same index as `ops`) for the ops the output code explains, in place.
    Returns the summary dict of the `compiled` block."""
    info = {**code.summary(), "graph_calls": 0, "graph_calls_matched": 0, "ops_costed": 0, "by": {}}
    if not len(ops):
        return info
    names = ops["name"].astype(object).to_numpy(object)
    hashes = ops["kernel_hash"].to_numpy(object) if "kernel_hash" in ops else None
    calls, keys = graph_call_rows(ops)
    info["graph_calls"] = int(len(calls))
    externs = {s.name for m in code.modules for s in m.sites if s.kind == "extern"}
    triton = is_triton(names, hashes)
    codes, uniq = _factorize(names)
    cand = triton | np.array([u in externs for u in uniq] + [False])[codes]
    within = call_of(ops, calls)
    parent = ops["parent"].to_numpy()
    # an extern's own aten children (aten::addmm -> aten::copy_) are not call sites: keep the top-most
    above = propagate(parent, np.where(cand, np.arange(len(ops)), -1), lambda a: a == -1)
    above = np.where(parent >= 0, above[np.clip(parent, 0, None)], -1)
    top = cand & ~((above >= 0) & (within[np.clip(above, 0, None)] == within))
    ts = ops["ts_us"].to_numpy(float)
    rec = _Recorded(ops)
    w = CostWriter(costs)
    key_of = dict(zip(calls.tolist(), keys.tolist()))
    sel = np.flatnonzero(top & (within >= 0))
    by_call = {}
    for r in sel[np.argsort(ts[sel], kind="stable")]:
        by_call.setdefault(int(within[r]), []).append(int(r))
    plans, cache = {}, {}
    for c, rows in by_call.items():
        seq = tuple(names[r] for r in rows)
        hs = tuple(hashes[r] if hashes is not None else None for r in rows)
        pk = (key_of.get(c), seq, hs)
        if pk not in plans:
            plans[pk] = _plan(code, key_of.get(c), seq, hs)
        mod, pairs = plans[pk]
        if mod is None:
            continue
        info["graph_calls_matched"] += 1
        for i, j in pairs:
            site = mod.sites[j]
            if site.kind == "triton":  # once per site and recorded signature: calls repeat every step
                ck = (mod.key, j, rec.signature(rows[i]))
                if ck not in cache:
                    cache[ck] = _triton_cost(mod, site, rec, rows[i])
                res = cache[ck]
            elif _has_cost(costs, rows[i]):
                res = None  # an extern keeps the costs its recorded shapes gave
            else:
                if (mod.key, j) not in cache:
                    cache[(mod.key, j)] = site_cost(mod, site, mod.env())
                res = cache[(mod.key, j)]
            if res is not None:
                w.set(rows[i], *res)
                info["by"]["output_code"] = info["by"].get("output_code", 0) + 1
    if hashes is not None:  # launches outside a matched call: the kernel found by its hash
        for r in np.flatnonzero(triton & ~w.done(len(ops))):
            kd = code.kernels.get(hashes[r]) if isinstance(hashes[r], str) else None
            res = _kernel_cost(kd, None, None, rec.args(r), {}, "kernel_hash") if kd else None
            if res is not None:
                w.set(int(r), *res)
                info["by"]["kernel_hash"] = info["by"].get("kernel_hash", 0) + 1
    w.flush()
    info["ops_costed"] = int(sum(info["by"].values()))
    return info


def _plan(code, key, seq, hashes):
    """(module, [(i in seq, site index)]) for one graph call's op-name sequence."""
    mod = code.by_fx_key.get(key) if key not in (None, "None") else None
    if mod is None:
        mod = pick_module(code, seq, hashes)
    if mod is None:
        return None, []
    return mod, align_sites(mod, seq)


def site_names(mod, gpu=False):
    """What the trace calls each site: the launch op's name (kernel_name) or the extern's aten op; with `gpu`,
    a Triton site by its GPU kernel's name (the @triton.jit function: `triton_` with unique names off)."""
    return [s.name if s.kind == "extern" else gpu_name(mod.kernels[s.name]) if gpu else mod.kernels[s.name].kernel_name
            for s in mod.sites]


def gpu_name(kd):
    return kd.fn_name or kd.kernel_name


def pick_module(code, seq, hashes=(), gpu=False):
    """The one module that fits the call best: it defines every Triton kernel the call launches (by hash when
    recorded, else by name) and aligns with most of the call; a call without Triton launches needs a module
    whose call sites are exactly its ops. None when no module fits or two fit equally well (two graphs with
    the same launches but other sizes cannot be told apart). `gpu`: `seq` holds GPU kernel names, not launch
    op names."""
    want = {n for n in seq if isinstance(n, str) and n.startswith("triton_")}
    want_h = {h for h in hashes if isinstance(h, str) and h}
    scored = []
    for m in code.modules:
        if want:
            kn = {gpu_name(kd) if gpu else kd.kernel_name for kd in m.kernels.values()}
            kh = {kd.kernel_hash for kd in m.kernels.values()}
            if not want <= kn or (want_h and not want_h <= kh):
                continue
            scored.append((len(align_sites(m, seq, gpu)) / max(len(seq), 1), m))
        elif seq and len(align_sites(m, seq, gpu)) == len(seq) == sum(st.kind != "cpp" for st in m.sites):
            scored.append((1.0, m))
    if not scored:
        return None
    best = max(s for s, _ in scored)
    top = {m.key: m for s, m in scored if s == best}
    return next(iter(top.values())) if len(top) == 1 and best > 0 else None


def align_sites(mod, seq, gpu=False):
    """[(i in seq, site index)]: identical sequences pair one to one; else difflib's matching blocks (an
    autotuning launch or a missing op shifts nothing after it). C++ kernels never appear in a trace under their
    own names, so they are left out of the comparison."""
    names = site_names(mod, gpu)
    shown = [j for j, s in enumerate(mod.sites) if s.kind != "cpp"]
    ref = [names[j] for j in shown]
    if list(seq) == ref:
        return list(zip(range(len(seq)), shown))
    sm = difflib.SequenceMatcher(None, list(seq), ref, autojunk=False)
    return [(b.a + t, shown[b.b + t]) for b in sm.get_matching_blocks() for t in range(b.size)]


class _Recorded:
    """The recorded inputs of an op as an Args (None when the op recorded no shapes)."""

    def __init__(self, ops):
        get = lambda c: ops[c].to_numpy(object) if c in ops else np.full(len(ops), None, dtype=object)  # noqa: E731
        self.shapes, self.types, self.concrete, self.strides = get("shapes"), get("types"), get("concrete"), get("strides")

    def signature(self, r):
        return tuple(repr(x[r]) for x in (self.shapes, self.types, self.concrete, self.strides))

    def args(self, r):
        d, t = self.shapes[r], self.types[r]
        if not isinstance(d, list) or not isinstance(t, list) or not d:
            return None
        st = self.strides[r]
        return Args(d, t, self.concrete[r] if isinstance(self.concrete[r], list) else [],
                    {"input_strides": st} if isinstance(st, list) else None)


def site_args(values, env, types=None):
    """Args over a call site's values: Views -> dims/strides/type, scalars -> Concrete Inputs text. `types`:
    the kernel's parameter types; without them (an extern call) a tensor whose dtype the code does not say
    (a fallback's output, `buf8 = buf7[0]`) takes the dtype of the call's first tensor that has one: the ops
    costed here (mm/bmm/addmm, attention) take their operands in one dtype."""
    if types is None:
        known = next((trace_type(v.dtype) for v in values if isinstance(v, View) and trace_type(v.dtype)), None)
        types = [known if isinstance(v, View) and not trace_type(v.dtype) else None for v in values]
    dims, tys, conc, strides = [], [], [], []
    for i, v in enumerate(values):
        if isinstance(v, View):
            size = [evaluate(s, env) for s in v.size]
            st = [evaluate(s, env) for s in v.stride]
            t = (types[i] if types and i < len(types) else None) or trace_type(v.dtype)
            ok = None not in size
            dims.append(size if ok else [None])
            tys.append(t or "")
            conc.append("")
            strides.append(st if ok and None not in st else None)
        elif v is None:
            dims.append([]), tys.append(""), conc.append(""), strides.append(None)
        else:
            val = evaluate(v, env) if isinstance(v, str) else v
            text = "" if val is None else (str(val) if not isinstance(val, list) else "[" + ", ".join(map(str, val)) + "]")
            dims.append([]), tys.append("Scalar"), conc.append(text), strides.append(None)
    return Args(dims, tys, conc, {"input_strides": strides})


def _bind(site, a):
    """Symbols a site names directly (`s0`, `ps0`, `<k>_xnumel`), bound to the values the trace recorded."""
    out = {}
    if a is None:
        return out
    for i, v in enumerate(site.args):
        if isinstance(v, str) and v.isidentifier() and a.type(i) == "Scalar":
            x = a.int(i)
            if x is not None:
                out[v] = x
    return out


def _same(values):
    """same[i]: the first argument that is the same view as argument i."""
    seen, out = {}, []
    for i, v in enumerate(values):
        k = (v.base, str(v.offset), v.size, v.stride) if isinstance(v, View) else None
        out.append(seen.setdefault(k, i) if k is not None else None)
    return out


def _triton_cost(mod, site, rec, r):
    kd = mod.kernels.get(site.name)
    if kd is None or kd.backend != "triton":
        return None
    a = rec.args(r)
    env = mod.env(_bind(site, a))
    return _kernel_cost(kd, site, mod, a, env, "output_code")


def _kernel_cost(kd, site, mod, a, env, how):
    """(flops, bytes, dtype, family, note) of one launch of kernel `kd` (a recorded Args or the site's)."""
    params = kd.run_params()
    roles = [p.role if p.is_ptr else None for p in params]
    same = _same(site.args) if site is not None else None
    sized = "the trace's recorded shapes"
    if a is None or len(a) < len(params) or any(r and not a.is_tensor(i) for i, r in enumerate(roles)):
        if site is None:
            return None
        a = site_args(site.args, env, [trace_type(p.ty) for p in params])
        sized = "the output code's buffers" + (" (symbols at the compile-time size hints)" if mod.sym else "")
    rw = launch_bytes(a, roles + [None] * (len(a) - len(roles)), same)
    flops, t = _template_flops(kd, params, a, env), first_type(a, roles)
    if flops is not None:
        t = a.type(next(i for i, p in enumerate(params) if p.name == "arg_A"))
    if rw is None and flops is None:
        return None
    where = f" of {mod.path}" if mod is not None and mod.path else ""
    note = (f"Inductor {kd.kind or 'triton'} kernel{where} ({how}): {sum(r is not None for r in roles)} pointer "
            f"arguments with their roles, sized from {sized}")
    fam = "gemm" if flops else KIND_FAMILY.get(kd.kind, "other")
    return flops, None if rw is None else float(sum(rw)), compute_dtype(t), fam, note


def _template_flops(kd, params, a, env):
    """2·M·N·K(·batch) of a GEMM template (arg_A [.., M, K] @ arg_B [.., K, N]); None for other kernels."""
    if kd.kind != "template":
        return None
    pos = {p.name: i for i, p in enumerate(params)}
    if "arg_A" not in pos or "arg_B" not in pos:
        return None
    A, B = a.shape(pos["arg_A"]), a.shape(pos["arg_B"])
    batch = A[0] if A and len(A) == 3 else 1
    # the template's own sizes first (B is often passed untransposed, [N, K], and indexed by its strides)
    mnk = {k: evaluate(v, {**env, **_kernel_args(params, a)}) for k, v in kd.mnk.items()}
    if all(isinstance(mnk.get(k), int) and mnk[k] > 0 for k in "MNK"):
        return 2.0 * batch * math.prod(mnk[k] for k in "MNK")
    if A and B and len(A) == len(B) and len(A) in (2, 3) and A[-1] == B[-2]:
        return 2.0 * batch * A[-2] * A[-1] * B[-1]
    return None


def _kernel_args(params, a):
    """The launch's integer arguments by parameter name (ks0, xnumel: template sizes may name them)."""
    out = {}
    for i, p in enumerate(params):
        if not p.is_ptr and a.type(i) == "Scalar" and a.int(i) is not None:
            out[p.name] = a.int(i)
    return out


OUT_VARIANTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::_int_mm")


def _has_cost(costs, r):
    return bool(np.nan_to_num(costs["flops"].iat[r]) > 0) or math.isfinite(costs["bytes"].iat[r])


def site_cost(mod, site, env):
    """(flops, bytes, dtype, family, note, recompute_flops) of one call site from the output code alone (sizes
    from `env`), or None: a Triton launch by its kernel's roles, an extern by its op's registered formula."""
    if site.kind == "triton":
        kd = mod.kernels.get(site.name)
        res = _kernel_cost(kd, site, mod, None, env, "output_code") if kd is not None else None
        return None if res is None else (*res, None)
    if site.kind != "extern":
        return None
    values = list(site.args)
    if "out" in site.kwargs and site.name in OUT_VARIANTS:
        values.append(site.kwargs["out"])  # recorded as a trailing input, like the out= op in a trace
    a = site_args(values, env)
    res = op_cost(site.name, a.dims, a.types, a.concrete, a.extra)
    if res is None or (res.flops is None and res.bytes is None):
        return None
    note = f"extern {site.name} of {mod.path}: its formula over the output code's buffers"
    return res.flops, res.bytes, res.dtype, res.family, note, res.recompute_flops


def module_costs(mod, bind=None):
    """Each call site of a module costed from the code alone: [{kind, name, flops, bytes, dtype, family}]."""
    env = mod.env(bind)
    out = []
    for site in mod.sites:
        res = site_cost(mod, site, env)
        out.append({"kind": site.kind, "name": site.name, "flops": res[0] if res else None,
                    "bytes": res[1] if res else None, "dtype": res[2] if res else None,
                    "family": res[3] if res else None})
    return out


class CostWriter:
    """Collects per-op costs and writes them into the cost table once."""

    def __init__(self, costs):
        self.costs, self.rows = costs, {}

    def set(self, r, flops, nbytes, dtype, family, note, recompute=None):
        self.rows[r] = (flops, nbytes, dtype, family, note, recompute)

    def done(self, n):
        m = np.zeros(n, dtype=bool)
        m[list(self.rows)] = True
        return m

    def flush(self):
        if not self.rows:
            return
        c = self.costs
        rows = np.array(sorted(self.rows))
        vals = [self.rows[r] for r in rows]
        for col, i, kind in (("flops", 0, float), ("bytes", 1, float), ("dtype", 2, object), ("family", 3, object),
                             ("cost_note", 4, object)):
            arr = c[col].to_numpy(kind).copy()
            arr[rows] = [np.nan if (kind is float and v[i] is None) else v[i] for v in vals]
            c[col] = arr
        src = c["flops_source"].to_numpy(object).copy()
        src[rows] = SOURCE
        c["flops_source"] = src
        if "bytes_source" in c:
            bs = c["bytes_source"].to_numpy(object).copy()
            bs[rows] = [SOURCE if v[1] is not None else None for v in vals]
            c["bytes_source"] = bs
        if "recompute_flops" in c:
            rf = c["recompute_flops"].to_numpy(float).copy()
            rf[rows] = [np.nan if v[5] is None else v[5] for v in vals]
            c["recompute_flops"] = rf

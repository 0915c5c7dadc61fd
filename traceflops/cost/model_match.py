"""The GEMM kernels a segment of a forward pass should hold, and the alignment of the observed ones with them.

A layer's weight matmuls come from modelflops.components (per layer, as the engines run them: fused qkv and
gate_up). Not every runtime fuses the same way, so each group of matmuls has alternatives — Hugging Face eager
runs q, k, v and gate, up as separate GEMMs; DeepSeek MLA engines fuse q_a with kv_a; a fused MoE kernel may do
both expert GEMMs — and a segment's expected list is one alternative per group, in execution order. The
alternative whose length equals the observed GEMM count is taken; when several fit, the launch grid against
each slot's N decides (model_roles.grid_fits), then what the same kernel name does in the window's other layers,
then the consistent fusion choice (all fused, or none). A segment whose GEMM count no alternative has is left
unattributed with the counts in its reason.

Tensor parallelism: column-parallel GEMMs (qkv, gate_up, experts_gate_up, shared_gate_up, lm_head) keep 1/tp of
N, row-parallel ones (o, down, experts_down, shared_down) 1/tp of K (Megatron's layout, which vLLM and SGLang
use); with expert parallelism a GPU holds E/ep experts and, under uniform routing, T·k/ep of the routed rows.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

from .model_roles import grid_fits

COLUMN = ("qkv", "q", "q_b", "kv_b", "gate_up", "experts_gate_up", "shared_gate_up", "lm_head", "q_absorb")
ROW = ("o", "down", "experts_down", "shared_down", "v_absorb")


@dataclass(frozen=True)
class Slot:
    label: str          # component: qkv, q, k, v, o, gate_up, gate, up, down, router, experts_*, shared_*, lm_head
    layer: int          # -1: the LM head
    m: float
    n: int
    k: int
    batch: int
    flops: float
    weight_bytes: float
    act_bytes: float
    expert: bool        # a routed-expert GEMM
    fused: int          # +1 fused alternative, −1 split, 0 neither (ranks the consistent fusion choice)

    @property
    def bytes(self):
        return self.weight_bytes + self.act_bytes

    def text(self):
        where = "lm_head" if self.layer < 0 else f"L{self.layer}.{self.label}"
        b = f"{self.batch}x" if self.batch > 1 else ""
        return f"{where}[{b}{self.m:g}x{self.n}x{self.k}]"


def slot_of(g, layer, act, label=None, n=None, fused=0):
    """A Slot for Gemm `g` (or `n` of its output columns: one of q/k/v, gate/up)."""
    part = g.n if n is None else n
    frac = part / g.n if g.n else 1.0
    return Slot(label or g.name, layer, g.m, part, g.k, g.batch, g.flops * frac, g.weight_bytes * frac,
                (g.m * g.k + g.m * part) * g.batch * act, g.name.startswith("experts"), fused)


def _merge(a, b, label, act):
    """Two GEMMs run as one kernel: q_a + kv_a on the same input (one read, both outputs written); a fused MoE
    kernel's two expert GEMMs (the input read, the down projection's output written, the intermediate kept)."""
    if a.k == b.k:  # same input
        n, acts = a.n + b.n, (a.m * a.k + a.m * (a.n + b.n)) * a.batch * act
    else:
        n, acts = a.n, (a.m * a.k + b.m * b.n) * a.batch * act
    return Slot(label, a.layer, a.m, n, a.k, a.batch, a.flops + b.flops, a.weight_bytes + b.weight_bytes, acts,
                a.expert, 1)


def shard(g, tp, ep):
    """A Gemm as one GPU of tp-way tensor / ep-way expert parallelism runs it (activation bytes recomputed
    by the caller from m, n, k)."""
    if g.name.startswith("experts") and ep > 1:
        return replace(g, m=g.m / ep, flops=g.flops / ep, weight_bytes=g.weight_bytes / ep)
    if tp <= 1 or g.name in ("router", "embedding", "shared_gate"):
        return g
    if g.name in COLUMN:
        return replace(g, n=max(g.n // tp, 1), flops=g.flops / tp, weight_bytes=g.weight_bytes / tp)
    if g.name in ROW:
        return replace(g, k=max(g.k // tp, 1), flops=g.flops / tp, weight_bytes=g.weight_bytes / tp)
    return g


def layer_groups(work, layer, attn, act, tp=1, ep=1):
    """(pre, post): the layer's GEMM groups before and after its attention; a group is a list of alternatives,
    an alternative a list of Slots."""
    g = {x.name: shard(x, tp, ep) for x in work.gemms}
    s = lambda name, **kw: slot_of(g[name], layer, act, **kw)  # noqa: E731
    pre, post = [], []
    if "qkv" in g:
        # KV heads are replicated, not split, when there are fewer of them than GPUs
        q, kv = attn.n_heads * attn.qk_head_dim // tp, max(attn.n_kv_heads // tp, 1) * attn.qk_head_dim
        full = next(x for x in work.gemms if x.name == "qkv")
        if tp > 1:
            f = (q + 2 * kv) / full.n
            g["qkv"] = replace(full, n=q + 2 * kv, flops=full.flops * f, weight_bytes=full.weight_bytes * f)
        pre.append([[s("qkv", fused=1)], [s("qkv", label="q", n=q, fused=-1), s("qkv", label="k", n=kv, fused=-1),
                                           s("qkv", label="v", n=kv, fused=-1)],
                    [s("qkv", label="q", n=q, fused=-1), s("qkv", label="kv", n=2 * kv, fused=-1)]])
    else:  # MLA: HF order, and q_a fused with kv_a (SGLang's fused_qkv_a_proj_with_mqa, vLLM's fused_qkv_a_proj)
        names = [x for x in ("q_a", "q", "q_b", "kv_a", "kv_b", "q_absorb") if x in g]
        alts = [[s(x) for x in names]]
        if "q_a" in g and "kv_a" in g:
            rest = [s(x) for x in names if x not in ("q_a", "kv_a")]
            alts.append([_merge(s("q_a"), s("kv_a"), "q_a+kv_a", act)] + rest)
        pre.append(alts)
    post.append([[s(x) for x in ("v_absorb", "o") if x in g]])
    if "gate_up" in g:
        i = g["gate_up"].n // 2
        post.append([[s("gate_up", fused=1), s("down")],
                     [s("gate_up", label="gate", n=i, fused=-1), s("gate_up", label="up", n=i, fused=-1), s("down")]])
    if "router" in g:
        post.append([[s("router")]])
        experts = [[s("experts_gate_up"), s("experts_down")],
                   [_merge(s("experts_gate_up"), s("experts_down"), "experts", act)]]
        shared = [s(x) for x in ("shared_gate_up", "shared_down", "shared_gate") if x in g]
        if shared:
            post.append([shared + e for e in experts] + [e + shared for e in experts])
        else:
            post.append(experts)
    return pre, post


def expected(segment, n_layers, groups, head, last_segment):
    """Alternatives (lists of Slots) for segment `segment` of a window with `n_layers`·r anchors: the end of layer
    segment−1 (plus the LM head at the end of a forward, optional: engines may compute logits outside the
    window) and the start of layer `segment`."""
    per = len(groups)
    parts = []
    if segment > 0:
        parts += groups[(segment - 1) % per][1]
        if segment % per == 0:
            parts.append([[head], []])
    if segment < last_segment:
        parts += groups[segment % per][0]
    return [sum(combo, []) for combo in product(*parts)] if parts else [[]]


def choose(alts, obs, tiles, grids, threads, expert_flag, codes=None, known=None, split=None):
    """Best alternative for observed GEMM kernels `obs` (window positions): (slots, checks, ambiguous) or None.

    Ranked by: grid mismatches, then disagreements with `known` (kernel name code -> the labels that name took in
    the window's other segments: one kernel does the same job in every layer), then grid fits, then the
    consistent fusion choice."""
    best, runner = None, None
    for alt in alts:
        if len(alt) != len(obs):
            continue
        checks = [grid_fits(tiles[p], grids[p], threads[p], sl.m, sl.n, split is not None and split[p])
                  for p, sl in zip(obs, alt)]
        checks = ["mismatch" if expert_flag[p] and not sl.expert else c for p, sl, c in zip(obs, alt, checks)]
        other = sum(1 for p, sl in zip(obs, alt) if known and codes[p] in known and sl.label not in known[codes[p]])
        mixed = len({sl.fused for sl in alt if sl.fused})
        score = (checks.count("mismatch"), other, -checks.count("fits"), mixed, -sum(sl.fused for sl in alt))
        if best is None or score < best[0]:
            best, runner = (score, alt, checks), best
        elif runner is None or score < runner[0]:
            runner = (score, alt, checks)
    if best is None:
        return None
    ambiguous = (runner is not None and runner[0][:4] == best[0][:4]
                 and [(s.flops, s.bytes) for s in runner[1]] != [(s.flops, s.bytes) for s in best[1]])
    return best[1], best[2], ambiguous

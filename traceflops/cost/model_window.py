"""One window of model-guided attribution: its kernels against the config's layers, for one batch.

`attribute_window` returns, per window position, what the model says the kernel computes (a Slot, an attention,
or the bytes of a norm/RoPE/KV store/activation/MoE combine) or why it says nothing. model.py writes it into the
kernel table. Non-GEMM kernels are placed by where they run in the layer (model_period.py): a norm between the
qkv GEMM and the attention is the per-head q/k norm, any other norm normalises the hidden state; an activation
follows the GEMM whose output it gates; a MoE combine reads the routed rows the down projection wrote.
"""
from __future__ import annotations

import numpy as np

from .model_match import choose, expected

DECODE_INTENSITY = 64.0   # FLOP/B below which a GEMM streams its weights (every accelerator's ridge is higher)
WEIGHT_BOUND_BYTES = 4 << 20  # weights large enough that their time is bandwidth, not launch latency
DURATION_FACTOR = 4.0     # time per byte this far from the window's median: the kernel computes something else
GATED = ("gate_up", "experts_gate_up", "shared_gate_up")
PRE_LABELS = ("qkv", "q", "k", "v", "kv", "q_a", "q_b", "kv_a", "kv_b", "q_a+kv_a", "q_absorb")

REASONS = {
    "gemm_aux": "model: a split-K/stream-K reduction of the GEMM before it (its partial sums are the kernel's choice)",
    "attention_aux": "model: split-KV attention reduction (how many partials is the kernel's choice)",
    "moe_route": "model: MoE routing (top-k, sorting): its index and weight dtypes are the engine's",
    "comm": "model: a collective (its message is not a model tensor the config fixes)",
    "other": "model: no model component for this kernel (an engine's copy, cast or elementwise)",
    "gather": "model: a gather that is not the embedding lookup",
}


class Costs:
    """Per window position: flops, bytes, label, confidence, family, reason (None: leave the kernel as it is)."""

    def __init__(self, n):
        self.flops = np.full(n, np.nan)
        self.bytes = np.full(n, np.nan)
        self.label = np.full(n, None, dtype=object)
        self.conf = np.full(n, np.nan)
        self.family = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)
        self.check = np.full(n, None, dtype=object)

    def set(self, p, flops, nbytes, label, conf, family):
        self.flops[p], self.bytes[p], self.label[p], self.conf[p], self.family[p] = flops, nbytes, label, conf, family
        self.reason[p] = None

    def fail(self, p, why):
        if np.isnan(self.conf[p]):
            self.reason[p] = why


def attribute_window(ctx, pos_roles, anchors, seg, comps, groups, head, durations):
    """Costs of one window. ctx: the model (spec, act/kv bytes, tp), the kernels' tiles/grids/flags by position."""
    n = len(pos_roles)
    out = Costs(n)
    n_layers = len(ctx.spec.layers)
    n_seg = len(anchors)
    is_anchor = np.zeros(n, bool)
    is_anchor[anchors] = True
    first_norm = True
    known = _known(ctx, pos_roles, seg, is_anchor, n_layers, groups, head, n_seg)
    for s in range(n_seg + 1):
        pos = np.flatnonzero((seg == s) & ~is_anchor)
        obs = pos[pos_roles[pos] == "gemm"]
        alts = expected(s, n_layers, groups, head, n_seg)
        picked = _pick(alts, obs, ctx, s, n_seg, known)
        if picked is None:
            want = sorted({len(a) for a in alts})
            where = ("before the first attention" if s == 0 else "after the last attention" if s == n_seg
                     else f"between attention {s - 1} and {s}")
            for p in obs:
                out.fail(p, f"model: {len(obs)} GEMM kernels {where}; the config implies "
                            f"{' or '.join(map(str, want))} (fused/split alternatives)")
            slots_at = {}
        else:
            slots, checks, ambiguous, used = picked
            slots_at = dict(zip(used, slots))
            for p, sl, c in zip(used, slots, checks):
                out.check[p] = c
                if c == "mismatch":
                    out.fail(p, f"model: {sl.text()} does not fit the launch grid {ctx.grids[p]} with tile "
                                f"{ctx.tiles[p]}")
                    continue
                conf = (1.0 if c == "fits" else 0.9) * (0.6 if ambiguous else 1.0) * ctx.period_conf
                nbytes, label = sl.bytes, sl.text()
                if ctx.fused_act[p] and sl.label in GATED:  # the epilogue applies the gate: N/2 columns written
                    nbytes -= sl.m * sl.n / 2 * sl.batch * ctx.act
                    label += "+act"
                out.set(p, sl.flops, nbytes, label, conf, "gemm")
            for p in obs:
                if p not in slots_at:
                    out.fail(p, "model: a GEMM outside the config's layers (before the first or after the last)")
        first_norm = _moves(out, pos, pos_roles, slots_at, s, n_seg, ctx, comps, first_norm)
    for j, p in enumerate(anchors):
        _attention(out, p, comps["layers"][j % n_layers].attention, j % n_layers, ctx)
    _duration_check(out, durations, ctx)
    return out


def _known(ctx, roles, seg, is_anchor, n_layers, groups, head, n_seg):
    """Kernel name code -> labels it takes in the segments inside the window (between two attentions), where
    the count alone decides the alternative: evidence for the segments at the ends."""
    known = {}
    for s in range(1, n_seg):
        pos = np.flatnonzero((seg == s) & ~is_anchor)
        obs = pos[roles[pos] == "gemm"]
        c = choose(expected(s, n_layers, groups, head, n_seg), list(obs), ctx.tiles, ctx.grids, ctx.threads,
                   ctx.expert, split=ctx.split_k)
        if c is not None and not c[2]:
            for p, sl in zip(obs, c[0]):
                known.setdefault(ctx.codes[p], set()).add(sl.label)
    return known


def _pick(alts, obs, ctx, s, n_seg, known):
    """(slots, checks, ambiguous, positions used) or None; boundary segments may hold GEMMs the model does not
    imply (a rotary table before the first layer, a sampler after the last): there the expected GEMMs are the
    last ones before the first attention, the first ones after the last."""
    pick = lambda use: choose(alts, use, ctx.tiles, ctx.grids, ctx.threads, ctx.expert, ctx.codes, known,  # noqa: E731
                              ctx.split_k)
    c = pick(list(obs))
    if c is not None:
        return (*c, list(obs))
    if s in (0, n_seg):
        for m in sorted({len(a) for a in alts if 0 < len(a) < len(obs)}, reverse=True):
            use = list(obs[-m:]) if s == 0 else list(obs[:m])
            c = pick(use)
            if c is not None:
                return (*c, use)
    return None


def _moves(out, pos, roles, slots_at, s, n_seg, ctx, comps, first_norm):
    """Bytes of the segment's norms, RoPE, KV stores, activations and MoE combines, placed by the GEMM before
    them; returns whether the forward's first norm is still to come."""
    t, a, h = comps["tokens"], ctx.act, ctx.spec.hidden
    last, in_pre, qk_norms = None, False, []
    for p in pos:
        r = roles[p]
        if p in slots_at:
            last = slots_at[p]
            in_pre = last.label in PRE_LABELS
            first_norm = first_norm or last.label == "lm_head"  # the next forward's first norm has no residual
            continue
        if r == "gemm":
            continue
        if r in ("norm", "qk_norm"):
            if last is not None and last.label in ("q_a", "kv_a", "q_a+kv_a", "q_b", "kv_b"):
                out.fail(p, "model: an MLA latent norm (the alignment does not tell q's from kv's)")
            elif (in_pre and s < n_seg) or r == "qk_norm":
                qk_norms.append((p, last.label if last is not None else None))
            else:
                fused = ctx.add_norm[p] and not first_norm
                out.set(p, np.nan, t * h * a * (4 if fused else 2) + h * a,
                        f"{'add+' if fused else ''}norm[{t:g}x{h}]", 0.7, "norm")
                first_norm = False
        elif r in ("rope", "rope_kv", "kv_store") and ctx.attn.kind == "gqa":
            q, kv, d = ctx.heads_q, ctx.heads_kv, ctx.attn.qk_head_dim
            rope = t * (q + kv) * d * 2 * a + t * d * a
            store = t * 2 * kv * d * (a + ctx.kv)
            b = {"rope": rope, "rope_kv": rope + store, "kv_store": store}[r]
            out.set(p, np.nan, b, f"{r}[{t:g}x{q}+{kv}x{d}]", 0.7, "elementwise")
        elif r == "act" and last is not None and last.label in ("gate_up", "up", "experts_gate_up", "shared_gate_up"):
            width = last.n * (2 if last.label == "up" else 1)
            out.set(p, np.nan, 1.5 * last.m * width * a, f"act[{last.m:g}x{width}]", 0.7, "elementwise")
        elif r == "moe_combine" and last is not None and last.label in ("experts_down", "experts"):
            out.set(p, np.nan, (last.m * h + t * h) * a, f"moe_combine[{last.m:g}x{h}]", 0.7, "elementwise")
        elif r == "gather" and s == 0 and last is None and first_norm:
            e = comps["embedding"]
            out.set(p, np.nan, e.weight_bytes + e.activation_bytes, f"embedding[{t:g}x{h}]", 0.7, "elementwise")
        elif r in ("rope", "rope_kv", "kv_store"):
            out.fail(p, "model: MLA RoPE/KV-cache layout (latent + rope key) not modelled per kernel")
        else:
            after = f"after {last.label}" if last is not None else "at the start of the segment"
            out.fail(p, REASONS.get(r, f"model: the layer runs no {r} kernel {after}"))
    if qk_norms:
        _qk_norms(out, qk_norms, ctx, t)
    return first_norm


def _qk_norms(out, found, ctx, t):
    """Per-head RMSNorm of q and k (Qwen3, Gemma3): after the fused qkv GEMM one kernel for both or q then k;
    after split q and k GEMMs, each after its own."""
    d, a = ctx.attn.qk_head_dim, ctx.act
    if not ctx.qk_norm:
        for p, _ in found:
            out.fail(p, "model: a norm between the qkv GEMM and the attention, but the config has no q/k norm")
        return
    fused = [p for p, lab in found if lab not in ("q", "k")]
    heads = {1: [ctx.heads_q + ctx.heads_kv], 2: [ctx.heads_q, ctx.heads_kv]}.get(len(fused))
    plan = [(p, ctx.heads_q if lab == "q" else ctx.heads_kv) for p, lab in found if lab in ("q", "k")]
    if fused and heads is None:
        for p in fused:
            out.fail(p, f"model: {len(fused)} norms after the qkv GEMM (q/k norm is one kernel or two)")
    elif fused:
        plan += list(zip(fused, heads))
    for p, hh in plan:
        out.set(p, np.nan, t * hh * d * 2 * a + d * a, f"qk_norm[{t:g}x{hh}x{d}]", 0.7, "norm")


def _attention(out, p, at, layer, ctx):
    tp = ctx.tp
    if at.flops is None:
        out.fail(p, "model: the window records no context lengths (Σsk, Σsq·sk): attention work unknown")
        return
    kv_frac = ctx.heads_kv / max(ctx.attn.n_kv_heads, 1)
    nbytes = None if at.kv_bytes is None else at.kv_bytes * kv_frac + at.activation_bytes / tp
    win = f" window {at.window}" if at.window else ""
    label = f"L{layer}.attention[{at.queries:g}q x {at.keys:.6g} pairs{win}{'' if at.exact else ' (upper bound)'}]"
    out.set(p, at.flops / tp, np.nan if nbytes is None else nbytes, label, 1.0 if at.exact else 0.8, "attention")
    out.check[p] = "window" if at.window else None


def _duration_check(out, dur, ctx):
    """Weight-bound GEMMs of one window stream their weights at one rate: a component whose median time per byte
    is DURATION_FACTOR off the median of the others is not what the alignment says it is."""
    fam = out.family == "gemm"
    if fam.sum() < 3:
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        weight_bound = (fam & (out.flops / out.bytes < DECODE_INTENSITY) & (out.bytes > WEIGHT_BOUND_BYTES)
                        & np.isfinite(dur) & (dur > 0))
    comps = {}
    for p in np.flatnonzero(weight_bound):
        comps.setdefault(str(out.label[p]).split("[")[0].split(".")[-1], []).append(p)
    if len(comps) < 3:
        return
    rate = {c: np.median(dur[ps] / out.bytes[ps]) for c, ps in comps.items()}
    med = float(np.median(list(rate.values())))
    for c, ps in comps.items():
        x = rate[c] / med if med > 0 else 1.0
        if x > DURATION_FACTOR or x < 1 / DURATION_FACTOR:
            for p in ps:
                out.conf[p] = np.nan
                out.fail(p, f"model: {c} takes {x:.1f}x the window's median time per weight byte (weight-bound "
                            "GEMMs stream at one rate): not the component the alignment gives")
                out.flops[p] = out.bytes[p] = np.nan
                out.label[p] = out.family[p] = None
                out.check[p] = "duration"

"""The work of one engine step, component by component: per layer the GEMM shapes (M rows, N, K) of fused
qkv, o, gate_up, down, router, experts and shared experts, the attention work, and the embedding and LM head.

A step is a `Batch`: what its requests add up to (query tokens Σsq, KV lengths Σsk, Σsq², Σsq·sk). That is
what the serving engines' detailed annotations record, and it is enough for exact causal-attention counts:
a request with q new tokens and KV length k after the step (new tokens included) has query j (1..q)
attend k − q + j keys, Σ_j = q·k − q²/2 + q/2, so over the batch

    keys = Σsq·sk − Σsq²/2 + Σsq/2.

Sliding-window layers (window W keys) cannot be exact from sums: keys ≤ min(full keys, W·Σsq), equal when
every query sits at least W tokens into its sequence (the usual case at decode); KV tokens read ≤
min(Σsk, requests·(W − 1) + Σsq). Both are flagged `exact=False`.

Bytes (minimal DRAM traffic, the kernels table's convention): each weight matrix read once per step (for
MoE, the expected number of distinct experts the step's tokens hit, E·(1 − (1 − k/E)^T), uniform routing);
each GEMM's input and output activations once; KV cache: every context token's K and V read once per
request and layer, the new tokens' written; the embedding rows gathered. Norms, RoPE, activations and
softmax are not counted (as in flops.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ModelSpec
from .precision import Precision


@dataclass(frozen=True)
class Batch:
    """What one engine step computes, summed over its requests (None: not recorded)."""
    tokens: int                    # Σsq: new (query) tokens
    requests: int                  # requests in the step
    logits: int                    # rows through the LM head (one per request; every speculative position)
    context: float | None = None   # Σsk: KV length after the step, new tokens included
    sqsq: float | None = None      # Σsq²
    sqsk: float | None = None      # Σsq·sk

    @classmethod
    def prefill(cls, lengths, cached=None):
        """Prompts of these lengths (after `cached` tokens each already in the KV cache), one logit each."""
        cached = cached or [0] * len(lengths)
        ks = [c + q for q, c in zip(lengths, cached)]
        return cls(sum(lengths), len(lengths), len(lengths), sum(ks), sum(q * q for q in lengths),
                   sum(q * k for q, k in zip(lengths, ks)))

    @classmethod
    def decode(cls, contexts, width=1):
        """One request per entry with `contexts[i]` tokens cached, `width` new tokens each (1 + drafts)."""
        ks = [c + width for c in contexts]
        n = len(contexts)
        return cls(n * width, n, n * width, sum(ks), n * width * width, width * sum(ks))

    def __add__(self, o):
        add = lambda a, b: None if a is None or b is None else a + b  # noqa: E731
        return Batch(self.tokens + o.tokens, self.requests + o.requests, self.logits + o.logits,
                     add(self.context, o.context), add(self.sqsq, o.sqsq), add(self.sqsk, o.sqsk))

    def keys(self, window=None):
        """(query-key pairs of one layer, exact?); None when the batch does not record Σsq·sk and Σsq²."""
        if self.sqsk is None or self.sqsq is None:
            return None, False
        full = self.sqsk - self.sqsq / 2 + self.tokens / 2
        if window is None:
            return full, True
        return float(min(full, window * self.tokens)), self._inside(window)

    def _inside(self, window):
        """Every request's KV length fits in the window (Σsk ≤ W implies each does): sliding = full."""
        return self.context is not None and self.context <= window

    def kv_read(self, window=None):
        """(KV tokens one layer reads, exact?)."""
        if self.context is None:
            return None, False
        if window is None:
            return float(self.context), True
        cap = self.requests * (window - 1) + self.tokens
        return float(min(self.context, cap)), self._inside(window)


@dataclass(frozen=True)
class Gemm:
    name: str            # qkv, o, gate_up, down, router, experts_gate_up, experts_down, shared_*, lm_head, MLA's
    m: float             # rows: tokens (experts: routed token-expert pairs; lm_head: logits rows)
    n: int
    k: int
    batch: int           # >1 for per-head bmms (MLA absorbed)
    flops: float
    weight_bytes: float
    activation_bytes: float


@dataclass(frozen=True)
class Attention:
    window: int | None
    queries: int
    keys: float | None   # query-key pairs
    kv_tokens_read: float | None
    flops: float | None
    kv_bytes: float | None      # KV cache read + the new tokens' K/V written
    activation_bytes: float     # q read, output written
    exact: bool


@dataclass(frozen=True)
class LayerWork:
    layer: int
    gemms: tuple
    attention: Attention


def _gemm(name, m, n, k, b, w_bytes, act, instances=1.0, extra_bytes=0.0):
    """`instances` weight matrices of N x K read (distinct experts), plus `extra_bytes` (biases, sinks)."""
    return Gemm(name, m, n, k, b, 2.0 * m * n * k * b, instances * n * k * b * w_bytes + extra_bytes,
                (m * k + m * n) * b * act)


def distinct_experts(n_experts, top_k, tokens):
    """Expected distinct experts hit by `tokens` tokens routing to top_k of n_experts each, uniformly."""
    return n_experts * (1 - (1 - top_k / n_experts) ** tokens) if tokens > 0 else 0.0


def layer_work(spec: ModelSpec, batch: Batch, prec: Precision, layer: int, *, mla_absorbed=False) -> LayerWork:
    """The GEMMs and attention of one layer for `batch`."""
    l = spec.layers[layer]
    a, f, t, act, wb = l.attn, l.ffn, batch.tokens, prec.activation_bytes, prec.weight_bytes
    absorbed = mla_absorbed and a.kind == "mla"
    ag = a.absorbed_gemms if absorbed else a.gemms
    # Quantizers convert weight matrices only: biases, sinks and MLA's latent norms stay in the model dtype.
    extra = (a.params - sum(n * k * b for _, n, k, b in ag)) * act
    gemms = [_gemm(nm, t, n, k, b, wb["attention"], act, extra_bytes=extra if i == 0 else 0.0)
             for i, (nm, n, k, b) in enumerate(ag)]
    ffn_extra = (f.params_total if f.kind == "dense" else f.router_params + f.shared_params) - \
        sum(n * k * b for _, n, k, b in f.gemms)
    for i, (nm, n, k, b) in enumerate(f.gemms):
        comp = "router" if nm == "router" else "shared_experts" if nm.startswith("shared") else "mlp"
        gemms.append(_gemm(nm, t, n, k, b, wb[comp], act, extra_bytes=ffn_extra * act if i == 0 else 0.0))
    if f.kind == "moe":
        pairs, hit = t * f.top_k, distinct_experts(f.n_experts, f.top_k, t)
        bias = (f.expert_params - sum(n * k for _, n, k, _ in f.expert_gemms)) * act * hit
        for i, (nm, n, k, b) in enumerate(f.expert_gemms):
            gemms.append(_gemm(nm, pairs, n, k, b, wb["experts"], act, hit, bias if i == 0 else 0.0))
    keys, ok_k = batch.keys(a.window)
    kv_tok, ok_kv = batch.kv_read(a.window)
    spk = a.absorbed[2] if absorbed else a.score_macs_per_key
    kv_el = a.kv_elems * prec.kv_bytes
    attn = Attention(a.window, t, keys, kv_tok, 2.0 * spk * keys if keys is not None else None,
                     (kv_tok + t) * kv_el if kv_tok is not None else None,
                     t * a.n_heads * (a.qk_head_dim + a.v_head_dim) * act, ok_k and ok_kv)
    return LayerWork(layer, tuple(gemms), attn)


def head_work(spec: ModelSpec, batch: Batch, prec: Precision) -> tuple:
    """(embedding gather, LM head) of `batch`: the gather reads and writes one hidden row per token."""
    h, act = spec.hidden, prec.activation_bytes
    emb = Gemm("embedding", batch.tokens, h, 0, 1, 0.0, batch.tokens * h * prec.weight_bytes["embedding"],
               batch.tokens * h * act)
    w = prec.weight_bytes["embedding"] if spec.tie else prec.weight_bytes["lm_head"]  # tied: the same matrix
    head = _gemm("lm_head", batch.logits, spec.vocab, h, 1, w, act, 1.0 if batch.logits else 0.0)
    return emb, head


def step_components(spec: ModelSpec, batch: Batch, prec: Precision, *, mla_absorbed=False) -> dict:
    """Every layer's LayerWork plus the embedding and LM head: the shapes a kernel attribution aligns with."""
    emb, head = head_work(spec, batch, prec)
    return {"layers": [layer_work(spec, batch, prec, i, mla_absorbed=mla_absorbed) for i in range(len(spec.layers))],
            "embedding": emb, "lm_head": head}


def _layer_kinds(spec):
    """Layer index per distinct layer (same attention and FFN), with how many layers share it (kept on the spec:
    a serving trace costs thousands of steps with one model)."""
    cached = spec.__dict__.get("_layer_kinds")
    if cached is None or cached[0] != len(spec.layers):
        kinds = {}
        for i, l in enumerate(spec.layers):
            kinds.setdefault((repr(l.attn), repr(l.ffn)), [i, 0])[1] += 1
        cached = spec.__dict__["_layer_kinds"] = (len(spec.layers), list(kinds.values()))
    return cached[1]


def step_cost(spec: ModelSpec, batch: Batch, prec: Precision, *, mla_absorbed=False) -> dict:
    """FLOPs and bytes of one step, by component; attention/KV terms are None when the batch lacks them."""
    by = {}
    flops_known = kv_known = exact = True
    attn_flops = kv = act = weights = lin = 0.0

    def add(name, fl, wbytes, abytes):
        d = by.setdefault(name, {"flops": 0.0, "weight_bytes": 0.0, "activation_bytes": 0.0})
        d["flops"] += fl
        d["weight_bytes"] += wbytes
        d["activation_bytes"] += abytes

    for first, count in _layer_kinds(spec):
        w = layer_work(spec, batch, prec, first, mla_absorbed=mla_absorbed)
        for g in w.gemms:
            add(g.name, count * g.flops, count * g.weight_bytes, count * g.activation_bytes)
            lin += count * g.flops
        at = w.attention
        exact &= at.exact
        act += count * at.activation_bytes
        if at.flops is None:
            flops_known = False
        else:
            attn_flops += count * at.flops
        if at.kv_bytes is None:
            kv_known = False
        else:
            kv += count * at.kv_bytes
    for g in head_work(spec, batch, prec):
        add(g.name, g.flops, g.weight_bytes, g.activation_bytes)
        lin += g.flops
    norms = (sum(l.norm_params for l in spec.layers) + spec.final_norm_params) * prec.weight_bytes["norms"]
    add("norms", 0.0, norms, 0.0)
    weights = sum(d["weight_bytes"] for d in by.values())
    act += sum(d["activation_bytes"] for d in by.values())
    return {"flops": lin + attn_flops if flops_known else None, "linear_flops": lin,
            "attention_flops": attn_flops if flops_known else None,
            "bytes": weights + kv + act if kv_known else None, "weight_bytes": weights,
            "kv_bytes": kv if kv_known else None, "activation_bytes": act, "exact": exact and flops_known,
            "by_component": by}

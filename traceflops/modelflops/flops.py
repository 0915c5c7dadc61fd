"""Analytic parameter and per-token FLOP counts ("MFU beyond 6·N·D").

Conventions (see docs/model-flops.md):
  * only matmul FLOPs are counted, 2 FLOPs per multiply-accumulate; norms,
    activations, softmax, RoPE, biases and the embedding lookup count 0;
  * attention is counted exactly: a query at 0-based position i attends i+1
    keys (causal, itself included), min(i+1, W) on sliding-window layers;
  * the LM head is applied to every position in prefill/training and to the
    new token in decode.
"""
from __future__ import annotations

from .config import ModelSpec, parse_config

FAMILIES = ("attention_qkv_proj", "attention_scores", "attention_out_proj",
            "mlp", "experts", "shared_experts", "router", "lm_head", "embedding")

DEFAULT_SEQ = 4096
DEFAULT_CONTEXT = 4096
N_CONVENTION = "active params without the input embedding (LM head included)"


def avg_keys_prefill(L: int, window: int | None) -> float:
    """Mean number of keys per query over a causal prefill of L tokens."""
    if window is None or L <= window:
        return (L + 1) / 2
    return (window * (window + 1) / 2 + (L - window) * window) / L


def keys_decode(C: int, window: int | None) -> int:
    """Keys seen by one new token with C cached tokens (plus itself)."""
    return C + 1 if window is None else min(C + 1, window)


def count_params(spec: ModelSpec) -> dict:
    emb = spec.vocab * spec.hidden
    head = 0 if spec.tie else emb
    attn = sum(l.attn.params for l in spec.layers)
    norms = sum(l.norm_params for l in spec.layers) + spec.final_norm_params
    dense = sum(l.ffn.params_total for l in spec.layers if l.ffn.kind == "dense")
    moe_total = sum(l.ffn.params_total for l in spec.layers if l.ffn.kind == "moe")
    moe_active = sum(l.ffn.params_active for l in spec.layers if l.ffn.kind == "moe")
    body_total = attn + norms + dense + moe_total
    body_active = attn + norms + dense + moe_active
    # Without the input embedding: the (possibly tied) LM-head matrix stays, it is a matmul.
    lm = emb if spec.tie else head
    return {
        "total_params": body_total + emb + head,
        "total_params_without_embedding": body_total + lm,
        "active_params": body_active + emb + head,
        "active_params_without_embedding": body_active + lm,
        "params": {"embedding": emb, "lm_head": lm, "lm_head_tied": spec.tie, "attention": attn,
                   "dense_mlp": dense, "moe_total": moe_total, "moe_active": moe_active, "norms": norms},
    }


def _forward(spec: ModelSpec, keys_for, *, absorbed: bool = False) -> dict:
    """Per-token forward FLOPs by op family; keys_for(window) -> (mean) keys per query."""
    b = dict.fromkeys(FAMILIES, 0.0)
    for l in spec.layers:
        a = l.attn
        qkv, out, spk = a.absorbed if (absorbed and a.absorbed) else (a.qkv_macs, a.out_macs, a.score_macs_per_key)
        b["attention_qkv_proj"] += 2 * qkv
        b["attention_out_proj"] += 2 * out
        b["attention_scores"] += 2 * spk * keys_for(a.window)
        f = l.ffn
        b["mlp"] += 2 * f.dense_macs
        b["experts"] += 2 * f.expert_macs
        b["shared_experts"] += 2 * f.shared_macs
        b["router"] += 2 * f.router_macs
    b["lm_head"] = 2.0 * spec.hidden * spec.vocab
    return b


def _rel(approx: float, exact: float) -> float:
    return (approx - exact) / exact


def model_flops(config: dict, *, seq: int | None = None, context: int | None = None,
                train: bool = False, mla_absorbed_decode: bool = False) -> dict:
    """Parameters and per-token FLOPs of an HF config.

    seq: prefill length L (default 4096): FLOPs averaged over the L tokens.
    context: decode context C (default 4096): one new token, C cached tokens.
    train: also report the training step per token = 3 x prefill forward.
    mla_absorbed_decode: for MLA (DeepSeek) count decode with absorbed weights.
    """
    spec = parse_config(config)
    L = DEFAULT_SEQ if seq is None else int(seq)
    C = DEFAULT_CONTEXT if context is None else int(context)
    if L < 1:
        raise ValueError(f"seq must be >= 1, got {L}")
    if C < 0:
        raise ValueError(f"context must be >= 0, got {C}")
    p = count_params(spec)
    notes = list(spec.notes)
    pre = _forward(spec, lambda w: avg_keys_prefill(L, w))
    dec = _forward(spec, lambda w: keys_decode(C, w), absorbed=mla_absorbed_decode)
    is_mla = any(l.attn.kind == "mla" for l in spec.layers)
    if is_mla:
        alt = sum(_forward(spec, lambda w: keys_decode(C, w), absorbed=not mla_absorbed_decode).values())
        notes.append(("decode counted with MLA weight absorption (latent KV cache); naive expanded-K/V "
                      f"decode would be {alt:.4g} FLOPs/token") if mla_absorbed_decode else
                     ("MLA counted naively (K/V expanded from the latent, as in HF transformers); "
                      f"weight-absorbed decode would be {alt:.4g} FLOPs/token"))
    breakdown = {"prefill": pre, "decode": dec}
    fpt = {"prefill": sum(pre.values()), "decode": sum(dec.values())}
    train_fpt = 3 * fpt["prefill"]
    if train:
        breakdown["train"] = {k: 3 * v for k, v in pre.items()}
        fpt["train"] = train_fpt
        notes.append("train = forward + backward = 3 x forward matmul FLOPs (attention included), "
                     "no activation recomputation")
    N = p["active_params_without_embedding"]
    approx = {
        "N": N,
        "N_convention": N_CONVENTION,
        "2N": {"value": 2 * N, "rel_error_prefill": _rel(2 * N, fpt["prefill"]),
               "rel_error_decode": _rel(2 * N, fpt["decode"])},
        "6N": {"value": 6 * N, "rel_error_train": _rel(6 * N, train_fpt)},
        "rel_error_definition": "(approx - exact) / exact; negative = approximation underestimates",
    }
    windows = [l.attn.window for l in spec.layers]
    layers = {
        "n_layers": len(spec.layers),
        "sliding_layers": sum(w is not None for w in windows),
        "sliding_window": next((w for w in windows if w is not None), None),
        "moe_layers": sum(l.ffn.kind == "moe" for l in spec.layers),
        "attention": spec.layers[0].attn.kind,
    }
    share = {k: breakdown[k]["attention_scores"] / fpt[k] for k in ("prefill", "decode")}
    return {"model_type": spec.model_type, "seq": L, "context": C,
            **{k: p[k] for k in ("total_params", "active_params", "total_params_without_embedding",
                                 "active_params_without_embedding")},
            "params": p["params"], "layers": layers, "flops_per_token": fpt, "approx": approx,
            "attention_scores_share": share, "breakdown": breakdown, "notes": notes}

"""Read a Hugging Face ``config.json`` into a normalised, per-layer model description.

Pure Python, no torch.  Everything that depends on the architecture family
(biases, norms, MoE placement, MLA, sliding-window layout) is resolved here so
that :mod:`traceflops.modelflops.flops` only does arithmetic.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

__all__ = ["ConfigError", "AttnSpec", "FFNSpec", "LayerSpec", "ModelSpec", "load_config", "parse_config"]


class ConfigError(ValueError):
    """Bad or incomplete model config (message is a single line)."""


# model_type -> attention / norm conventions (defaults as in the HF config classes)
_KNOWN = {
    "llama": {},
    "mistral": {},
    "mixtral": {},
    "qwen2": {"qkv_bias": True},
    "qwen2_moe": {"qkv_bias": True},
    "qwen3": {"qk_norm": True},
    "qwen3_moe": {"qk_norm": True},
    "gpt_oss": {"attention_bias": True, "sinks": True, "expert_bias": True, "router_bias": True},
    "gemma": {"tie": True},
    "gemma2": {"tie": True, "norms": 4},
    "gemma3": {"tie": True, "norms": 4, "qk_norm": True},
    "gemma3_text": {"tie": True, "norms": 4, "qk_norm": True},
    "deepseek_v2": {},
    "deepseek_v3": {"router_bias": True},  # e_score_correction_bias
}

# Fields that HF's Gemma3TextConfig fills in by default and that published
# gemma-3 config.json files routinely omit.
_GEMMA3_DEFAULTS = {"vocab_size": 262208, "num_attention_heads": 8, "num_key_value_heads": 4,
                    "head_dim": 256, "sliding_window": 4096, "sliding_window_pattern": 6}


@dataclass
class AttnSpec:
    kind: str                    # "gqa" (MHA/MQA/GQA) or "mla"
    n_heads: int
    n_kv_heads: int              # for MLA: latent is shared, reported as 1
    qk_head_dim: int
    v_head_dim: int
    window: int | None           # sliding-window size (keys incl. itself) or None = full causal
    qkv_macs: int                # per token: all projections producing Q, K, V
    out_macs: int                # per token: output projection
    score_macs_per_key: int      # per (query, key) pair over all heads: QK^T + PV
    params: int
    absorbed: tuple[int, int, int] | None = None  # MLA weight-absorbed (qkv, out, score/key)
    gemms: tuple = ()            # per token: (name, N, K, batch) of each weight matmul, in execution order
    absorbed_gemms: tuple = ()   # MLA weight-absorbed decode: the same list with kv_b split into two bmms
    kv_elems: int = 0            # KV-cache elements per token (K and V of every KV head; MLA: latent + rope)


@dataclass
class FFNSpec:
    kind: str                    # "dense" or "moe"
    dense_macs: int = 0
    expert_macs: int = 0         # the top-k routed experts of one token
    shared_macs: int = 0         # shared experts (+ their gate)
    router_macs: int = 0
    params_total: int = 0
    params_active: int = 0
    n_experts: int = 0
    top_k: int = 0
    gemms: tuple = ()            # per token, dense and shared-expert matmuls: (name, N, K, batch)
    expert_gemms: tuple = ()     # per routed (token, expert) pair: (name, N, K, batch)
    expert_params: int = 0       # one routed expert, biases included
    shared_params: int = 0
    router_params: int = 0


@dataclass
class LayerSpec:
    attn: AttnSpec
    ffn: FFNSpec
    norm_params: int


@dataclass
class ModelSpec:
    model_type: str
    hidden: int
    vocab: int
    tie: bool
    layers: list[LayerSpec]
    final_norm_params: int
    notes: list[str] = field(default_factory=list)


def load_config(path) -> dict:
    """Read a config.json; raise :class:`ConfigError` with a one-line message on failure."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ConfigError(f"config file not found: {p}")
    if os.path.isdir(p):
        cand = os.path.join(p, "config.json")
        if not os.path.isfile(cand):
            raise ConfigError(f"{p} is a directory without a config.json")
        p = cand
    try:
        with open(p, encoding="utf-8") as f:
            cfg = json.load(f)
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid JSON in {p}: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {p}: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{p}: expected a JSON object at top level, got {type(cfg).__name__}")
    return cfg


def _int(cfg: dict, key: str, default=None, *, minimum: int = 1, required: bool = True):
    v = cfg.get(key)
    if v is None:
        if default is not None or not required:
            return default
        raise ConfigError(f"config is missing required field '{key}'")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or int(v) != v:
        raise ConfigError(f"config field '{key}' must be an integer, got {v!r}")
    v = int(v)
    if v < minimum:
        raise ConfigError(f"config field '{key}' must be >= {minimum}, got {v}")
    return v


def _first(cfg: dict, keys, default=None, minimum: int = 0):
    for k in keys:
        if cfg.get(k) is not None:
            return _int(cfg, k, minimum=minimum)
    return default


def _layer_windows(cfg: dict, mt: str, n_layers: int, notes: list[str]) -> list[int | None]:
    sw = cfg.get("sliding_window")
    sw = _int(cfg, "sliding_window") if sw is not None else None
    if mt in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe") and not cfg.get("use_sliding_window", False):
        sw = None  # Qwen configs carry a sliding_window value that is disabled by use_sliding_window=false
    lt = cfg.get("layer_types")
    if lt is not None:
        if not isinstance(lt, list) or len(lt) != n_layers:
            raise ConfigError(f"'layer_types' must be a list of num_hidden_layers={n_layers} entries")
        sliding = ["sliding" in str(t) for t in lt]
    elif cfg.get("sliding_window_pattern") is not None:          # gemma3: every P-th layer is global
        pat = _int(cfg, "sliding_window_pattern")
        sliding = [bool((i + 1) % pat) for i in range(n_layers)]
    elif mt in ("gemma2", "gpt_oss"):                             # HF default: even layers sliding
        sliding = [i % 2 == 0 for i in range(n_layers)]
    elif mt in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        mwl = _int(cfg, "max_window_layers", 0, minimum=0)
        sliding = [i >= mwl for i in range(n_layers)]
    elif mt.startswith("deepseek") or mt == "llama":
        sliding = [False] * n_layers
    else:                                                         # mistral/mixtral and unknown
        sliding = [True] * n_layers
    if sw is None:
        if any(sliding) and lt is not None:
            notes.append("layer_types marks sliding layers but sliding_window is null: counted as full attention")
        return [None] * n_layers
    return [sw if s else None for s in sliding]


def _normalise(cfg: dict, notes: list[str]) -> tuple[dict, str, dict]:
    """(text config with family defaults filled, model_type, family conventions)."""
    if cfg.get("hidden_size") is None and isinstance(cfg.get("text_config"), dict):
        notes.append(f"using text_config of multimodal model_type '{cfg.get('model_type')}' (vision tower excluded)")
        cfg = cfg["text_config"]
    mt = str(cfg.get("model_type") or "")
    if mt in ("gemma3", "gemma3_text"):
        filled = [k for k in _GEMMA3_DEFAULTS if cfg.get(k) is None and not (k == "sliding_window_pattern" and cfg.get("layer_types"))]
        if filled:
            notes.append("HF Gemma3TextConfig defaults used for: " + ", ".join(filled))
            cfg = {**{k: _GEMMA3_DEFAULTS[k] for k in filled}, **{k: v for k, v in cfg.items() if v is not None}}
    fam = _KNOWN.get(mt)
    if fam is None:
        notes.append(f"unknown model_type {mt!r}: treated as llama-like (gated MLP, RMSNorm, no biases)"
                     if mt else "no model_type: treated as llama-like (gated MLP, RMSNorm, no biases)")
        fam = {}
    if mt == "deepseek_v3" or (cfg.get("num_nextn_predict_layers") or 0) > 0:
        n_mtp = cfg.get("num_nextn_predict_layers") or 0
        if n_mtp:
            notes.append(f"{n_mtp} multi-token-prediction (MTP) layer(s) excluded")
    return cfg, mt, fam


def _attention(cfg: dict, fam: dict, h: int, H: int):
    """(window -> AttnSpec, extra norm params per layer) for MLA or MHA/MQA/GQA."""
    if cfg.get("kv_lora_rank") is not None:          # DeepSeek multi-head latent attention
        kvr = _int(cfg, "kv_lora_rank")
        qr = _int(cfg, "q_lora_rank", required=False)
        nope = _int(cfg, "qk_nope_head_dim")
        rope = _int(cfg, "qk_rope_head_dim")
        dv = _int(cfg, "v_head_dim")
        dqk = nope + rope
        q_macs = (h * qr + qr * H * dqk) if qr else h * H * dqk
        kva = h * (kvr + rope)
        kvb = kvr * H * (nope + dv)
        o = H * dv * h
        params = q_macs + kva + kvb + o + kvr + (qr or 0)  # + q_a/kv_a layernorms
        naive = (q_macs + kva + kvb, o, H * (dqk + dv))
        absorbed = (q_macs + kva + H * nope * kvr,         # q_nope absorbed into latent space
                    H * kvr * dv + o,                      # latent context -> v heads -> o_proj
                    H * (kvr + rope) + H * kvr)            # scores over latent+rope, PV over latent
        q = (("q_a", qr, h, 1), ("q_b", H * dqk, qr, 1)) if qr else (("q", H * dqk, h, 1),)
        g = q + (("kv_a", kvr + rope, h, 1), ("kv_b", H * (nope + dv), kvr, 1), ("o", h, H * dv, 1))
        ga = q + (("kv_a", kvr + rope, h, 1), ("q_absorb", kvr, nope, H), ("v_absorb", dv, kvr, H),
                  ("o", h, H * dv, 1))
        return (lambda w: AttnSpec("mla", H, 1, dqk, dv, w, *naive, params, absorbed, g, ga, kvr + rope)), 0
    Hkv = _int(cfg, "num_key_value_heads", H)
    if H % Hkv:
        raise ConfigError(f"num_attention_heads={H} is not a multiple of num_key_value_heads={Hkv}")
    d = _int(cfg, "head_dim", required=False) or (h // H)
    if cfg.get("head_dim") is None and h % H:
        raise ConfigError(f"head_dim missing and hidden_size={h} not divisible by num_attention_heads={H}")
    qkv = h * (H + 2 * Hkv) * d
    o = H * d * h
    ab = bool(cfg.get("attention_bias", fam.get("attention_bias", False)))
    qkv_b = fam.get("qkv_bias", False) or ab
    params = qkv + o + ((H + 2 * Hkv) * d if qkv_b else 0) + (h if ab else 0)
    params += H if fam.get("sinks") else 0
    extra_norms = 2 * d if fam.get("qk_norm") else 0
    g = (("qkv", (H + 2 * Hkv) * d, h, 1), ("o", h, H * d, 1))  # q/k/v fused, as the engines run them
    return (lambda w: AttnSpec("gqa", H, Hkv, d, d, w, qkv, o, H * 2 * d, params, None, g, (), 2 * Hkv * d)), \
        extra_norms


_TOPK_KEYS = ("num_experts_per_tok", "experts_per_token", "num_experts_per_token", "moe_topk")


def _top_k(cfg):
    k = _first(cfg, _TOPK_KEYS, minimum=1)
    if k is None:
        raise ConfigError("config is missing required field 'num_experts_per_tok'")
    return k


def _ffns(cfg: dict, fam: dict, h: int, L: int) -> list[FFNSpec]:
    """One FFNSpec per layer: dense, or MoE in the family's placement (DeepSeek, Qwen-MoE, Mixtral/gpt-oss)."""
    def dense(inter: int) -> FFNSpec:
        m = 3 * h * inter
        b = (2 * inter + h) if cfg.get("mlp_bias") else 0
        return FFNSpec("dense", dense_macs=m, params_total=m + b, params_active=m + b,
                       gemms=(("gate_up", 2 * inter, h, 1), ("down", h, inter, 1)))

    def moe(E: int, k: int, inter: int, shared_macs: int, shared_params: int,
            expert_bias: bool, router_bias: bool, shared_gemms: tuple = ()) -> FFNSpec:
        if k > E:
            raise ConfigError(f"num_experts_per_tok={k} exceeds number of experts={E}")
        em = 3 * h * inter
        ep = em + ((2 * inter + h) if expert_bias else 0)
        rp = h * E + (E if router_bias else 0)
        return FFNSpec("moe", expert_macs=k * em, shared_macs=shared_macs, router_macs=h * E,
                       params_total=E * ep + shared_params + rp, params_active=k * ep + shared_params + rp,
                       n_experts=E, top_k=k, gemms=(("router", E, h, 1),) + shared_gemms,
                       expert_gemms=(("experts_gate_up", 2 * inter, h, 1), ("experts_down", h, inter, 1)),
                       expert_params=ep, shared_params=shared_params, router_params=rp)

    def shared(inter: int, gate: bool = False) -> tuple:
        g = (("shared_gate_up", 2 * inter, h, 1), ("shared_down", h, inter, 1)) if inter else ()
        return g + ((("shared_gate", 1, h, 1),) if gate and inter else ())

    if cfg.get("n_routed_experts"):                  # DeepSeek-style placement
        E, k = _int(cfg, "n_routed_experts"), _top_k(cfg)
        mi = _int(cfg, "moe_intermediate_size")
        ns = _int(cfg, "n_shared_experts", 0, minimum=0)
        fk = _int(cfg, "first_k_dense_replace", 0, minimum=0)
        freq = _int(cfg, "moe_layer_freq", 1)
        sm = ns * 3 * h * mi
        return [moe(E, k, mi, sm, sm, False, bool(fam.get("router_bias")), shared(ns * mi))
                if i >= fk and i % freq == 0
                else dense(_int(cfg, "intermediate_size")) for i in range(L)]
    if cfg.get("num_experts"):                       # Qwen-MoE placement
        E, k = _int(cfg, "num_experts"), _top_k(cfg)
        mi = _int(cfg, "moe_intermediate_size", None) or _int(cfg, "intermediate_size")
        si = _int(cfg, "shared_expert_intermediate_size", 0, minimum=0)
        sm = 3 * h * si + (h if si else 0)           # shared expert + its sigmoid gate (h -> 1)
        step = _int(cfg, "decoder_sparse_step", 1)
        only_dense = set(cfg.get("mlp_only_layers") or [])
        return [moe(E, k, mi, sm, sm, False, False, shared(si, gate=True))
                if i not in only_dense and (i + 1) % step == 0
                else dense(_int(cfg, "intermediate_size")) for i in range(L)]
    if cfg.get("num_local_experts"):                 # Mixtral / gpt-oss: every layer MoE
        E, k = _int(cfg, "num_local_experts"), _top_k(cfg)
        mi = _int(cfg, "intermediate_size")
        return [moe(E, k, mi, 0, 0, bool(fam.get("expert_bias")), bool(fam.get("router_bias"))) for _ in range(L)]
    return [dense(_int(cfg, "intermediate_size"))] * L


def parse_config(cfg: dict) -> ModelSpec:
    """Normalise an HF config dict into a :class:`ModelSpec` (raises ConfigError)."""
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    notes: list[str] = []
    cfg, mt, fam = _normalise(cfg, notes)
    h = _int(cfg, "hidden_size")
    L = _int(cfg, "num_hidden_layers")
    H = _int(cfg, "num_attention_heads")
    V = _int(cfg, "vocab_size")
    tie = cfg.get("tie_word_embeddings")
    if tie is None:
        tie = bool(fam.get("tie", False))
        notes.append(f"tie_word_embeddings not set: assumed {tie}")
    tie = bool(tie)
    windows = _layer_windows(cfg, mt, L, notes)
    mk_attn, qk_norms = _attention(cfg, fam, h, H)
    norms = fam.get("norms", 2) * h + qk_norms
    ffns = _ffns(cfg, fam, h, L)
    layers = [LayerSpec(mk_attn(windows[i]), ffns[i], norms) for i in range(L)]
    return ModelSpec(mt or "unknown", h, V, tie, layers, h, notes)

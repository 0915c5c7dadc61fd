"""Bytes per weight, per activation and per KV-cache element, from a HF config's dtype and quantization_config.

Pure Python. Weight bytes per parameter are given per model component, because quantized checkpoints keep
some modules in the model dtype: `modules_to_not_convert` / `ignore` / `llm_int8_skip_modules` are matched
against HF module paths (a `*` glob, a `re:` regex, else a substring, as the HF quantizers do). Scales count:
MXFP4 is 4 bits + one 8-bit scale per 32 weights; block FP8 1 byte + one fp32 scale per block; group-wise
int4 (AWQ/GPTQ/compressed-tensors) its bits + a 16-bit scale (and zero point when asymmetric) per group.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

COMPONENTS = ("attention", "mlp", "experts", "shared_experts", "router", "norms", "embedding", "lm_head")

DTYPE_BYTES = {"float32": 4, "float": 4, "fp32": 4, "tf32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2,
               "half": 2, "float8": 1, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "float8_e4m3fn": 1, "float8_e5m2": 1,
               "int8": 1, "uint8": 1, "int4": 0.5, "fp4": 0.5}
PEAK_KEY = {"float32": "fp32", "float": "fp32", "fp32": "fp32", "bfloat16": "bf16", "bf16": "bf16", "float16": "fp16",
            "fp16": "fp16", "half": "fp16", "fp8": "fp8", "int8": "int8"}

# One HF module path per component (a llama-style layout); the router has one path per family's name for it.
_PATHS = {"attention": ("model.layers.0.self_attn.q_proj",), "mlp": ("model.layers.0.mlp.down_proj",),
          "experts": ("model.layers.0.mlp.experts.0.down_proj", "model.layers.0.block_sparse_moe.experts.0.w2"),
          "shared_experts": ("model.layers.0.mlp.shared_experts.down_proj", "model.layers.0.mlp.shared_expert.down_proj"),
          "router": ("model.layers.0.mlp.gate", "model.layers.0.mlp.router", "model.layers.0.block_sparse_moe.gate"),
          "embedding": ("model.embed_tokens",), "lm_head": ("lm_head",)}
_LINEAR = ("attention", "mlp", "experts", "shared_experts")  # what weight quantizers convert by default


@dataclass
class Precision:
    activation_bytes: float          # bytes per activation element (the model dtype)
    kv_bytes: float                  # bytes per KV-cache element
    compute_dtype: str               # the device peak MFU is measured against: bf16, fp16, fp32, fp8, int8
    weight_bytes: dict               # component -> bytes per parameter
    scheme: str                      # what the weights are, in words
    notes: list = field(default_factory=list)


def _dtype(cfg):
    d = cfg.get("torch_dtype") or cfg.get("dtype")
    if isinstance(cfg.get("text_config"), dict) and not d:
        d = cfg["text_config"].get("torch_dtype") or cfg["text_config"].get("dtype")
    return str(d).replace("torch.", "") if d else None


def _excluded(patterns, component):
    pats = [p for p in (patterns or []) if isinstance(p, str)]
    for path in _PATHS.get(component, ()):
        for p in pats:
            if p.startswith("re:"):
                if re.search(p[3:], path):
                    return True
            elif "*" in p:
                if fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p + ".*"):
                    return True
            elif p in path:
                return True
    return False


def _group_bits(bits, group, asym=False):
    return bits + ((16 + (bits if asym else 0)) / group if group and group > 0 else 0.0)


def _scheme(q):
    """(bits per quantized weight, default components, excluded patterns, compute dtype or None, words)."""
    m = str(q.get("quant_method") or "").lower()
    if m == "mxfp4":
        return 4 + 8 / 32, ("experts",), q.get("modules_to_not_convert"), None, "MXFP4 experts (4 bits + e8m0 per 32)"
    if m in ("fp8", "fbgemm_fp8"):
        blk = q.get("weight_block_size")
        per = 1 + (4 / (blk[0] * blk[1]) if isinstance(blk, list) and len(blk) == 2 and all(blk) else 0.0)
        act = "fp8" if q.get("activation_scheme") or m == "fbgemm_fp8" else None
        words = f"FP8 weights{' in ' + 'x'.join(map(str, blk)) + ' blocks' if isinstance(blk, list) else ''}"
        return per * 8, _LINEAR, q.get("modules_to_not_convert"), act, words
    if m in ("awq", "gptq"):
        bits, g = int(q.get("bits") or q.get("w_bit") or 4), int(q.get("group_size") or q.get("q_group_size") or 0)
        asym = bool(q.get("zero_point", m == "awq")) if m == "awq" else not q.get("sym", True)
        return _group_bits(bits, g, asym), _LINEAR, q.get("modules_to_not_convert"), None, \
            f"{m.upper()} int{bits}, group {g or 'none'}"
    if m == "bitsandbytes":
        if q.get("load_in_4bit") or q.get("_load_in_4bit"):
            bits = 4 + (8 / 64 + 32 / (64 * 256) if q.get("bnb_4bit_use_double_quant") else 32 / 64)
            words = f"bitsandbytes {q.get('bnb_4bit_quant_type', 'nf4')} 4-bit"
        else:
            bits, words = 8, "bitsandbytes int8"
        return bits, _LINEAR, q.get("llm_int8_skip_modules"), None, words
    if m == "compressed-tensors":
        groups = [g for g in (q.get("config_groups") or {}).values() if isinstance(g, dict)]
        w = next((g.get("weights") for g in groups if isinstance(g.get("weights"), dict)), None)
        if w is None:
            return None
        bits = _group_bits(int(w.get("num_bits") or 8), w.get("group_size"), not w.get("symmetric", True))
        a = next((g.get("input_activations") for g in groups if isinstance(g.get("input_activations"), dict)), None)
        act = None
        if a and int(a.get("num_bits") or 16) == 8:
            act = "fp8" if a.get("type") == "float" else "int8"
        targets = _LINEAR + ("router", "lm_head")  # targets: Linear, minus `ignore`
        return bits, targets, q.get("ignore"), act, f"compressed-tensors {w.get('type', 'int')}{w.get('num_bits')}"
    return None


def precision(cfg: dict, kv_dtype: str | None = None) -> Precision:
    """Bytes per weight (by component), per activation and per KV element of an HF config."""
    notes = []
    d = _dtype(cfg)
    act = DTYPE_BYTES.get(d or "", None)
    if act is None:
        notes.append(f"model dtype {d!r} not recognised: activations and weights counted as bf16" if d else
                     "config has no torch_dtype: activations and weights counted as bf16")
        act, d = 2, "bfloat16"
    weights = dict.fromkeys(COMPONENTS, float(act))
    compute, scheme = PEAK_KEY.get(d, "bf16"), d
    q = cfg.get("quantization_config")
    if isinstance(q, dict) and q.get("quant_method"):
        s = _scheme(q)
        if s is None:
            notes.append(f"quantization {q.get('quant_method')!r} not modelled: weights counted at {d}")
        else:
            bits, default, excluded, act_dtype, words = s
            for c in default:
                if not _excluded(excluded, c):
                    weights[c] = bits / 8
            compute = act_dtype or compute
            scheme = f"{words}; other weights {d}"
    kv = float(act)
    kvq = q.get("kv_cache_scheme") if isinstance(q, dict) else None
    if kv_dtype:
        if kv_dtype not in DTYPE_BYTES:
            raise ValueError(f"unknown KV-cache dtype {kv_dtype!r} (one of {', '.join(sorted(DTYPE_BYTES))})")
        kv = float(DTYPE_BYTES[kv_dtype])
    elif isinstance(kvq, dict) and kvq.get("num_bits"):
        kv = int(kvq["num_bits"]) / 8
    else:
        notes.append(f"KV cache counted in the model dtype ({d}); an engine's --kv-cache-dtype is not in the config")
    return Precision(float(act), kv, compute, weights, scheme, notes)

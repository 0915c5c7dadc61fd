"""Model FLOPs per token against a hand count, component by component, for real configs: Qwen3-8B (dense, GQA),
Qwen3-30B-A3B and gpt-oss-20b (MoE; gpt-oss with a 128-key sliding window on every other layer).

The hand count writes each weight matmul out from the config (one token: 2 x in x out FLOPs) and counts the keys
each query attends by walking the positions, so it shares no code or closed form with traceflops.modelflops.
Model cards publish parameter counts (tests/test_model.py), not per-token FLOPs; their 2N figures are the
approximation this module is meant to improve on, so they are no truth here.
"""
import json
from pathlib import Path

import pytest

from traceflops.modelflops import model_flops

DATA = Path(__file__).parent / "data" / "models"


def config(name):
    return json.loads((DATA / f"{name}.json").read_text())


def keys_prefill(seq, window=None):
    """Mean keys per query over a causal prefill: query i sees keys 0..i, the last `window` of them."""
    return sum(i + 1 if window is None else min(i + 1, window) for i in range(seq)) / seq


def keys_decode(context, window=None):
    return context + 1 if window is None else min(context + 1, window)


def qwen3_8b(keys):
    """Qwen3-8B: hidden 4096, 36 layers, 32 query heads and 8 KV heads of 128, SwiGLU 12288, vocab 151936,
    untied head. q_norm/k_norm, RMSNorm, RoPE and SiLU are not matmuls."""
    h, layers, q, kv, ffn, vocab = 4096, 36, 32 * 128, 8 * 128, 12288, 151936
    per_layer = {
        "attention_qkv_proj": 2 * h * q + 2 * h * kv + 2 * h * kv,  # q_proj, k_proj, v_proj
        "attention_out_proj": 2 * q * h,  # o_proj
        "attention_scores": 2 * q * keys(None) + 2 * q * keys(None),  # Q.K^T and P.V over all 32 heads
        "mlp": 2 * h * ffn + 2 * h * ffn + 2 * ffn * h,  # gate_proj, up_proj, down_proj
    }
    out = {k: layers * v for k, v in per_layer.items()}
    out["lm_head"] = 2 * h * vocab
    return out


def qwen3_30b_a3b(keys):
    """Qwen3-30B-A3B: hidden 2048, 48 layers, every layer MoE (decoder_sparse_step 1, no mlp_only_layers):
    a 2048 -> 128 router and 8 of 128 SwiGLU experts of 768; 32 query / 4 KV heads of 128; vocab 151936."""
    h, layers, q, kv, expert, top_k, experts, vocab = 2048, 48, 32 * 128, 4 * 128, 768, 8, 128, 151936
    per_layer = {
        "attention_qkv_proj": 2 * h * q + 2 * h * kv + 2 * h * kv,
        "attention_out_proj": 2 * q * h,
        "attention_scores": 2 * q * keys(None) * 2,
        "router": 2 * h * experts,
        "experts": top_k * (2 * h * expert * 2 + 2 * expert * h),  # each chosen expert: gate, up, down
    }
    out = {k: layers * v for k, v in per_layer.items()}
    out["lm_head"] = 2 * h * vocab
    return out


def gpt_oss_20b(keys):
    """gpt-oss-20b: hidden 2880, 24 layers alternating sliding (128 keys) and full attention, 64 query heads and
    8 KV heads of 64 (q is 4096 wide), 4 of 32 experts with a fused gate_up 2880 -> 5760 and down 2880 -> 2880,
    router 2880 -> 32, vocab 201088. Biases and the attention sinks are not matmuls."""
    h, q, kv, expert, top_k, experts, vocab = 2880, 64 * 64, 8 * 64, 2880, 4, 32, 201088
    out = dict.fromkeys(["attention_qkv_proj", "attention_out_proj", "attention_scores", "router", "experts"], 0)
    for layer in range(24):
        window = 128 if layer % 2 == 0 else None  # layer_types: sliding_attention, full_attention, ...
        out["attention_qkv_proj"] += 2 * h * q + 2 * h * kv * 2
        out["attention_out_proj"] += 2 * q * h
        out["attention_scores"] += 2 * q * keys(window) * 2
        out["router"] += 2 * h * experts
        out["experts"] += top_k * (2 * h * 2 * expert + 2 * expert * h)
    out["lm_head"] = 2 * h * vocab
    return out


MODELS = {"Qwen__Qwen3-8B": qwen3_8b, "Qwen__Qwen3-30B-A3B": qwen3_30b_a3b, "openai__gpt-oss-20b": gpt_oss_20b}


@pytest.mark.parametrize("seq,context", [(1, 0), (100, 127), (1000, 300), (4096, 4096)])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_per_token_flops_equal_a_hand_count(name, seq, context):
    r = model_flops(config(name), seq=seq, context=context, train=True)
    for phase, keys in (("prefill", lambda w: keys_prefill(seq, w)), ("decode", lambda w: keys_decode(context, w))):
        hand = MODELS[name](keys)
        got = {k: v for k, v in r["breakdown"][phase].items() if v}
        assert set(got) == set(hand), (phase, set(got) ^ set(hand))
        for family, flops in hand.items():
            assert got[family] == pytest.approx(flops, rel=1e-12), (name, phase, family)
        assert r["flops_per_token"][phase] == pytest.approx(sum(hand.values()), rel=1e-12)
    prefill = sum(MODELS[name](lambda w: keys_prefill(seq, w)).values())
    assert r["flops_per_token"]["train"] == pytest.approx(3 * prefill, rel=1e-12)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_2n_is_the_weight_matmuls_alone(name):
    """With no attention work (one token, nothing cached) a token costs 2 FLOPs per active weight that is a
    matmul: 2N with N the active parameters without the input embedding, less the norms and biases."""
    r = model_flops(config(name), seq=1, context=0)
    hand = MODELS[name](lambda w: 1)
    matmul_weights = sum(v for k, v in hand.items() if k != "attention_scores") / 2
    n = r["active_params_without_embedding"]
    assert r["approx"]["N"] == n
    assert 0 < n - matmul_weights < 0.001 * n  # the rest: RMSNorm weights, biases, sinks
    assert r["flops_per_token"]["decode"] == pytest.approx(2 * matmul_weights + hand["attention_scores"], rel=1e-12)

"""Per-step model FLOPs and bytes against hand counts: weights by dtype (bf16, MXFP4 experts, block FP8, AWQ,
compressed-tensors, bitsandbytes), KV-cache bytes, the expected distinct experts, attention keys from the
annotation sums, and the GEMM shapes of each component.

The hand counts write every matrix out from the config's numbers and walk the requests one by one; they share
no code with traceflops.modelflops.
"""
import json
from pathlib import Path

import pytest

from traceflops.modelflops import Batch, model_flops, parse_config, precision, step_components, step_cost
from traceflops.modelflops.components import distinct_experts

DATA = Path(__file__).parent / "data" / "models"


def config(name):
    return json.loads((DATA / f"{name}.json").read_text())


def keys_walk(requests, window=None):
    """(query, key) pairs of one layer, request by request: request (q new, k KV after) has query j see k-q+j keys."""
    return sum(min(k - q + j, window) if window else k - q + j for q, k in requests for j in range(1, q + 1))


def test_batch_sums_give_exact_causal_keys():
    reqs = [(100, 100), (7, 1007), (1, 50), (1, 4096), (33, 40)]  # prefill, chunked prefill, decodes, chunk
    b = Batch(sum(q for q, _ in reqs), len(reqs), len(reqs), sum(k for _, k in reqs), sum(q * q for q, _ in reqs),
              sum(q * k for q, k in reqs))
    assert b.keys() == (keys_walk(reqs), True)
    assert b.kv_read() == (sum(k for _, k in reqs), True)


def test_sliding_window_keys_are_an_upper_bound_exact_past_the_window():
    decode = [(1, 500), (1, 1000), (1, 2000)]
    b = Batch.decode([499, 999, 1999])
    keys, exact = b.keys(128)
    assert keys == keys_walk(decode, 128) == 3 * 128 and exact is False  # equal here, but sums cannot prove it
    reqs = [(1000, 1000), (50, 50)]  # prefill: the first W queries of each prompt see fewer than W keys
    b = Batch.prefill([1000, 50])
    keys, exact = b.keys(128)
    assert keys >= keys_walk(reqs, 128) and exact is False
    small = Batch.prefill([30, 40])  # Σsk <= W: no request reaches the window
    assert small.keys(128) == (keys_walk([(30, 30), (40, 40)]), True)


def test_one_prefill_step_matches_per_token_model_flops():
    """A step of one L-token prompt = L x the per-token prefill FLOPs, minus the LM head on L-1 positions."""
    cfg = config("Qwen__Qwen3-8B")
    for L in (1, 17, 4096):
        c = step_cost(parse_config(cfg), Batch.prefill([L]), precision(cfg))
        per_tok = model_flops(cfg, seq=L)["flops_per_token"]["prefill"]
        assert c["flops"] == pytest.approx(L * per_tok - (L - 1) * 2 * 4096 * 151936, rel=1e-12)


def test_qwen3_8b_decode_step_by_hand():
    cfg = config("Qwen__Qwen3-8B")
    ctx = [1000, 2000, 3000, 4095]  # cached tokens per request; each adds one
    t, layers, h, q, kv, ffn, V = len(ctx), 36, 4096, 32 * 128, 8 * 128, 12288, 151936
    mats = [(q + 2 * kv, h), (h, q), (2 * ffn, h), (h, ffn)]  # fused qkv, o, gate_up, down: (N, K)
    keys = sum(c + 1 for c in ctx)
    flops = layers * (sum(2 * t * n * k for n, k in mats) + 2 * 2 * q * keys) + 2 * t * h * V
    weights = 2 * (layers * (sum(n * k for n, k in mats) + 2 * h + 2 * 128) + h + V * h + t * h)  # + norms, rows
    kv_bytes = 2 * layers * (keys + t) * 2 * kv  # K and V of every context token read, the new ones written
    act = 2 * (layers * (sum(t * (n + k) for n, k in mats) + t * 2 * q) + t * h + t * (h + V))
    c = step_cost(parse_config(cfg), Batch.decode(ctx), precision(cfg))
    assert c["flops"] == flops and c["exact"]
    assert c["weight_bytes"] == weights and c["kv_bytes"] == kv_bytes and c["activation_bytes"] == act
    assert c["bytes"] == weights + kv_bytes + act


def test_distinct_experts():
    assert distinct_experts(128, 8, 1) == pytest.approx(8)
    assert distinct_experts(128, 8, 0) == 0
    assert distinct_experts(128, 8, 16) == pytest.approx(128 * (1 - (120 / 128) ** 16))
    assert distinct_experts(32, 4, 10_000) == pytest.approx(32)


def test_qwen3_30b_a3b_decode_weights_read_by_hand():
    cfg = config("Qwen__Qwen3-30B-A3B")
    t, layers, h, E, k, mi, V = 16, 48, 2048, 128, 8, 768, 151936
    hit = E * (1 - (1 - k / E) ** t)
    attn = h * (32 + 8) * 128 + 32 * 128 * h
    per_layer = attn + E * h + hit * 3 * h * mi + 2 * h + 2 * 128  # + router, experts hit, norms
    weights = 2 * (layers * per_layer + h + V * h + t * h)
    c = step_cost(parse_config(cfg), Batch.decode([8193 // 16] * 16), precision(cfg))
    assert c["weight_bytes"] == pytest.approx(weights, rel=1e-12)
    experts = c["by_component"]["experts_gate_up"]["flops"] + c["by_component"]["experts_down"]["flops"]
    assert experts == layers * 2 * t * k * 3 * h * mi


def test_gpt_oss_mxfp4_experts_and_sliding_layers_by_hand():
    cfg = config("openai__gpt-oss-20b")
    p = precision(cfg)
    assert p.weight_bytes["experts"] == (4 + 8 / 32) / 8  # e2m1 + one e8m0 scale per 32
    assert p.weight_bytes["attention"] == p.weight_bytes["router"] == p.weight_bytes["lm_head"] == 2
    assert p.compute_dtype == "bf16"
    ctx = [499, 999, 1999]
    t, h, E, k, I, V = 3, 2880, 32, 4, 2880, 201088
    hit = E * (1 - (1 - k / E) ** t)
    expert_w = hit * (3 * h * I * (4 + 8 / 32) / 8 + (2 * I + h) * 2)  # matrices MXFP4, biases bf16
    attn_w = 2 * (h * (64 + 16) * 64 + 64 * 64 * h + (64 + 16) * 64 + h + 64)  # + q/k/v/o biases + sinks
    weights = 24 * (attn_w + 2 * (E * h + E) + expert_w + 2 * 2 * h) + 2 * (h + V * h + t * h)
    c = step_cost(parse_config(cfg), Batch.decode(ctx), p)
    assert c["weight_bytes"] == pytest.approx(weights, rel=1e-12)
    full = sum(c + 1 for c in ctx)
    sliding = sum(min(c + 1, 128) for c in ctx)
    assert c["attention_flops"] == 12 * 2 * 2 * 64 * 64 * full + 12 * 2 * 2 * 64 * 64 * sliding
    kv_tokens = 12 * (full + t) + 12 * (min(full, t * 127 + t) + t)
    assert c["kv_bytes"] == kv_tokens * 2 * 8 * 64 * 2


def test_deepseek_r1_fp8_blocks_and_mla_cache():
    cfg = config("deepseek-ai__DeepSeek-R1")
    p = precision(cfg)
    assert p.weight_bytes["experts"] == 1 + 4 / (128 * 128)  # e4m3 + an fp32 scale per 128x128 block
    assert p.weight_bytes["lm_head"] == p.weight_bytes["embedding"] == p.weight_bytes["router"] == 2
    assert p.compute_dtype == "fp8"
    c = step_cost(parse_config(cfg), Batch.decode([1023]), p)
    assert c["kv_bytes"] == 61 * (1024 + 1) * (512 + 64) * 2  # the latent and the rope key, per layer


@pytest.mark.parametrize("q,bits", [
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, 4 + (16 + 4) / 128),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True}, 4 + 16 / 128),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_use_double_quant": False}, 4 + 32 / 64),
    ({"quant_method": "compressed-tensors", "ignore": ["lm_head"], "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {"num_bits": 8, "type": "int", "symmetric": True, "group_size": None},
        "input_activations": {"num_bits": 8, "type": "int"}}}}, 8),
])
def test_quantization_bits(q, bits):
    p = precision({"torch_dtype": "bfloat16", "quantization_config": q})
    assert p.weight_bytes["mlp"] == pytest.approx(bits / 8) and p.weight_bytes["attention"] == pytest.approx(bits / 8)
    assert p.weight_bytes["lm_head"] == 2 and p.weight_bytes["embedding"] == 2


def test_compressed_tensors_w8a8_computes_in_int8_and_kv_scheme():
    q = {"quant_method": "compressed-tensors", "kv_cache_scheme": {"num_bits": 8, "type": "float"},
         "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}, "input_activations": {"num_bits": 8, "type": "float"}}}}
    p = precision({"torch_dtype": "bfloat16", "quantization_config": q})
    assert p.compute_dtype == "fp8" and p.kv_bytes == 1
    assert precision({"torch_dtype": "float16"}, kv_dtype="fp8").kv_bytes == 1
    unknown = precision({"torch_dtype": "bfloat16", "quantization_config": {"quant_method": "hqq"}})
    assert unknown.weight_bytes["mlp"] == 2 and any("not modelled" in n for n in unknown.notes)
    with pytest.raises(ValueError):
        precision({"torch_dtype": "bfloat16"}, kv_dtype="fp7")


def test_component_shapes_of_real_configs():
    """The per-layer GEMMs the engines run (fused qkv and gate_up), as the shared traces show them."""
    b = Batch.decode([100] * 16)
    q8 = step_components(parse_config(config("Qwen__Qwen3-8B")), b, precision(config("Qwen__Qwen3-8B")))
    assert len(q8["layers"]) == 36
    assert [(g.name, g.m, g.n, g.k) for g in q8["layers"][0].gemms] == [
        ("qkv", 16, 6144, 4096), ("o", 16, 4096, 4096), ("gate_up", 16, 24576, 4096), ("down", 16, 4096, 12288)]
    assert (q8["lm_head"].m, q8["lm_head"].n, q8["lm_head"].k) == (16, 151936, 4096)
    oss = step_components(parse_config(config("openai__gpt-oss-20b")), b, precision(config("openai__gpt-oss-20b")))
    assert [(g.name, g.m, g.n, g.k) for g in oss["layers"][0].gemms] == [  # trace: 2880->5120, 4096->2880, 2880->32
        ("qkv", 16, 5120, 2880), ("o", 16, 2880, 4096), ("router", 16, 32, 2880),
        ("experts_gate_up", 64, 5760, 2880), ("experts_down", 64, 2880, 2880)]
    assert [l.attention.window for l in oss["layers"][:2]] == [128, None]
    r1 = step_components(parse_config(config("deepseek-ai__DeepSeek-R1")), b, precision(config("deepseek-ai__DeepSeek-R1")))
    assert [(g.name, g.n, g.k) for g in r1["layers"][0].gemms] == [
        ("q_a", 1536, 7168), ("q_b", 128 * 192, 1536), ("kv_a", 576, 7168), ("kv_b", 128 * 256, 512),
        ("o", 7168, 128 * 128), ("gate_up", 2 * 18432, 7168), ("down", 7168, 18432)]
    moe = [(g.name, g.m, g.n, g.k) for g in r1["layers"][3].gemms]
    assert moe[-4:] == [("shared_gate_up", 16, 4096, 7168), ("shared_down", 16, 7168, 2048),
                        ("experts_gate_up", 128, 4096, 7168), ("experts_down", 128, 7168, 2048)]


def test_step_without_context_lengths_has_no_attention_or_kv_terms():
    cfg = config("Qwen__Qwen3-8B")
    c = step_cost(parse_config(cfg), Batch(tokens=8, requests=8, logits=8), precision(cfg))
    assert c["flops"] is None and c["attention_flops"] is None and c["kv_bytes"] is None and c["bytes"] is None
    assert c["linear_flops"] > 0 and c["weight_bytes"] > 0

"""Tests for the analytic model-FLOPs module (traceflops.model / traceflops model CLI).

Configs below are written from the published Hugging Face config.json values.
"""
import json

import pytest
from click.testing import CliRunner

from traceflops.modelflops import ConfigError, load_config, model_flops, speculative
from traceflops.cli.model import model

# --------------------------------------------------------------------------- published configs

LLAMA31_8B = {
    "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False,
}
LLAMA32_1B = {
    "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
    "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
    "tie_word_embeddings": True,
}
MIXTRAL_8X7B = {
    "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "num_local_experts": 8,
    "num_experts_per_tok": 2, "sliding_window": None, "tie_word_embeddings": False,
}


def _gpt_oss(n_layers, n_experts):
    return {
        "model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880,
        "num_hidden_layers": n_layers, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
        "vocab_size": 201088, "num_local_experts": n_experts, "num_experts_per_tok": 4,
        "experts_per_token": 4, "sliding_window": 128, "attention_bias": True,
        "tie_word_embeddings": False,
        "layer_types": ["sliding_attention", "full_attention"] * (n_layers // 2),
    }


GPT_OSS_120B = _gpt_oss(36, 128)
GPT_OSS_20B = _gpt_oss(24, 32)
DEEPSEEK_V3 = {
    "model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432,
    "moe_intermediate_size": 2048, "num_hidden_layers": 61, "first_k_dense_replace": 3,
    "moe_layer_freq": 1, "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
    "num_attention_heads": 128, "num_key_value_heads": 128, "q_lora_rank": 1536, "kv_lora_rank": 512,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 129280,
    "tie_word_embeddings": False, "num_nextn_predict_layers": 1, "topk_method": "noaux_tc",
}
QWEN3_30B_A3B = {
    "model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144,
    "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
    "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936, "num_experts": 128,
    "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
    "tie_word_embeddings": False, "sliding_window": None, "use_sliding_window": False,
    "max_window_layers": 48, "attention_bias": False,
}
GEMMA2_9B = {
    "model_type": "gemma2", "hidden_size": 3584, "intermediate_size": 14336, "num_hidden_layers": 42,
    "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256, "vocab_size": 256000,
    "sliding_window": 4096, "tie_word_embeddings": True,
}


def within(x, ref, tol=0.02):
    return abs(x - ref) / ref <= tol


# --------------------------------------------------------------------------- published parameter counts

def test_llama31_8b_total():
    r = model_flops(LLAMA31_8B)
    assert within(r["total_params"], 8.03e9)                 # Meta: 8.03B incl. embedding + LM head
    assert r["active_params"] == r["total_params"]           # dense
    # untied: dropping the input embedding removes exactly vocab*hidden
    assert r["total_params"] - r["total_params_without_embedding"] == 128256 * 4096


def test_mixtral_8x7b():
    r = model_flops(MIXTRAL_8X7B)
    assert within(r["total_params"], 46.7e9)
    # Mistral's 12.9B active includes the embeddings (12.88B); without them it would be 12.75B
    assert within(r["active_params"], 12.9e9, 0.005)
    assert not within(r["active_params_without_embedding"], 12.9e9, 0.005)


def test_gpt_oss_120b():
    r = model_flops(GPT_OSS_120B)
    assert within(r["total_params"], 116.8e9)
    # OpenAI's model card counts active params without the input embedding (unembedding included)
    assert within(r["active_params_without_embedding"], 5.1e9)
    assert within(r["active_params_without_embedding"], 5.13e9, 0.002)
    assert not within(r["active_params"], 5.13e9, 0.02)


def test_gpt_oss_20b():
    r = model_flops(GPT_OSS_20B)
    assert within(r["total_params"], 20.9e9)
    assert within(r["active_params_without_embedding"], 3.6e9)
    assert within(r["active_params_without_embedding"], 3.61e9, 0.002)


def test_deepseek_v3_without_mtp():
    r = model_flops(DEEPSEEK_V3)
    assert within(r["total_params"], 671e9, 0.002)           # main model incl. embedding + head, no MTP
    # DeepSeek's headline "37B activated" is stated including embedding and output head
    assert within(r["active_params"], 37e9)
    assert r["layers"]["moe_layers"] == 58                   # first_k_dense_replace = 3
    assert any("MTP" in n for n in r["notes"])


def test_qwen3_30b_a3b():
    r = model_flops(QWEN3_30B_A3B)
    assert within(r["total_params"], 30.5e9)
    assert within(r["active_params"], 3.3e9)                 # Qwen counts the embeddings in 3.3B
    assert not within(r["active_params_without_embedding"], 3.3e9, 0.05)
    # Qwen also publishes "29.9B non-embedding" = without embedding *and* LM head
    p = r["params"]
    assert within(r["total_params"] - p["embedding"] - p["lm_head"], 29.9e9, 0.005)


def test_gemma2_9b_tied_and_sliding():
    r = model_flops(GEMMA2_9B)
    assert within(r["total_params"], 9.24e9)
    # tied: embedding counted once; the shared matrix stays as LM head without the input embedding
    assert r["total_params_without_embedding"] == r["total_params"]
    assert r["layers"]["sliding_layers"] == 21               # even layers sliding by default


def test_tied_counted_once():
    tied = model_flops(LLAMA32_1B)
    untied = model_flops({**LLAMA32_1B, "tie_word_embeddings": False})
    assert untied["total_params"] - tied["total_params"] == 128256 * 2048
    assert within(tied["total_params"], 1.24e9)              # Llama-3.2-1B: 1.24B
    # FLOPs are identical: LM head is a matmul either way
    assert tied["flops_per_token"] == untied["flops_per_token"]


# --------------------------------------------------------------------------- hand-worked tiny model

TINY = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4, "vocab_size": 10,
        "tie_word_embeddings": False}


def test_tiny_by_hand():
    r = model_flops(TINY, seq=4, context=3, train=True)
    # params per layer: q 8*8 + k 8*4 + v 8*4 + o 8*8 = 192; mlp 3*8*16 = 384; 2 RMSNorms 16
    per_layer = 192 + 384 + 16
    assert r["total_params"] == 2 * per_layer + 80 + 80 + 8  # embed, lm_head, final norm = 1352
    assert r["total_params"] == 1352
    assert r["active_params_without_embedding"] == 1352 - 80
    # FLOPs per token per layer: qkv 2*(64+32+32)=256, out 2*64=128, mlp 2*384=768
    # scores: 2 query heads * (4 QK + 4 PV) MACs per key = 16 MACs = 32 FLOPs per key
    # prefill L=4: keys 1,2,3,4 -> mean 2.5 -> 80 FLOPs; decode C=3: 4 keys -> 128 FLOPs
    lm = 2 * 8 * 10
    assert r["flops_per_token"]["prefill"] == 2 * (256 + 128 + 768 + 80) + lm == 2624
    assert r["flops_per_token"]["decode"] == 2 * (256 + 128 + 768 + 128) + lm == 2720
    assert r["flops_per_token"]["train"] == 3 * 2624
    b = r["breakdown"]["prefill"]
    assert b["attention_qkv_proj"] == 512 and b["attention_scores"] == 160
    assert b["attention_out_proj"] == 256 and b["mlp"] == 1536 and b["lm_head"] == 160
    assert b["embedding"] == 0 and b["experts"] == 0 and b["router"] == 0
    assert sum(b.values()) == r["flops_per_token"]["prefill"]
    assert r["approx"]["2N"]["value"] == 2 * 1272
    assert r["approx"]["2N"]["rel_error_prefill"] == pytest.approx((2544 - 2624) / 2624)
    assert r["approx"]["6N"]["rel_error_train"] == pytest.approx((6 * 1272 - 3 * 2624) / (3 * 2624))


def test_tiny_sliding_by_hand():
    cfg = {**TINY, "sliding_window": 2, "layer_types": ["sliding_attention", "full_attention"]}
    r = model_flops(cfg, seq=4, context=3)
    # layer 0 (window 2): prefill keys 1,2,2,2 -> mean 1.75 -> 56 FLOPs; decode 2 keys -> 64
    assert r["breakdown"]["prefill"]["attention_scores"] == 56 + 80
    assert r["breakdown"]["decode"]["attention_scores"] == 64 + 128


def test_tiny_moe_by_hand():
    cfg = {**TINY, "model_type": "qwen2_moe", "num_experts": 4, "num_experts_per_tok": 2,
           "moe_intermediate_size": 6, "shared_expert_intermediate_size": 10, "decoder_sparse_step": 2}
    r = model_flops(cfg, seq=4, context=3)
    # qwen2_moe: q/k/v biases (8+4+4); layer 0 dense (sparse step 2), layer 1 MoE
    attn = 192 + 16
    expert, shared, router = 3 * 8 * 6, 3 * 8 * 10 + 8, 8 * 4
    total_l1 = attn + 4 * expert + shared + router + 16
    assert r["total_params"] == (attn + 384 + 16) + total_l1 + 168
    assert r["active_params"] == (attn + 384 + 16) + (attn + 2 * expert + shared + router + 16) + 168
    b = r["breakdown"]["decode"]
    assert b["experts"] == 2 * 2 * expert and b["shared_experts"] == 2 * shared
    assert b["router"] == 2 * router and b["mlp"] == 2 * 384


def test_tiny_mla_by_hand():
    cfg = {"model_type": "deepseek_v3", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
           "num_attention_heads": 2, "q_lora_rank": 4, "kv_lora_rank": 4, "qk_nope_head_dim": 2,
           "qk_rope_head_dim": 2, "v_head_dim": 2, "vocab_size": 10, "tie_word_embeddings": False}
    r = model_flops(cfg, seq=1, context=0)
    # q_a 8*4, q_b 4*(2*4), kv_a 8*(4+2), kv_b 4*(2*(2+2)), o (2*2)*8, q_a/kv_a norms 4+4
    assert r["params"]["attention"] == 32 + 32 + 48 + 32 + 32 + 8
    d = r["breakdown"]["decode"]
    assert d["attention_qkv_proj"] == 2 * (32 + 32 + 48 + 32)
    assert d["attention_scores"] == 2 * 2 * (4 + 2) * 1           # 2 heads x (qk 4 + v 2), 1 key
    a = model_flops(cfg, seq=1, context=0, mla_absorbed_decode=True)["breakdown"]["decode"]
    assert a["attention_qkv_proj"] == 2 * (32 + 32 + 48 + 2 * 2 * 4)  # + q_nope absorbed (heads*nope*kv_lora)
    assert a["attention_out_proj"] == 2 * (2 * 4 * 2 + 32)              # latent->v, then o_proj
    assert a["attention_scores"] == 2 * (2 * (4 + 2) + 2 * 4)           # scores on latent+rope, PV on latent


# --------------------------------------------------------------------------- where 6ND / 2N is off

def test_long_context_attention_share_llama():
    L = 131072
    r = model_flops(LLAMA31_8B, seq=L, train=True)
    # by hand: 32 layers * 2 FLOP * 32 heads * (128 + 128) * mean keys (L+1)/2
    scores = 32 * 2 * 32 * 256 * (L + 1) / 2
    assert r["breakdown"]["prefill"]["attention_scores"] == pytest.approx(scores)
    weights = 2 * r["active_params_without_embedding"]
    share = scores / r["flops_per_token"]["prefill"]
    assert share > 0.65                                       # ~70% of the work is QK^T/PV
    assert share == pytest.approx(scores / (scores + weights), rel=1e-3)
    assert r["approx"]["2N"]["rel_error_prefill"] < -0.65     # 2N underestimates by >65%
    assert r["approx"]["6N"]["rel_error_train"] < -0.65
    short = model_flops(LLAMA31_8B, seq=128)
    assert abs(short["approx"]["2N"]["rel_error_prefill"]) < 0.02


def test_sliding_window_below_full_attention():
    L = 131072
    exact = model_flops(GPT_OSS_120B, seq=L, context=L)
    full_cfg = {**GPT_OSS_120B, "layer_types": ["full_attention"] * 36}
    full = model_flops(full_cfg, seq=L, context=L)
    for phase in ("prefill", "decode"):
        assert exact["flops_per_token"][phase] < full["flops_per_token"][phase]
    # by hand: 18 full layers attend (L+1)/2 keys on average, 18 sliding layers ~W=128 keys
    W = 128
    per_key = 2 * 64 * (64 + 64)
    mean_sw = (W * (W + 1) / 2 + (L - W) * W) / L
    assert exact["breakdown"]["prefill"]["attention_scores"] == pytest.approx(
        18 * per_key * ((L + 1) / 2 + mean_sw))
    assert exact["breakdown"]["decode"]["attention_scores"] == pytest.approx(18 * per_key * (L + 1 + W))
    # full attention everywhere would overstate prefill attention by ~2x
    ratio = full["breakdown"]["prefill"]["attention_scores"] / exact["breakdown"]["prefill"]["attention_scores"]
    assert ratio > 1.9


def test_gemma3_pattern_and_qwen_sliding_disabled():
    g = {"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 12,
         "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16, "vocab_size": 100,
         "sliding_window": 8, "sliding_window_pattern": 6}
    assert model_flops(g)["layers"]["sliding_layers"] == 10   # layers 5 and 11 global
    q = {**QWEN3_30B_A3B, "sliding_window": 4096}
    assert model_flops(q)["layers"]["sliding_layers"] == 0     # use_sliding_window = false


# --------------------------------------------------------------------------- speculative decoding

def test_speculative_geometric_model():
    k, A, C = 3, 0.5, 100
    s = speculative(LLAMA31_8B, LLAMA32_1B, k, A, C)
    E = 1 + A + A ** 2 + A ** 3
    assert s["expected_tokens_per_step"] == pytest.approx(E) == pytest.approx((1 - A ** 4) / (1 - A))
    tgt = [model_flops(LLAMA31_8B, context=C + j)["flops_per_token"]["decode"] for j in range(k + 1)]
    drf = [model_flops(LLAMA32_1B, context=C + j)["flops_per_token"]["decode"] for j in range(k)]
    p = s["flops_per_accepted_token"]
    assert p["target"] == pytest.approx(sum(tgt) / E)
    assert p["draft"] == pytest.approx(sum(drf) / E)
    wasted = sum((1 - A ** j) * t for j, t in enumerate(tgt)) + sum((1 - A ** (j + 1)) * d for j, d in enumerate(drf))
    assert p["wasted"] == pytest.approx(wasted / E)
    assert p["total"] == pytest.approx(p["target"] + p["draft"])


def test_speculative_limits():
    perfect = speculative(TINY, TINY, 4, 1.0, 10)
    assert perfect["expected_tokens_per_step"] == 5
    assert perfect["flops_per_accepted_token"]["wasted"] == 0
    none = speculative(TINY, TINY, 4, 0.0, 10)
    assert none["expected_tokens_per_step"] == 1
    assert none["flops_per_accepted_token"]["useful_target"] == pytest.approx(
        model_flops(TINY, context=10)["flops_per_token"]["decode"])
    with pytest.raises(ValueError):
        speculative(TINY, TINY, 0, 0.5, 10)
    with pytest.raises(ValueError):
        speculative(TINY, TINY, 2, 1.5, 10)


# --------------------------------------------------------------------------- config handling

def test_unknown_model_type_and_missing_fields():
    r = model_flops({**TINY, "model_type": "frobnicator"})
    assert any("llama-like" in n for n in r["notes"])
    assert r["flops_per_token"] == model_flops(TINY)["flops_per_token"]
    bad = dict(TINY)
    del bad["num_hidden_layers"]
    with pytest.raises(ValueError, match="num_hidden_layers"):
        model_flops(bad)
    with pytest.raises(ValueError, match="num_experts_per_tok"):
        model_flops({**MIXTRAL_8X7B, "num_experts_per_tok": None})


def test_load_config(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(TINY))
    assert load_config(p) == TINY
    assert load_config(tmp_path) == TINY                      # directory with config.json
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_config(tmp_path / "bad.json")


# --------------------------------------------------------------------------- CLI

def _write(tmp_path, name, cfg):
    p = tmp_path / name
    p.write_text(json.dumps(cfg))
    return str(p)


def test_cli_json_keys(tmp_path):
    res = CliRunner().invoke(model, [_write(tmp_path, "c.json", LLAMA31_8B), "--json", "--train",
                                     "--seq", "8192", "--context", "1024"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    for key in ("total_params", "active_params", "active_params_without_embedding",
                "total_params_without_embedding", "flops_per_token", "approx", "breakdown", "notes"):
        assert key in out
    assert set(out["flops_per_token"]) == {"prefill", "decode", "train"}
    assert "2N" in out["approx"] and "6N" in out["approx"]
    assert out["flops_per_token"] == model_flops(LLAMA31_8B, seq=8192, context=1024, train=True)["flops_per_token"]


def test_cli_human_and_speculative(tmp_path):
    t, d = _write(tmp_path, "t.json", LLAMA31_8B), _write(tmp_path, "d.json", LLAMA32_1B)
    res = CliRunner().invoke(model, [t, "--draft", d, "--k", "4", "--acceptance", "0.8"])
    assert res.exit_code == 0, res.output
    assert "attention_scores" in res.output and "2N" in res.output and "speculative" in res.output
    res = CliRunner().invoke(model, [t, "--draft", d, "--k", "4", "--acceptance", "0.8", "--json"])
    assert json.loads(res.output)["speculative"]["k"] == 4


@pytest.mark.parametrize("content,args,needle", [
    (None, [], "not found"),
    ("{oops", [], "invalid JSON"),
    (json.dumps({"model_type": "llama", "hidden_size": 8}), [], "missing required field"),
    (json.dumps(TINY), ["--k", "3"], "--draft"),
    (json.dumps(TINY), ["--seq", "0"], "--seq"),
])
def test_cli_bad_input_exit_2(tmp_path, content, args, needle):
    path = tmp_path / "cfg.json"
    if content is not None:
        path.write_text(content)
    res = CliRunner().invoke(model, [str(path), *args])
    assert res.exit_code == 2
    assert needle in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert len(res.output.strip().splitlines()) == 1

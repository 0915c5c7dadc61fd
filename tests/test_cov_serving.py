"""kernels/serving.py: serving-stack KV caches, paged attention, fused activations, RoPE, quantization and MoE.

aten quantize / dequantize are recorded by the torch CPU profiler; the vLLM / SGLang / aiter / FlashInfer ops
are built from their registration schemas (/work/research/ops.md §D, §E). Expected numbers are hand counts of
the module's documented constants; the fused-expert FLOPs are checked against FlopCounterMode's count of the
dense matmuls they replace (each token's rows through k experts' gate/up and down projections).
"""
import warnings

import pytest
import torch

from traceflops import op_cost

from .cov_profile import fcm_total, profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
BF, F8 = "c10::BFloat16", "c10::Float8_e4m3fn"


def _record():
    x = torch.randn(64, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensor creation is deprecated
        q = torch.quantize_per_tensor(x, 0.1, 0, torch.qint8)
        torch.quantize_per_tensor(x, 0.1, 0, torch.qint32)
        torch.quantize_per_channel(x, torch.rand(32).double(), torch.zeros(32, dtype=torch.long), 1, torch.quint8)
        torch.quantize_per_tensor_dynamic(x, torch.quint8, False)
        q.dequantize()
        q.int_repr()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("serving"))


def test_profiled_quantize_dequantize(ops):
    n = 64 * 32
    c = recorded_cost(ops, "aten::quantize_per_tensor", 0)  # qint8 out: 1 B
    assert c.flops == 2 * n and c.bytes == n * 4 + n and c.family == "quantize"
    assert recorded_cost(ops, "aten::quantize_per_tensor", 1).bytes == n * 4 + n * 4  # qint32
    c = recorded_cost(ops, "aten::quantize_per_channel")  # + fp64 scales [32], int64 zero points [32]
    assert c.flops == 2 * n and c.bytes == n * 4 + 32 * 8 + 32 * 8 + n
    c = recorded_cost(ops, "aten::quantize_per_tensor_dynamic")  # + the min/max
    assert c.flops == 3 * n and c.bytes == n * 4 + n
    c = recorded_cost(ops, "aten::dequantize")
    assert c.flops == 2 * n and c.bytes == n + n * 4
    c = recorded_cost(ops, "aten::int_repr")
    assert c.flops == 0 and c.bytes == n + n
    assert op_cost("aten::quantize_per_tensor", [[64, 32], [], [], []], [], []).note == NOT_RECORDED
    assert op_cost("aten::dequantize", [[]], [""], []).note == NOT_RECORDED


# ---- KV caches and paged attention -------------------------------------------------------------------------

T, HK, D = 4, 2, 8


@pytest.mark.parametrize("cache_t,size", [(BF, 2), (F8, 1)])
def test_reshape_and_cache_writes_t_slots(cache_t, size):
    # (key [T, Hk, D], value, key_cache [NB, Hk, D/x, bs, x], value_cache [NB, Hk, D, bs], slot_mapping [T],
    # kv_cache_dtype, k_scale, v_scale)
    dims = [[T, HK, D], [T, HK, D], [16, HK, 1, 16, D], [16, HK, D, 16], [T], [], [1], [1]]
    types = [BF, BF, cache_t, cache_t, "long int", "", "float", "float"]
    c = op_cost("_C_cache_ops::reshape_and_cache", dims, types, [""] * 8)
    assert c.flops == 0 and c.bytes == 2 * T * HK * D * 2 + T * 8 + 2 * T * HK * D * size and c.family == "kv_cache"
    assert op_cost("_C_cache_ops::reshape_and_cache", dims, [], []).note == NOT_RECORDED  # torch 1.8: no dtypes
    assert op_cost("_C_cache_ops::reshape_and_cache", dims, ["", BF] + types[2:], [""] * 8).note == NOT_RECORDED
    # the caches' dtype not recorded: how many bytes a slot holds is unknown
    assert op_cost("_C_cache_ops::reshape_and_cache", dims, types[:2] + ["", ""] + types[4:], [""] * 8).note == NOT_RECORDED


def test_concat_and_cache_mla():
    # (kv_c [T, Lc], k_pe [T, R], kv_cache [NB, bs, Lc + R], slot_mapping [T], kv_cache_dtype, scale)
    c = op_cost("_C_cache_ops::concat_and_cache_mla", [[T, 16], [T, 8], [10, 16, 24], [T], [], [1]],
                [BF, BF, BF, "long int", "", "float"], [""] * 6)
    assert c.bytes == T * 24 * 2 + T * 8 + T * 24 * 2


def test_paged_attention_lower_bounds():
    q = [T, 8, 64]
    want = T * 512 * 2 + T * 16 * 4 + T * 4 + T * 512 * 2  # query, block tables, seq lens read; out written
    # v1: 0 out, 1 query, 2 key_cache, 3 value_cache, 4 num_kv_heads, 5 scale, 6 block_tables, 7 seq_lens, ...
    c = op_cost("_C::paged_attention_v1", [q, q, [16, 2, 8, 16, 8], [16, 2, 64, 16], [], [], [T, 16], [T], [], []],
                [BF, BF, BF, BF, "Scalar", "Scalar", "int", "int", "Scalar", "Scalar"], [""] * 10)
    assert c.flops is None and c.bytes == want and c.bytes_source == "lower_bound" and "not recorded" in c.note
    # v2: exp_sums, max_logits, tmp_out at 1-3 shift the query to 4 and the tables to 9, 10
    c = op_cost("_C::paged_attention_v2", [q, [T, 8, 2], [T, 8, 2], [T, 8, 2, 64], q, [16], [16], [], [], [T, 16], [T]],
                ["float", "float", "float", BF, BF, BF, BF, "Scalar", "Scalar", "int", "int"], [""] * 11)
    assert c.bytes == want
    assert op_cost("_C::paged_attention_v1", [q, []], [BF, ""], []).note == NOT_RECORDED


# ---- activations, rope, quantization ------------------------------------------------------------------------

@pytest.mark.parametrize("name,per", [("_C::gelu_and_mul", 6), ("vllm::gelu_tanh_and_mul", 6),
                                      ("flashinfer::mul_and_silu", 5), ("_C::fatrelu_and_mul", 2),
                                      ("sgl_kernel::swigluoai_and_mul", 9)])
def test_gated_activations(name, per):
    # (out [T, d], input [T, 2d], ...): per output element; reads the input, writes out
    c = op_cost(name, [[T, 64], [T, 128], []], [BF, BF, "Scalar"], ["", "", "0."])
    assert c.flops == per * T * 64 and c.bytes == T * 128 * 2 + T * 64 * 2 and c.family == "elementwise"
    assert op_cost(name, [[], [T, 128]], ["", BF], []).note == NOT_RECORDED


def test_gelu_out():
    c = op_cost("_C::gelu_new", [[T, 64], [T, 64]], ["c10::Half"] * 2, ["", ""])
    assert c.flops == 5 * T * 64 and c.bytes == 2 * T * 64 * 2
    assert op_cost("_C::gelu_quick", [[T, 64], []], ["c10::Half", ""], []).note == NOT_RECORDED


@pytest.mark.parametrize("rot", [64, 32])
def test_apply_rope(rot):
    # (q [T, Hq, D], k [T, Hk, D], q_rope, k_rope, cos_sin_cache [P, rot], pos_ids [T], interleave, ...): 3 per
    # rotated element of every head; reads q, k, T cache rows (fp32) and the positions, writes q_rope, k_rope
    q, k = [T, 8, 64], [T, 2, 64]
    c = op_cost("sgl_kernel::apply_rope_pos_ids_cos_sin_cache", [q, k, q, k, [1024, rot], [T], []],
                [BF, BF, BF, BF, "float", "long int", "Scalar"], [""] * 6 + ["False"])
    qk = (T * 8 * 64 + T * 2 * 64) * 2
    assert c.flops == 3 * T * 10 * rot and c.bytes == 2 * qk + T * 8 + T * rot * 4
    assert op_cost("flashinfer::apply_rope_pos_ids_cos_sin_cache", [q, k, q, k, [1024], [T]], [BF] * 4 + ["float", "long int"],
                   []).note == NOT_RECORDED


def test_fp8_quant_ops():
    n = T * 64
    # static: (result fp8, input, scale [1]): 2 per element
    c = op_cost("_C::static_scaled_fp8_quant", [[T, 64], [T, 64], [1]], [F8, BF, "float"], [""] * 3)
    assert c.flops == 2 * n and c.bytes == n * 2 + n + 4
    # dynamic per token: (result, input, scale [T, 1] (written), scale_ub?): 3 per element
    c = op_cost("_C::dynamic_per_token_scaled_fp8_quant", [[T, 64], [T, 64], [T, 1], []], [F8, BF, "float", ""], [""] * 4)
    assert c.flops == 3 * n and c.bytes == n * 2 + n + T * 4
    # per token group: (input, output_q, output_s [T, H/G], group_size, eps, min, max)
    c = op_cost("sgl_kernel::sgl_per_token_group_quant_fp8", [[T, 64], [T, 64], [T, 1]] + [[]] * 4,
                [BF, F8, "float"] + ["Scalar"] * 4, ["", "", "", "64", "1e-10", "-448", "448"])
    assert c.flops == 3 * n and c.bytes == n * 2 + n + T * 4
    assert op_cost("_C::static_scaled_int8_quant", [[], [T, 64]], ["", BF], []).note == NOT_RECORDED


# ---- MoE ------------------------------------------------------------------------------------------------------

TT, HH, E, I, KK = 4, 32, 8, 16, 2  # tokens, hidden, experts, intermediate, top-k


def test_topk_softmax():
    # vLLM: (topk_weights [T, k] f32, topk_indices [T, k] i32, token_expert_indices [T, k], gating_output [T, E])
    c = op_cost("_moe_C::topk_softmax", [[TT, KK], [TT, KK], [TT, KK], [TT, E]], ["float", "int", "int", "float"], [""] * 4)
    assert c.flops == 5 * TT * E and c.bytes == TT * E * 4 + 3 * TT * KK * 4 and c.family == "routing"
    # sgl-kernel current: (topk_weights, topk_indices, gating_output, renormalize)
    c = op_cost("sgl_kernel::topk_softmax", [[TT, KK], [TT, KK], [TT, E], []], ["float", "int", "float", "Scalar"],
                ["", "", "", "True"])
    assert c.bytes == TT * E * 4 + 2 * TT * KK * 4
    assert op_cost("_moe_C::topk_softmax", [[TT, E]], ["float"], [""]).note == NOT_RECORDED


def test_moe_sum():
    c = op_cost("_moe_C::moe_sum", [[TT, KK, HH], [TT, HH]], [BF, BF], ["", ""])
    assert c.flops == (KK - 1) * TT * HH and c.bytes == TT * KK * HH * 2 + TT * HH * 2
    assert op_cost("_moe_C::moe_sum", [[TT, HH], [TT, HH]], [BF, BF], ["", ""]).note == NOT_RECORDED


def _dense_moe():
    """FlopCounterMode of the dense matmuls: T*k token rows through gate/up [H, 2I] and down [I, H]."""
    return fcm_total(lambda: (torch.randn(TT * KK, HH) @ torch.randn(HH, 2 * I),
                              torch.randn(TT * KK, I) @ torch.randn(I, HH)))


def test_fused_experts_match_the_dense_matmuls():
    flops = _dense_moe()
    x, w1, w2, tw, ids = [TT, HH], [E, 2 * I, HH], [E, HH, I], [TT, KK], [TT, KK]
    c = op_cost("vllm::outplace_fused_experts", [x, w1, w2, tw, ids], [BF, BF, BF, "float", "int"], [""] * 5)
    # activations + routing read, the output written, and the weights of (at least) k experts
    weights = KK * (E * 2 * I * HH + E * HH * I) // E * 2
    assert c.flops == flops and c.bytes == TT * HH * 2 + TT * KK * 8 + TT * HH * 2 + weights
    assert c.bytes_source == "lower_bound" and c.family == "gemm"
    # int4: w1 [E, 2I, H/2], w2 [E, H, I/2] packed two a byte; the FLOPs are the model's
    c = op_cost("vllm::inplace_fused_experts", [x, [E, 2 * I, HH // 2], [E, HH, I // 2], tw, ids],
                [BF, "unsigned char", "unsigned char", "float", "int"], [""] * 5)
    assert c.flops == flops
    c = op_cost("vllm::fused_moe", [x, w1, w2, tw, ids], [], [])  # torch 1.8-style: no dtypes, FLOPs only
    assert c.flops == flops and c.bytes is None
    assert op_cost("vllm::fused_moe", [x, w1, w2, tw, [TT]], [BF, BF, BF, "float", "int"], [""] * 5).note == NOT_RECORDED


def test_ck_moe_stages():
    x, w1, w2 = [TT, HH], [E, 2 * I, HH], [E, HH, I]
    gate_up = fcm_total(lambda: torch.randn(TT * KK, HH) @ torch.randn(HH, 2 * I))
    down = fcm_total(lambda: torch.randn(TT * KK, I) @ torch.randn(I, HH))
    # stage 1: (hidden, w1, w2, sorted_token_ids, sorted_expert_ids, num_valid_ids, out [T, k, I], topk, ...)
    dims1 = [x, w1, w2, [64], [8], [1], [TT, KK, I], []]
    types1 = [BF, BF, BF, "int", "int", "int", BF, "Scalar"]
    assert op_cost("aiter::ck_moe_stage1", dims1, types1, [""] * 7 + [str(KK)]).flops == gate_up
    assert op_cost("aiter::ck_moe_stage1", dims1, types1, []).flops == gate_up  # k from the output's shape
    assert op_cost("aiter::ck_moe_stage1", [x, [E, HH]], [BF, BF], []).note == NOT_RECORDED
    # stage 2: (inter [T, k, I], w1, w2 [E, H, I], ..., out [T, H], topk)
    c = op_cost("aiter::ck_moe_stage2", [[TT, KK, I], w1, w2, [64], [8], [1], x, []], types1, [""] * 7 + [str(KK)])
    assert c.flops == down and c.family == "gemm"
    assert op_cost("aiter::ck_moe_stage2", [[TT, I], w1, w2], [BF] * 3, []).note == NOT_RECORDED

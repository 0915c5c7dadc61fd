"""Attention counts against hand-computed values (B batches, H query heads, pairs P, dims D)."""
import torch

from traceflops.kernels import op_cost
from traceflops.kernels.attention import attended_pairs

BF = "c10::BFloat16"


def test_pairs_by_brute_force():
    for lq, lk in [(5, 5), (3, 8), (8, 3), (7, 7)]:
        for causal in (False, True):
            for br in (False, True):
                for wl, wr in [(None, None), (2, None), (1, 1), (0, 3)]:
                    if causal:
                        wr = None if wr is None else wr
                    mask = torch.ones(lq, lk, dtype=torch.bool)
                    off = lk - lq if br else 0
                    i = torch.arange(lq)[:, None] + off
                    j = torch.arange(lk)[None, :]
                    if causal:
                        mask &= j <= i
                    if wl is not None:
                        mask &= j >= i - wl
                    if wr is not None:
                        mask &= j <= i + wr
                    assert attended_pairs(lq, lk, causal, br, wl, wr) == int(mask.sum()), (lq, lk, causal, br, wl, wr)


def test_sdpa_causal_square():
    # B=2, H=4, L=16, D=8 causal: P = 16*17/2 = 136; fwd = 4*B*H*P*D
    c = op_cost("aten::_scaled_dot_product_flash_attention", [[2, 4, 16, 8]] * 3 + [[]] * 4,
                [BF] * 3 + ["Scalar"] * 4, ["", "", "", "0.", "True", "False", "0.35"])
    assert c.flops == 4 * 2 * 4 * 136 * 8 and c.dtype == "bf16" and c.source == "formula"


def test_sdpa_causal_is_top_left_when_lq_lt_lk():
    # torch SDPA is_causal is tril(ones(L, S)): query i sees keys 0..i
    q = torch.randn(1, 1, 4, 8)
    k = torch.randn(1, 1, 10, 8)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, k, is_causal=True)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, k, attn_mask=torch.ones(4, 10, dtype=torch.bool).tril())
    assert torch.allclose(out, ref, atol=1e-5)
    c = op_cost("aten::_scaled_dot_product_flash_attention_for_cpu", [[1, 1, 4, 8], [1, 1, 10, 8], [1, 1, 10, 8], [], [], [], []],
                ["float"] * 3 + ["Scalar", "Scalar", "", ""], ["", "", "", "0.", "True", "", ""])
    assert c.flops == 4 * 1 * 1 * (1 + 2 + 3 + 4) * 8


def test_flash_forward_bottom_right_kv_cache():
    # _flash_attention_forward [B, L, H, D], Lq=4 < Lk=10, causal bottom-right: query i sees 0..6+i
    pairs = 7 + 8 + 9 + 10
    c = op_cost("aten::_flash_attention_forward", [[2, 4, 8, 64], [2, 10, 8, 64], [2, 10, 8, 64]] + [[]] * 12,
                [BF] * 3 + ["", "", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", "", "", "", ""],
                ["", "", "", "", "", "4", "10", "0.", "True", "False", "0.125", "", "", "", ""])
    assert c.flops == 4 * 2 * 8 * pairs * 64


def test_gqa_follows_query_heads():
    # 32 query heads, 8 KV heads, non-causal: P = L*S
    c = op_cost("aten::_scaled_dot_product_efficient_attention", [[1, 32, 6, 16], [1, 8, 9, 16], [1, 8, 9, 16], [], [], [], [], []],
                [BF] * 3 + ["", "Scalar", "Scalar", "Scalar", ""], ["", "", "", "", "True", "0.", "False", ""])
    assert c.flops == 4 * 32 * 6 * 9 * 16


def test_sliding_window():
    # flash_attn library op, L=S=10, window (3, 0) + causal: each query sees min(i+1, 4) keys
    pairs = sum(min(i + 1, 4) for i in range(10))
    c = op_cost("flash_attn::_flash_attn_forward", [[1, 10, 2, 32]] * 3 + [[]] * 8,
                [BF] * 3 + ["Scalar"] * 8, ["", "", "", "0.", "0.17", "True", "3", "0", "0.", "", "False"])
    assert c.flops == 4 * 1 * 2 * pairs * 32


def test_backward_with_recompute():
    # _flash_attention_backward: flops = 2 x forward, recompute = the QK^T term once
    L, D, B, H = 12, 16, 2, 3
    pairs = L * (L + 1) // 2
    dims = [[B, L, H, D]] * 5 + [[B, H, L]] + [[]] * 11
    types = [BF] * 5 + ["float"] + [""] * 2 + ["Scalar"] * 4 + ["long int", "long int", "Scalar", "", ""]
    conc = [""] * 8 + [str(L), str(L), "0.", "True", "", "", "0.25", "", ""]
    c = op_cost("aten::_flash_attention_backward", dims, types, conc)
    fwd = 4 * B * H * pairs * D
    assert c.flops == 2 * fwd
    assert c.recompute_flops == 2 * B * H * pairs * D


def test_dv_differs():
    c = op_cost("aten::_scaled_dot_product_flash_attention", [[1, 2, 5, 16], [1, 2, 5, 16], [1, 2, 5, 32]] + [[]] * 4,
                [BF] * 3 + ["Scalar"] * 4, ["", "", "", "0.", "False", "False", ""])
    assert c.flops == 2 * 2 * 25 * (16 + 32)


def test_varlen_unknown_lengths_is_estimate():
    c = op_cost("vllm::unified_attention_with_output", [[8192, 64, 64], [8192, 8, 64], [8192, 8, 64], [8192, 64, 64], [], [], [], [0]],
                [BF] * 4 + ["", "", "", BF], [""] * 8)
    assert c.source == "estimate" and c.flops > 0 and c.note


def test_explicit_mask_counted_dense():
    c = op_cost("aten::_scaled_dot_product_flash_attention_for_cpu", [[1, 1, 4, 8]] * 3 + [[], [], [4, 4], []],
                ["float"] * 3 + ["Scalar", "Scalar", "float", ""], ["", "", "", "0.", "False", "", ""])
    assert c.flops == 4 * 16 * 8 and "dense" in c.note

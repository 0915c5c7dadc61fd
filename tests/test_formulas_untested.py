"""Formulas no other test reached: MoE grouped GEMMs, addbmm, mv, addmv, dot/vdot, and the flash-attn library
ops (varlen forward/backward, plain backward).

The GEMM-family ops run on CPU under the profiler with record_shapes, so the formula reads the inputs torch
really records (positions, types, concrete scalars). FlopCounterMode has no formula for any of them; the truth
is FlopCounterMode's count of an equivalent written with ops it does count (mm, bmm), checked to compute the
same result. The flash-attn library ops do not run on CPU: their inputs are laid out by their schemas
(flash_attn/flash_attn_interface.py), and the truth is FlopCounterMode's own `_flash_attention_*` formula for
dense masks and a brute-force count of the (query, key) pairs a causal or windowed mask lets through.
"""
import json

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode, flop_registry, sdpa_backward_flop_count

import traceflops
from traceflops.kernels import op_cost
from traceflops.kernels.dtypes import dtype_bytes

BF = torch.bfloat16


def fcm_total(fn):
    with FlopCounterMode(display=False) as m:
        out = fn()
    return m.get_total_flops(), out


def recorded(fn, name, tmp_path):
    """fn() under the CPU profiler; the recorded inputs of its first `name` op."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        out = fn()
    path = tmp_path / "t.json"
    prof.export_chrome_trace(str(path))
    ev = [e for e in json.loads(path.read_text())["traceEvents"] if e.get("cat") == "cpu_op" and e["name"] == name]
    assert ev, f"{name} not recorded"
    a = ev[0]["args"]
    return out, (a.get("Input Dims"), a.get("Input type"), a.get("Concrete Inputs"))


def io_bytes(tensors, out):
    return sum(t.numel() * t.element_size() for t in tensors) + out.numel() * out.element_size()


def r(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


OFFS = torch.tensor([8, 16, 24], dtype=torch.int32)
A2, B3 = r(24, 16, dtype=BF), r(3, 16, 8, dtype=BF)
A3 = r(3, 8, 16, dtype=BF)
A2K, B2K = r(8, 48, dtype=BF), r(8, 48, dtype=BF).t()  # 2d x 2d: offs splits K
B2N = r(16, 24, dtype=BF)  # 3d x 2d: offs splits N
KOFFS = torch.tensor([16, 32, 48], dtype=torch.int32)

# (op, the call, an equivalent FlopCounterMode counts, the tensors read)
GEMMS = {
    "grouped_2d_3d": ("aten::_grouped_mm", lambda: torch._grouped_mm(A2, B3, offs=OFFS),
                      lambda: torch.cat([A2[8 * g:8 * g + 8] @ B3[g] for g in range(3)]), [A2, B3, OFFS]),
    "grouped_3d_3d": ("aten::_grouped_mm", lambda: torch._grouped_mm(A3, B3),
                      lambda: torch.bmm(A3, B3), [A3, B3]),
    "grouped_3d_2d": ("aten::_grouped_mm", lambda: torch._grouped_mm(A3, B2N, offs=OFFS),
                      lambda: torch.cat([A3[g] @ B2N[:, 8 * g:8 * g + 8] for g in range(3)], dim=1), [A3, B2N, OFFS]),
    "grouped_2d_2d": ("aten::_grouped_mm", lambda: torch._grouped_mm(A2K, B2K, offs=KOFFS),
                      lambda: torch.stack([A2K[:, 16 * g:16 * g + 16] @ B2K[16 * g:16 * g + 16] for g in range(3)]),
                      [A2K, B2K, KOFFS]),
}
S, M1, M2 = r(4, 5), r(3, 4, 6), r(3, 6, 5)
MAT, VEC, V4 = r(4, 6), r(6), r(4)
X, Y = r(7), r(7)
CX, CY = r(7, dtype=torch.complex64), r(7, dtype=torch.complex64)
GEMMS.update({
    "addbmm": ("aten::addbmm", lambda: torch.addbmm(S, M1, M2, beta=0.5, alpha=2.0),
               lambda: 0.5 * S + 2.0 * torch.bmm(M1, M2).sum(0), [S, M1, M2]),
    "mv": ("aten::mv", lambda: torch.mv(MAT, VEC), lambda: (MAT @ VEC[:, None])[:, 0], [MAT, VEC]),
    "addmv": ("aten::addmv", lambda: torch.addmv(V4, MAT, VEC), lambda: V4 + (MAT @ VEC[:, None])[:, 0],
              [V4, MAT, VEC]),
    "dot": ("aten::dot", lambda: torch.dot(X, Y), lambda: (X[None] @ Y[:, None])[0, 0], [X, Y]),
    "vdot": ("aten::vdot", lambda: torch.vdot(CX, CY), lambda: (CX.conj()[None] @ CY[:, None])[0, 0], [CX, CY]),
})


@pytest.mark.parametrize("case", sorted(GEMMS))
def test_gemm_family_against_flopcountermode(case, tmp_path):
    name, call, equivalent, reads = GEMMS[case]
    out, (dims, types, concrete) = recorded(call, name, tmp_path)
    want, same = fcm_total(equivalent)
    assert torch.allclose(out.float() if out.is_floating_point() else out, same.float() if same.is_floating_point()
                          else same, rtol=2e-2, atol=2e-1), "the equivalent must compute what the op computes"
    assert want > 0
    c = op_cost(name, dims, types, concrete)
    assert c.flops == want, (case, c)
    assert c.family == "gemm"
    if case in ("grouped_2d_3d", "grouped_3d_3d", "grouped_3d_2d", "addbmm", "mv", "addmv", "dot", "vdot"):
        # every input read once, the output written once
        assert c.bytes == io_bytes(reads, out), (case, c.bytes, io_bytes(reads, out))
    assert c.dtype == {"aten::_grouped_mm": "bf16", "aten::vdot": "complex64"}.get(name, "fp32")


def test_grouped_mm_through_the_public_api():
    dims = [[24, 16], [3, 16, 8], [3], []]
    types = ["c10::BFloat16", "c10::BFloat16", "int", ""]
    c = traceflops.op_cost("aten::_grouped_mm", dims, types, ["", "", "", ""])
    assert c.flops == 2 * 24 * 16 * 8 and c.source == "estimate" and "offs" in c.note
    assert traceflops.op_cost("aten::_grouped_mm", [[24, 16, 2, 2], [3, 16, 8]], types, []).note == \
        "inputs not recorded or not understood"


def test_scaled_grouped_mm_by_hand():
    """_scaled_grouped_mm(self, mat2, scale_a, scale_b, offs, bias, scale_result, out_dtype, use_fast_accum):
    CUDA only. fp8 tokens [T, K] through G experts [G, K, N]: each token row meets one expert, 2*T*K*N."""
    t, k, n, g = 64, 128, 32, 4
    dims = [[t, k], [g, k, n], [t], [g, n], [g], [], [], [], []]
    types = ["c10::Float8_e4m3fn", "c10::Float8_e4m3fn", "float", "float", "int", "", "", "ScalarType", "Scalar"]
    concrete = ["", "", "", "", "", "", "", "15", "False"]
    c = op_cost("aten::_scaled_grouped_mm", dims, types, concrete)
    assert c.flops == 2 * t * k * n
    # read the operands, both scales and offs (int32); write [T, N] in out_dtype (15: bf16)
    assert c.bytes == t * k + g * k * n + 4 * t + 4 * g * n + 4 * g + t * n * dtype_bytes("c10::BFloat16")
    assert c.dtype == "fp8"
    # batched form: [G, M, K] @ [G, K, N]
    c3 = op_cost("aten::_scaled_grouped_mm", [[g, 16, k], [g, k, n], [g, 16], [g, n]] + [[]] * 5, types, concrete)
    assert c3.flops == 2 * g * 16 * k * n and c3.source == "formula"


# ---------------------------------------------------------------- flash-attn library ops

def pairs_by_brute_force(lq, lk, causal, left=-1, right=-1):
    """(query, key) pairs one (batch, head) attends, bottom-right aligned as flash-attn does."""
    n = 0
    for i in range(lq):
        for j in range(lk):
            d = j - (i + lk - lq)
            if causal and d > 0:
                continue
            if right >= 0 and d > right or left >= 0 and -d > left:
                continue
            n += 1
    return n


def fcm_flash_forward(b, lq, lk, h, hk, d, dv):
    """FlopCounterMode's aten._flash_attention_forward formula on varlen inputs with b equal sequences."""
    q, k, v = torch.empty(b * lq, h, d, device="meta"), torch.empty(b * lk, hk, d, device="meta"), \
        torch.empty(b * lk, hk, dv, device="meta")
    cq, ck = torch.arange(0, b * lq + 1, lq), torch.arange(0, b * lk + 1, lk)
    return flop_registry[torch.ops.aten._flash_attention_forward](q, k, v, cq, ck, lq, lk, 0.0, False, False)


def fcm_flash_backward(b, lq, lk, h, d, dv):
    return sdpa_backward_flop_count((b, h, lq, dv), (b, h, lq, d), (b, h, lk, d), (b, h, lk, dv))


BF16 = "c10::BFloat16"


def varlen_forward(b, lq, lk, h, hk, d, dv, causal, max_q=None, max_k=None, window=(-1, -1), tq=None, tk=None):
    """flash_attn::_flash_attn_varlen_forward(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
    dropout_p, softmax_scale, causal, window_size_left, window_size_right, softcap, alibi_slopes,
    return_softmax, block_table, leftpad_k, seqused_k)."""
    tq, tk = tq or b * lq, tk or b * lk
    dims = [[tq, h, d], [tk, hk, d], [tk, hk, dv], [b + 1], [b + 1], [], [], [], [], [], [], [], [], [], [], [], [], []]
    types = [BF16, BF16, BF16, "int", "int", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar",
             "Scalar", "", "Scalar", "", "", ""]
    concrete = ["", "", "", "", "", str(max_q or lq), str(max_k or lk), "0.0", "0.125", str(causal), str(window[0]),
                str(window[1]), "0.0", "", "False", "", "", ""]
    return op_cost("flash_attn::_flash_attn_varlen_forward", dims, types, concrete)


def varlen_backward(b, lq, lk, h, d, dv, causal, window=(-1, -1)):
    """flash_attn::_flash_attn_varlen_backward(dout, q, k, v, out, softmax_lse, dq, dk, dv, cu_seqlens_q,
    cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p, softmax_scale, causal, window_size_left,
    window_size_right, softcap, alibi_slopes, deterministic, rng_state)."""
    tq, tk = b * lq, b * lk
    dims = [[tq, h, dv], [tq, h, d], [tk, h, d], [tk, h, dv], [tq, h, dv], [h, tq], [tq, h, d], [tk, h, d],
            [tk, h, dv], [b + 1], [b + 1]] + [[]] * 11
    types = [BF16] * 5 + ["float"] + [BF16] * 3 + ["int", "int"] + ["Scalar"] * 7 + ["", "Scalar", ""] + [""]
    concrete = [""] * 11 + [str(lq), str(lk), "0.0", "0.125", str(causal), str(window[0]), str(window[1]), "0.0",
                            "", "False", ""]
    return op_cost("flash_attn::_flash_attn_varlen_backward", dims, types, concrete)


def plain_backward(b, lq, lk, h, d, dv, causal, window=(-1, -1)):
    """flash_attn::_flash_attn_backward(dout, q, k, v, out, softmax_lse, dq, dk, dv, dropout_p, softmax_scale,
    causal, window_size_left, window_size_right, softcap, alibi_slopes, deterministic, rng_state); [B, L, H, D]."""
    dims = [[b, lq, h, dv], [b, lq, h, d], [b, lk, h, d], [b, lk, h, dv], [b, lq, h, dv], [b, h, lq],
            [b, lq, h, d], [b, lk, h, d], [b, lk, h, dv]] + [[]] * 9
    types = [BF16] * 5 + ["float"] + [BF16] * 3 + ["Scalar"] * 6 + ["", "Scalar", ""]
    concrete = [""] * 9 + ["0.0", "0.125", str(causal), str(window[0]), str(window[1]), "0.0", "", "False", ""]
    return op_cost("flash_attn::_flash_attn_backward", dims, types, concrete)


@pytest.mark.parametrize("b,lq,lk,h,hk,d,dv", [(3, 64, 64, 8, 8, 64, 64), (2, 16, 48, 8, 2, 128, 64),
                                               (1, 1, 33, 4, 1, 64, 64)])
def test_varlen_forward_dense_equals_flopcountermode(b, lq, lk, h, hk, d, dv):
    c = varlen_forward(b, lq, lk, h, hk, d, dv, causal=False)
    assert c.flops == fcm_flash_forward(b, lq, lk, h, hk, d, dv)
    assert c.source == "formula" and c.recompute_flops == 0 and c.dtype == "bf16"
    # read q, k, v; write out
    assert c.bytes == 2 * (b * lq * h * d + b * lk * hk * d + b * lk * hk * dv + b * lq * h * dv)


@pytest.mark.parametrize("lq,lk,causal,window", [(64, 64, True, (-1, -1)), (16, 48, True, (-1, -1)),
                                                 (64, 64, True, (8, 0)), (32, 40, False, (4, 2))])
def test_varlen_forward_causal_and_windowed_by_hand(lq, lk, causal, window):
    b, h, d = 2, 4, 64
    c = varlen_forward(b, lq, lk, h, h, d, d, causal=causal, window=window)
    assert c.flops == 2 * b * h * pairs_by_brute_force(lq, lk, causal, *window) * (d + d)


def test_varlen_forward_ragged_batch_is_an_estimate():
    """cu_seqlens values are tensors, not recorded: with 3 sequences in 100 tokens and max_seqlen 50 the
    lengths are unknown, so the count assumes equal lengths and says so."""
    c = varlen_forward(3, 0, 0, 8, 8, 64, 64, causal=False, max_q=50, max_k=50, tq=100, tk=100)
    assert c.source == "estimate" and "equal-length" in c.note
    per = round(100 / 3)
    assert c.flops == 2 * 3 * 8 * per * per * 128
    # the same batch split 50/25/25, as FlopCounterMode sees it from the real offsets: within the bounds
    q = torch.empty(100, 8, 64, device="meta")
    cu = torch.tensor([0, 50, 75, 100])
    real = flop_registry[torch.ops.aten._flash_attention_forward](q, q, q, cu, cu, 50, 50, 0.0, False, False)
    assert real == 2 * 8 * 128 * (50 * 50 + 2 * 25 * 25)
    assert c.flops < real  # equal lengths give the least work for a token count: the estimate errs low


@pytest.mark.parametrize("b,lq,lk,h,d,dv", [(2, 64, 64, 8, 64, 64), (1, 32, 96, 4, 128, 64)])
def test_varlen_backward_dense_equals_flopcountermode(b, lq, lk, h, d, dv):
    c = varlen_backward(b, lq, lk, h, d, dv, causal=False)
    assert c.flops + c.recompute_flops == fcm_flash_backward(b, lq, lk, h, d, dv)
    assert c.recompute_flops == 2 * b * h * lq * lk * d  # QK^T again, inside the kernel
    assert c.source == "formula"
    # read dout, q, k, v, out, softmax_lse (float [H, T]); write dq, dk, dv
    tq, tk = b * lq * h, b * lk * h
    assert c.bytes == 2 * (tq * dv + tq * d + tk * d + tk * dv + tq * dv + tq * d + tk * d + tk * dv) + 4 * tq


@pytest.mark.parametrize("causal,window", [(False, (-1, -1)), (True, (-1, -1)), (True, (16, 0))])
@pytest.mark.parametrize("lq,lk", [(64, 64), (24, 80)])
def test_plain_backward(causal, window, lq, lk):
    b, h, d, dv = 2, 4, 64, 64
    c = plain_backward(b, lq, lk, h, d, dv, causal, window)
    p = pairs_by_brute_force(lq, lk, causal, *window)
    assert c.flops == 2 * 2 * b * h * p * (d + dv) and c.recompute_flops == 2 * b * h * p * d
    if not causal:
        assert c.flops + c.recompute_flops == fcm_flash_backward(b, lq, lk, h, d, dv)
    # read dout, q, k, v, out, softmax_lse (float); write dq, dk, dv
    assert c.bytes == 2 * (b * lq * h * dv * 2 + b * lq * h * d * 2 + b * lk * h * d * 2 + b * lk * h * dv * 2) \
        + 4 * b * h * lq

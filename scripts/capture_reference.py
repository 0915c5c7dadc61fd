#!/usr/bin/env python3
"""Capture reference PyTorch profiler traces with hand-computed FLOPs (issue #9: GPU ground truth).

    python scripts/capture_reference.py [--device cuda|cpu] [--out DIR] [--small] [--only NAME,...]
                                        [--no-compile] [--iters N] [--repeats N] [--list]
    python scripts/capture_reference.py --ncu --only gemm_bf16_square   # one step between
                                        # cudaProfilerStart/Stop, for `ncu --profile-from-start off`

Each workload runs warm-up steps outside the profiler, then `--iters` steps under its own
`torch.profiler.profile(activities=[CPU(, CUDA)], record_shapes=True)`, and is written to
`DIR/<workload>.json.gz` with a `traceflops_capture` metadata entry (workload, parameters, versions, GPU).
`DIR/manifest.json` lists every workload: its trace, parameters, the FLOPs computed here BY HAND (GEMM, conv,
SDPA, the transformer and decode loops' GEMM+attention work), hand-computed bytes for the bandwidth kernels,
and a step time measured OUTSIDE the profiler (torch.cuda.Event on GPU, perf_counter on CPU).
A backend or dtype the device does not support is skipped with the error recorded, never replaced.

Imports only torch and the standard library (the GPU machine has nothing else).
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import platform
import shutil
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

SCHEMA = 1


class Skip(Exception):
    """The device/backend/dtype cannot run this workload; the message is recorded in the manifest."""


@dataclass
class Prepared:
    step: Callable[[], object]
    params: dict
    expected: dict = field(default_factory=dict)  # hand formulas, per step ("flops_per_iter", "bytes_per_iter")
    checks: dict = field(default_factory=dict)  # numerical checks done before profiling
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    cleanup: Callable[[], None] = lambda: None
    before_profile: Callable[[], None] = lambda: None  # runs after the warm-up steps, just before profiling


@dataclass
class Ctx:
    device: str
    small: bool
    compile: bool

    @property
    def cuda(self):
        return self.device == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


WORKLOADS: list[tuple[str, str, Callable[[Ctx], Prepared]]] = []


def workload(name, group):
    def deco(fn):
        WORKLOADS.append((name, group, fn))
        return fn
    return deco


DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def dname(dt):
    return str(dt).replace("torch.", "")


# ----------------------------------------------------------------------------------------------- GEMM
def _gemm_shapes(ctx, shape):
    if ctx.small:
        return {"square": (256, 256, 256), "tall_skinny": (2048, 32, 256), "batched": (8, 64, 64, 32)}[shape]
    return {"square": (8192, 8192, 8192), "tall_skinny": (65536, 128, 8192), "batched": (64, 1024, 1024, 128)}[shape]


@contextlib.contextmanager
def _tf32(flag):
    """Set torch.backends.cuda.matmul.allow_tf32 (and cudnn's) for the workload, restore afterwards."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = flag
    torch.backends.cudnn.allow_tf32 = flag
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _make_gemm(kind, shape):
    def build(ctx):
        dt = DTYPES[kind]
        if kind == "tf32" and not ctx.cuda:
            raise Skip("allow_tf32 only changes CUDA matmuls; a CPU fp32 matmul has no TF32 mode")
        dims = _gemm_shapes(ctx, shape)
        g = torch.Generator(device=ctx.device).manual_seed(0)
        if shape == "batched":
            b, m, n, k = dims
            x = torch.randn(b, m, k, device=ctx.device, dtype=dt, generator=g)
            y = torch.randn(b, k, n, device=ctx.device, dtype=dt, generator=g)
            step = lambda: torch.bmm(x, y)  # noqa: E731
            flops = 2 * b * m * n * k
            params = {"op": "bmm", "B": b, "M": m, "N": n, "K": k}
            formula = "2*B*M*N*K"
        else:
            m, n, k = dims
            x = torch.randn(m, k, device=ctx.device, dtype=dt, generator=g)
            y = torch.randn(k, n, device=ctx.device, dtype=dt, generator=g)
            step = lambda: torch.mm(x, y)  # noqa: E731
            flops = 2 * m * n * k
            params = {"op": "mm", "M": m, "N": n, "K": k}
            formula = "2*M*N*K"
        params.update(dtype=dname(dt), allow_tf32=(kind == "tf32"), shape=shape)
        es = x.element_size()
        nbytes = (x.numel() + y.numel()) * es + (flops // (2 * params["K"])) * es
        return Prepared(step, params, {"flops_per_iter": flops, "families": ["gemm"], "formula": formula,
                                       "bytes_per_iter": nbytes},
                        context=lambda: _tf32(kind == "tf32"))
    return build


for _kind, _shape in [("fp32", "square"), ("tf32", "square"), ("bf16", "square"), ("fp16", "square"),
                      ("fp32", "tall_skinny"), ("bf16", "tall_skinny"), ("fp32", "batched"), ("bf16", "batched")]:
    _name = (f"bmm_{_kind}" if _shape == "batched" else f"gemm_{_kind}_{_shape}")
    workload(_name, "gemm")(_make_gemm(_kind, _shape))


@workload("gemm_fp8_square", "gemm")
def gemm_fp8(ctx):
    if not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
        raise Skip(f"torch {torch.__version__} has no float8_e4m3fn/_scaled_mm")
    if ctx.cuda:
        cap = torch.cuda.get_device_capability()
        if cap < (8, 9):
            raise Skip(f"fp8 _scaled_mm needs sm89+; this GPU is sm{cap[0]}{cap[1]}")
    m, n, k = _gemm_shapes(ctx, "square")
    g = torch.Generator(device=ctx.device).manual_seed(0)
    a = torch.randn(m, k, device=ctx.device, generator=g).to(torch.float8_e4m3fn)
    w = torch.randn(n, k, device=ctx.device, generator=g).to(torch.float8_e4m3fn)
    b = w.t()  # column-major [K, N], as cuBLASLt fp8 requires
    sa = torch.tensor(1.0, device=ctx.device)
    sb = torch.tensor(1.0, device=ctx.device)

    def step():
        return torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
    try:
        step()
        ctx.sync()
    except Exception as e:  # unsupported on this build/device: record why
        raise Skip(f"torch._scaled_mm failed: {type(e).__name__}: {str(e)[:300]}") from None
    return Prepared(step, {"op": "_scaled_mm", "M": m, "N": n, "K": k, "dtype": "float8_e4m3fn",
                           "out_dtype": "bfloat16", "scales": "per-tensor", "shape": "square"},
                    {"flops_per_iter": 2 * m * n * k, "families": ["gemm"], "formula": "2*M*N*K",
                     "bytes_per_iter": m * k + k * n + 2 * m * n + 8})


# ----------------------------------------------------------------------------------------------- SDPA
def attended_pairs_top_left(lq, lk, causal):
    """(query, key) pairs a torch SDPA `is_causal` mask lets through: query i sees keys 0..i (top-left,
    torch's documented `tril(ones(L, S))`). Closed form, independent of traceflops' loop."""
    if not causal:
        return lq * lk
    if lq <= lk:
        return lq * (lq + 1) // 2
    return lk * (lk + 1) // 2 + (lq - lk) * lk


def attention_flops(b, hq, lq, lk, dqk, dv, causal):
    p = attended_pairs_top_left(lq, lk, causal)
    fwd = 2 * b * hq * p * (dqk + dv)  # QK^T and PV, 2 flops per MAC
    return {"pairs_per_head": p, "forward": fwd, "backward": 2 * fwd,  # dV, dP, dQ, dK
            "recompute": 2 * b * hq * p * dqk,  # QK^T recomputed inside flash/efficient backward
            "hardware_fwd_bwd": fwd + 2 * fwd + 2 * b * hq * p * dqk}


SDPA_BACKENDS = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
                 "math": "MATH"}


def _sdpa_ctx(backend):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return lambda: sdpa_kernel([getattr(SDPBackend, SDPA_BACKENDS[backend])])


def _make_sdpa(backend, causal, gqa=False, lq_ratio=1):
    def build(ctx):
        if ctx.small:
            b, hq, l, d, dt = 1, 4, 128, 32, torch.float32
        else:
            b, hq, l, d, dt = 4, 16, 4096, 128, torch.bfloat16
        hkv = hq // 4 if gqa else hq
        lk, lq = l, l // lq_ratio
        g = torch.Generator(device=ctx.device).manual_seed(0)
        mk = lambda h, s: torch.randn(b, h, s, d, device=ctx.device, dtype=dt, generator=g).requires_grad_()  # noqa: E731
        q, k, v = mk(hq, lq), mk(hkv, lk), mk(hkv, lk)
        go = torch.randn(b, hq, lq, d, device=ctx.device, dtype=dt, generator=g)
        kw = {"is_causal": causal}
        if gqa:
            kw["enable_gqa"] = True
        cm = _sdpa_ctx(backend)

        def step():
            out = F.scaled_dot_product_attention(q, k, v, **kw)
            out.backward(go)
            return out
        checks = {}
        try:
            with cm():
                step()
                ctx.sync()
                if causal and lq != lk:
                    checks["causal_alignment"] = _alignment_check(q, k, v)
        except RuntimeError as e:
            raise Skip(f"SDPA backend {backend!r} rejected these inputs: {str(e).strip().splitlines()[0][:300]}") from None
        f = attention_flops(b, hq, lq, lk, d, d, causal)
        params = {"backend": backend, "B": b, "Hq": hq, "Hkv": hkv, "Lq": lq, "Lk": lk, "Dqk": d, "Dv": d,
                  "is_causal": causal, "enable_gqa": gqa, "dtype": dname(dt), "passes": "forward+backward"}
        exp = {"flops_per_iter": f["forward"] + f["backward"], "families": ["attention"],
               "formula": "fwd = 2*B*Hq*P*(Dqk+Dv), P = top-left causal pairs; bwd = 2*fwd (traceflops/model "
                          "convention); recompute_flops = 2*B*Hq*P*Dqk (reported separately)",
               "forward": f["forward"], "backward": f["backward"], "recompute_flops_per_iter": f["recompute"],
               "hardware_flops_per_iter": f["hardware_fwd_bwd"], "pairs_per_head": f["pairs_per_head"],
               "flopcountermode_convention_per_iter": 2 * b * hq * lq * lk * 2 * d * (1 + 2.5)}
        return Prepared(step, params, exp, checks=checks, context=cm)
    return build


def _alignment_check(q, k, v):
    """Which causal alignment the backend used for Lq != Lk: compare one (batch, head) with explicit masks."""
    with torch.no_grad():
        q1 = q[:1, :1].detach()
        k1 = k[:1, :1].detach()
        v1 = v[:1, :1].detach()
        got = F.scaled_dot_product_attention(q1, k1, v1, is_causal=True).float()
        lq, lk = q1.shape[2], k1.shape[2]
        res = {}
        for name, diag in (("top_left", 0), ("bottom_right", lk - lq)):
            mask = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(diagonal=diag)
            ref = _masked_attention(q1.float(), k1.float(), v1.float(), mask)
            # rows that see no key are NaN in the reference; compare the rest
            ok = mask.any(-1)
            res[f"{name}_max_abs_err"] = float((got[..., ok, :] - ref[..., ok, :]).abs().max())
        res["matches"] = min(("top_left", "bottom_right"), key=lambda n: res[f"{n}_max_abs_err"])
        return res


def _masked_attention(q, k, v, mask):
    s = (q @ k.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, -1) @ v


for _be in ("flash", "efficient"):
    workload(f"sdpa_{_be}_causal", "sdpa")(_make_sdpa(_be, True))
    workload(f"sdpa_{_be}_noncausal", "sdpa")(_make_sdpa(_be, False))
    workload(f"sdpa_{_be}_gqa_causal", "sdpa")(_make_sdpa(_be, True, gqa=True))
    workload(f"sdpa_{_be}_lq_ne_lk", "sdpa")(_make_sdpa(_be, False, lq_ratio=4))
    workload(f"sdpa_{_be}_lq_ne_lk_causal", "sdpa")(_make_sdpa(_be, True, lq_ratio=4))


# ----------------------------------------------------------------------------------------------- conv
def conv_out(size, k, s, p, dil=1):
    return (size + 2 * p - dil * (k - 1) - 1) // s + 1


def _make_conv(variant):
    def build(ctx):
        if variant == "3x3":
            n, cin, cout, hw, ks, st, pad = (2, 8, 16, 16, 3, 1, 1) if ctx.small else (32, 256, 256, 56, 3, 1, 1)
            input_grad = True
        else:  # ResNet stem: the input does not need a gradient -> no grad_input conv in backward
            n, cin, cout, hw, ks, st, pad = (2, 3, 16, 32, 7, 2, 3) if ctx.small else (64, 3, 64, 224, 7, 2, 3)
            input_grad = False
        dt = torch.float32 if ctx.small else torch.bfloat16
        mf = torch.contiguous_format if ctx.small else torch.channels_last
        g = torch.Generator(device=ctx.device).manual_seed(0)
        x = torch.randn(n, cin, hw, hw, device=ctx.device, dtype=dt, generator=g).to(memory_format=mf)
        x.requires_grad_(input_grad)
        w = torch.randn(cout, cin, ks, ks, device=ctx.device, dtype=dt, generator=g).to(memory_format=mf)
        w.requires_grad_()
        bias = torch.zeros(cout, device=ctx.device, dtype=dt, requires_grad=True)
        ho = conv_out(hw, ks, st, pad)
        go = torch.randn(n, cout, ho, ho, device=ctx.device, dtype=dt, generator=g).to(memory_format=mf)

        def step():
            y = F.conv2d(x, w, bias, stride=st, padding=pad)
            y.backward(go)
            return y
        fwd = 2 * n * ho * ho * ks * ks * cout * cin  # groups = 1
        bwd = fwd * (2 if input_grad else 1)  # grad_input (if needed) + grad_weight; grad_bias adds none
        return Prepared(step, {"N": n, "Cin": cin, "Cout": cout, "H": hw, "W": hw, "kernel": ks, "stride": st,
                               "padding": pad, "groups": 1, "bias": True, "input_requires_grad": input_grad,
                               "Hout": ho, "Wout": ho, "dtype": dname(dt), "memory_format": str(mf).replace("torch.", ""),
                               "passes": "forward+backward"},
                        {"flops_per_iter": fwd + bwd, "families": ["conv"], "forward": fwd, "backward": bwd,
                         "formula": "fwd = 2*N*Hout*Wout*kh*kw*Cout*Cin/groups; bwd = grad_weight (= fwd) "
                                    "+ grad_input (= fwd, only when the input requires grad)"})
    return build


workload("conv2d_3x3", "conv")(_make_conv("3x3"))
workload("conv2d_stem_7x7s2", "conv")(_make_conv("stem"))


# ----------------------------------------------------------------------------------------------- memory bound
def _rows(ctx):
    return (256, 256, torch.float32) if ctx.small else (16384, 4096, torch.bfloat16)


def _make_norm(kind):
    def build(ctx):
        t, d, dt = _rows(ctx)
        g = torch.Generator(device=ctx.device).manual_seed(0)
        x = torch.randn(t, d, device=ctx.device, dtype=dt, generator=g, requires_grad=True)
        w = torch.ones(d, device=ctx.device, dtype=dt, requires_grad=True)
        b = torch.zeros(d, device=ctx.device, dtype=dt, requires_grad=True)
        go = torch.randn(t, d, device=ctx.device, dtype=dt, generator=g)
        if kind == "rms_norm" and not hasattr(F, "rms_norm"):
            raise Skip(f"torch {torch.__version__} has no F.rms_norm")

        def step():
            y = F.layer_norm(x, (d,), w, b) if kind == "layer_norm" else F.rms_norm(x, (d,), w)
            y.backward(go)
            return y
        return Prepared(step, {"op": kind, "T": t, "D": d, "dtype": dname(dt), "affine": True,
                               "passes": "forward+backward"},
                        {"forward_bytes_min": 2 * t * d * x.element_size()})
    return build


workload("layer_norm", "norm")(_make_norm("layer_norm"))
workload("rms_norm", "norm")(_make_norm("rms_norm"))


@workload("softmax", "norm")
def softmax(ctx):
    t, v, dt = (256, 512, torch.float32) if ctx.small else (8192, 32768, torch.bfloat16)
    x = torch.randn(t, v, device=ctx.device, dtype=dt, generator=torch.Generator(device=ctx.device).manual_seed(0))
    return Prepared(lambda: torch.softmax(x, -1), {"op": "softmax", "T": t, "V": v, "dim": -1, "dtype": dname(dt),
                                                    "passes": "forward"},
                    {"bytes_per_iter": 2 * t * v * x.element_size()})


def _make_pointwise(op):
    def build(ctx):
        n = (1 << 20) if ctx.small else (1 << 28)
        dt = torch.float32
        g = torch.Generator(device=ctx.device).manual_seed(0)
        a = torch.randn(n, device=ctx.device, dtype=dt, generator=g)
        b = torch.randn(n, device=ctx.device, dtype=dt, generator=g)
        es = a.element_size()
        if op == "add":
            step, nbytes = (lambda: torch.add(a, b)), 3 * n * es  # noqa: E731
        elif op == "mul":
            step, nbytes = (lambda: torch.mul(a, b)), 3 * n * es  # noqa: E731
        else:
            step, nbytes = (lambda: b.copy_(a)), 2 * n * es  # noqa: E731
        return Prepared(step, {"op": op, "numel": n, "dtype": dname(dt), "passes": "forward"},
                        {"bytes_per_iter": nbytes, "bytes_formula": "read each input once + write the output once"})
    return build


for _op in ("add", "mul", "copy"):
    workload(f"pointwise_{_op}", "pointwise")(_make_pointwise(_op))


# ----------------------------------------------------------------------------------------------- models
def _tcfg(ctx):
    if ctx.small:
        return {"vocab": 512, "d": 64, "layers": 2, "heads": 4, "ffn": 256, "batch": 2, "seq": 32}
    return {"vocab": 32768, "d": 1024, "layers": 4, "heads": 16, "ffn": 4096, "batch": 8, "seq": 1024}


class Block(torch.nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d, bias=False)
        self.proj = torch.nn.Linear(d, d, bias=False)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, ffn, bias=False)
        self.fc2 = torch.nn.Linear(ffn, d, bias=False)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, s, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TinyLM(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, ffn, **_):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))
        self.ln = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.emb(idx)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


def transformer_flops(c):
    """GEMM + attention FLOPs of one training step (forward + backward), by hand: every Linear is
    2*T*in*out forward and 2x that backward (grad input + grad weight: every Linear's input needs a grad
    because the embedding is trained); causal SDPA per layer as in attention_flops."""
    t, d, f = c["batch"] * c["seq"], c["d"], c["ffn"]
    lin = c["layers"] * (d * 3 * d + d * d + d * f + f * d) + d * c["vocab"]
    att = attention_flops(c["batch"], c["heads"], c["seq"], c["seq"], d // c["heads"], d // c["heads"], True)
    return {"gemm": 6 * t * lin, "attention": c["layers"] * (att["forward"] + att["backward"]),
            "recompute": c["layers"] * att["recompute"]}


def _make_transformer(compiled):
    def build(ctx):
        if compiled and not ctx.compile:
            raise Skip("torch.compile disabled by --no-compile")
        c = _tcfg(ctx)
        torch.manual_seed(0)
        model = TinyLM(**c).to(ctx.device)
        fused = ctx.cuda
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1, fused=fused or None)
        g = torch.Generator(device=ctx.device).manual_seed(0)
        idx = torch.randint(0, c["vocab"], (c["batch"], c["seq"]), device=ctx.device, generator=g)
        tgt = torch.randint(0, c["vocab"], (c["batch"], c["seq"]), device=ctx.device, generator=g)
        fwd = torch.compile(model) if compiled else model
        amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if ctx.cuda else contextlib.nullcontext

        def step():
            with amp():
                loss = F.cross_entropy(fwd(idx).flatten(0, 1), tgt.flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss
        f = transformer_flops(c)
        params = dict(c, dtype="bf16 autocast, fp32 params" if ctx.cuda else "float32", optimizer="AdamW",
                      adamw_fused=fused, compiled=compiled, bias=False, norm="LayerNorm", mlp="gelu",
                      attention="SDPA is_causal=True (default backend choice)", passes="forward+backward+AdamW")
        if compiled:
            t0 = time.perf_counter()
            step()
            ctx.sync()
            params["compile_and_first_step_s"] = round(time.perf_counter() - t0, 2)
        return Prepared(step, params, {"flops_per_iter": f["gemm"] + f["attention"], "families": ["gemm", "attention"],
                                       "by_family_per_iter": {"gemm": f["gemm"], "attention": f["attention"]},
                                       "recompute_flops_per_iter": f["recompute"],
                                       "formula": "6*T*sum(Linear in*out) + layers*3*attention_fwd(causal)"})
    return build


workload("transformer_train", "model")(_make_transformer(False))


@workload("decode_kv_cache", "model")
def decode(ctx):
    """Greedy-decode-shaped loop: one query token per step attends a KV cache that grows by one each step.
    is_causal=False on purpose: with torch's top-left causal alignment, Lq=1 + is_causal=True would let the
    query see only key 0."""
    if ctx.small:
        b, h, dh, ctx_len, steps, dt = 1, 4, 16, 16, 8, torch.float32
    else:
        b, h, dh, ctx_len, steps, dt = 8, 16, 128, 1024, 64, torch.bfloat16
    d = h * dh
    g = torch.Generator(device=ctx.device).manual_seed(0)
    wqkv = torch.randn(3 * d, d, device=ctx.device, dtype=dt, generator=g) / d ** 0.5
    wo = torch.randn(d, d, device=ctx.device, dtype=dt, generator=g) / d ** 0.5
    kc = torch.zeros(b, h, ctx_len + steps, dh, device=ctx.device, dtype=dt)
    vc = torch.zeros_like(kc)
    kc[:, :, :ctx_len] = torch.randn(b, h, ctx_len, dh, device=ctx.device, dtype=dt, generator=g)
    vc[:, :, :ctx_len] = torch.randn(b, h, ctx_len, dh, device=ctx.device, dtype=dt, generator=g)
    x0 = torch.randn(b, 1, d, device=ctx.device, dtype=dt, generator=g)

    @torch.no_grad()
    def step():
        x = x0
        for t in range(steps):
            pos = ctx_len + t
            q, k, v = F.linear(x, wqkv).view(b, 1, 3, h, dh).permute(2, 0, 3, 1, 4)
            kc[:, :, pos:pos + 1] = k
            vc[:, :, pos:pos + 1] = v
            a = F.scaled_dot_product_attention(q, kc[:, :, :pos + 1], vc[:, :, :pos + 1], is_causal=False)
            x = F.linear(a.transpose(1, 2).reshape(b, 1, d), wo)
        return x
    att = sum(attention_flops(b, h, 1, ctx_len + t + 1, dh, dh, False)["forward"] for t in range(steps))
    gemm = steps * (2 * b * d * 3 * d + 2 * b * d * d)
    return Prepared(step, {"B": b, "H": h, "Dh": dh, "d_model": d, "prefilled_context": ctx_len, "steps": steps,
                           "dtype": dname(dt), "is_causal": False, "passes": "forward (no_grad)"},
                    {"flops_per_iter": gemm + att, "families": ["gemm", "attention"],
                     "by_family_per_iter": {"gemm": gemm, "attention": att},
                     "formula": "sum_t [8*B*d^2 (qkv + out proj) + 4*B*H*(ctx+t+1)*Dh (q.K^T and p.V)]"})


@workload("cuda_graph_mlp", "graph")
def cuda_graph_mlp(ctx):
    """A CUDA-graph workload with real capture and replay records (issue #10's node-id/capture alignment):
    each step runs the MLP once eagerly, captures it into a new graph, and replays that graph twice, all inside
    the profiler. The GPU runs the MLP 3 times per step; the capture itself runs no kernel."""
    if not ctx.cuda:
        raise Skip("CUDA graphs need a CUDA device")
    b, d, f, dt = 256, 2048, 8192, torch.bfloat16
    g = torch.Generator(device=ctx.device).manual_seed(0)
    x = torch.randn(b, d, device=ctx.device, dtype=dt, generator=g)
    w1 = torch.randn(f, d, device=ctx.device, dtype=dt, generator=g) / d ** 0.5
    w2 = torch.randn(d, f, device=ctx.device, dtype=dt, generator=g) / f ** 0.5

    def mlp():
        return F.linear(F.gelu(F.linear(x, w1)), w2)
    side = torch.cuda.Stream()  # warm-up on a side stream before capture, as torch.cuda.graph requires
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            mlp()
    torch.cuda.current_stream().wait_stream(side)

    def step():
        mlp()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = mlp()
        graph.replay()
        graph.replay()
        return out
    per_mlp = 2 * b * d * f + 2 * b * f * d
    return Prepared(step, {"B": b, "d": d, "ffn": f, "dtype": dname(dt), "eager_per_step": 1, "captures_per_step": 1,
                           "replays_per_step": 2},
                    {"kernel_flops_per_iter": 3 * per_mlp, "families": ["gemm"],
                     "formula": "3 MLP runs per step (1 eager + 2 replays) x (2*B*d*ffn + 2*B*ffn*d); the capture's "
                                "ops launch no kernel"})


@workload("transformer_infer_cudagraphs", "graph")
def transformer_infer_cudagraphs(ctx):
    """torch.compile(mode="reduce-overhead") inference: CUDA graphs made by Inductor's cudagraph trees. Dynamo
    is reset after the warm-up (which fills Inductor's on-disk caches), so the profiled steps are what a user
    profiling from the start sees: step 1 re-traces (cache hits) and runs the compiled code eagerly (the trees'
    warm-up), step 2 captures the graph and replays it, later steps only replay. One forward per step."""
    if not ctx.cuda:
        raise Skip("CUDA graphs need a CUDA device")
    if not ctx.compile:
        raise Skip("torch.compile disabled by --no-compile")
    c = dict(_tcfg(ctx), batch=4, seq=512)
    torch.manual_seed(0)
    model = TinyLM(**c).to(ctx.device, torch.bfloat16).eval()
    g = torch.Generator(device=ctx.device).manual_seed(0)
    idx = torch.randint(0, c["vocab"], (c["batch"], c["seq"]), device=ctx.device, generator=g)
    fwd = torch.compile(model, mode="reduce-overhead")

    @torch.no_grad()
    def step():
        torch.compiler.cudagraph_mark_step_begin()
        return fwd(idx).clone()
    t0 = time.perf_counter()
    for _ in range(3):
        step()
    ctx.sync()
    compile_s = round(time.perf_counter() - t0, 2)
    f = transformer_flops(c)
    fwd_flops = f["gemm"] // 3 + f["attention"] // 3  # forward only: a third of forward + backward
    params = dict(c, dtype="bfloat16", compiled=True, mode="reduce-overhead", passes="forward (no_grad)",
                  profiled_steps="1 warm-up (eager), 1 capture + replay, then replays",
                  compile_and_first_steps_s=compile_s)
    return Prepared(step, params, {"kernel_flops_per_iter": fwd_flops, "families": ["gemm", "attention"],
                                   "by_family_kernel_per_iter": {"gemm": f["gemm"] // 3,
                                                                 "attention": f["attention"] // 3},
                                   "formula": "one forward per step: 2*T*sum(Linear in*out) + layers*attention_fwd(causal)"},
                    before_profile=torch._dynamo.reset)


# registered last: compiling is the slowest workload, so a run cut short by a time limit loses only this one
workload("transformer_train_compiled", "model")(_make_transformer(True))


# ----------------------------------------------------------------------------------------------- runner
def env_info(device):
    info = {"torch": torch.__version__, "python": platform.python_version(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "device": device, "gpu": "cpu", "capability": None, "hip": getattr(torch.version, "hip", None),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cpu_threads": torch.get_num_threads()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["capability"] = "sm%d%d" % torch.cuda.get_device_capability()
    return info


def time_steps(ctx, step, repeats):
    """Median/min/max step time in ms, outside the profiler: torch.cuda.Event pairs on GPU, perf_counter on CPU."""
    ms = []
    for _ in range(repeats):
        if ctx.cuda:
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            step()
            e.record()
            e.synchronize()
            ms.append(s.elapsed_time(e))
        else:
            t0 = time.perf_counter()
            step()
            ms.append((time.perf_counter() - t0) * 1e3)
    return {"method": "cuda_event" if ctx.cuda else "perf_counter", "repeats": repeats,
            "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms)}


def write_trace(prof, path):
    """export_chrome_trace to <name>.json, then gzip it with the standard library."""
    tmp = path.with_suffix("")  # <name>.json
    prof.export_chrome_trace(str(tmp))
    with open(tmp, "rb") as src, gzip.open(path, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    tmp.unlink()


def run_one(ctx, name, group, build, args, env):
    entry = {"name": name, "group": group}
    t0 = time.perf_counter()
    try:
        prep = build(ctx)
    except Skip as e:
        entry.update(status="skipped", reason=str(e))
        return entry
    try:
        with prep.context():
            for _ in range(args.warmup):
                prep.step()
            ctx.sync()
            if args.ncu:  # one step inside cudaProfilerStart/Stop for `ncu --profile-from-start off`
                torch.cuda.profiler.start()
                prep.step()
                ctx.sync()
                torch.cuda.profiler.stop()
                entry.update(status="ncu_step_done", params=prep.params)
                return entry
            meta = {"workload": name, "group": group, "params": prep.params, "iters": args.iters,
                    "torch": env["torch"], "cuda": env["cuda"], "gpu": env["gpu"], "device": ctx.device,
                    "capability": env["capability"], "schema": SCHEMA}
            prep.before_profile()
            acts = [torch.profiler.ProfilerActivity.CPU]
            if ctx.cuda:
                acts.append(torch.profiler.ProfilerActivity.CUDA)
            with torch.profiler.profile(activities=acts, record_shapes=True) as prof:
                for _ in range(args.iters):
                    prep.step()
                ctx.sync()
                # kineto keeps metadata only while the profiler is active: add it inside the block
                prof.add_metadata_json("traceflops_capture", json.dumps(meta))
            trace = Path(args.out) / f"{name}.json.gz"
            write_trace(prof, trace)
            del prof
            timing = time_steps(ctx, prep.step, args.repeats)
    except Skip as e:
        entry.update(status="skipped", reason=str(e))
        return entry
    exp = dict(prep.expected)
    for k in ("flops_per_iter", "bytes_per_iter", "recompute_flops_per_iter", "kernel_flops_per_iter"):
        if k in exp:
            exp[k.replace("_per_iter", "")] = exp[k] * args.iters
    if "by_family_per_iter" in exp:
        exp["by_family"] = {f: v * args.iters for f, v in exp["by_family_per_iter"].items()}
    sec = timing["median_ms"] / 1e3
    if exp.get("flops_per_iter") or exp.get("kernel_flops_per_iter"):
        timing["achieved_tflops_at_median"] = (exp.get("flops_per_iter") or exp["kernel_flops_per_iter"]) / sec / 1e12
    if exp.get("bytes_per_iter"):
        timing["achieved_tbps_at_median"] = exp["bytes_per_iter"] / sec / 1e12
    entry.update(status="ok", trace=trace.name, params=prep.params, iters=args.iters, expected=exp,
                 checks=prep.checks, timing=timing, wall_s=round(time.perf_counter() - t0, 2))
    prep.cleanup()
    return entry


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda when available")
    ap.add_argument("--out", default="sample_traces/gpu", help="output folder (default sample_traces/gpu)")
    ap.add_argument("--small", action="store_true", help="small sizes (CPU tests)")
    ap.add_argument("--only", default="", help="comma-separated workload names or groups")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile workload")
    ap.add_argument("--iters", type=int, default=None, help="steps inside each profile (default 3 GPU, 1 CPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed steps outside the profiler (default 20 GPU, 3 CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 3 GPU, 1 CPU)")
    ap.add_argument("--ncu", action="store_true", help="no profiler: run one step between cudaProfilerStart/Stop")
    ap.add_argument("--list", action="store_true", help="print workload names and exit")
    args = ap.parse_args(argv)
    if args.list:
        for n, g, _ in WORKLOADS:
            print(f"{n}\t{g}")
        return 0
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda but torch.cuda.is_available() is False")
    if args.ncu and device != "cuda":
        ap.error("--ncu needs --device cuda")
    gpu = device == "cuda"
    args.iters = args.iters or (3 if gpu else 1)
    args.repeats = args.repeats or (20 if gpu else 3)
    args.warmup = args.warmup if args.warmup is not None else (3 if gpu else 1)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    names = {n for n, _, _ in WORKLOADS} | {g for _, g, _ in WORKLOADS}
    if only - names:
        ap.error(f"unknown workload(s) {sorted(only - names)}; see --list")
    ctx = Ctx(device=device, small=args.small, compile=not args.no_compile)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = env_info(device)
    entries = []
    t_all = time.perf_counter()
    mpath = out / "manifest.json"
    previous = []
    if only and mpath.exists() and not args.ncu:  # --only: merge into an existing manifest, keep other entries
        try:
            old = json.loads(mpath.read_text())
            if old.get("env", {}).get("gpu") == env["gpu"] and old.get("small") == args.small:
                previous = old.get("workloads", [])
        except (ValueError, KeyError):
            pass

    def write_manifest():
        # rewritten after every workload, so a run cut short (a time limit on a lent GPU) keeps what it captured
        done = {e["name"] for e in entries}
        manifest = {"schema": SCHEMA, "env": env, "small": args.small, "iters": args.iters,
                    "repeats": args.repeats, "warmup": args.warmup, "argv": sys.argv[1:],
                    "wall_s": round(time.perf_counter() - t_all, 1),
                    "conventions": "FLOPs: 2 per multiply-accumulate; attention backward = 2x forward with the "
                                   "QK^T recompute separate; torch SDPA is_causal is top-left (query i sees keys "
                                   "0..i)",
                    "workloads": [w for w in previous if w["name"] not in done] + entries}
        tmp = mpath.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(mpath)
        return manifest

    for name, group, build in WORKLOADS:
        if only and name not in only and group not in only:
            continue
        try:
            e = run_one(ctx, name, group, build, args, env)
        except Exception as exc:  # a real failure: record it, keep going, exit non-zero
            e = {"name": name, "group": group, "status": "error",
                 "reason": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        entries.append(e)
        msg = e.get("reason") or e.get("trace") or ""
        print(f"{name:32s} {e['status']:8s} {msg}"[:200], flush=True)
        if gpu:
            torch.cuda.empty_cache()
        if not args.ncu:
            write_manifest()
    if args.ncu:
        return 0 if all(e["status"] != "error" for e in entries) else 1
    manifest = write_manifest()
    print(f"wrote {mpath} ({sum(e['status'] == 'ok' for e in entries)} traces) in {manifest['wall_s']} s")
    return 0 if all(e["status"] != "error" for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())

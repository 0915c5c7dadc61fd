"""Model-guided kernel attribution (`flops_source='model'`, `link='model'`): costs for kernels whose op recorded
no shapes (CUDA/HIP graph replays without a capture trace, kernels under an op without Input Dims), from the
model's HF config and each window's batch. docs/attribution.md has the method, its checks and its limits.

    window (serving step, profiler step, or the trace) → attention kernels anchor the layers (model_period.py)
    → per segment the GEMMs the config implies, fused or split (model_match.py) → checks against what the
    trace records: layer count, GEMMs per layer, grid × tile vs N, time ∝ bytes of weight-bound GEMMs
    (model_window.py) → each kernel the FLOPs and bytes of its component, with a confidence.

Kernels that already have FLOPs or bytes keep them (they still take part in the alignment); a kernel the model
cannot place keeps no cost and says why. Attention kernels costed from the step's sums without a config
(serving_attention.py, `step_annotation`) take the model's sliding window on the layers that have one.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..modelflops.components import Batch, step_components
from .model_match import layer_groups, shard, slot_of
from .model_period import layer_segments, outside_reason, period, windows
from .model_roles import kernel_roles
from .model_window import Costs, attribute_window

REPLACEABLE = ("step_annotation",)  # attention costed from the sums without the config's sliding windows


def candidates(k):
    """Kernels the model may cost: no FLOPs and no bytes yet."""
    return ((k["kind"] == "kernel").to_numpy(bool) & ~(np.nan_to_num(k["flops"].to_numpy(float)) > 0)
            & np.isnan(k["bytes"].to_numpy(float)))


def user_batch(tokens, seq=None, phase="prefill", context=None, forwards=1):
    """The batch of one forward pass when the trace has no step annotations: `tokens` over all `forwards`;
    prefill of prompts of `seq` tokens (one prompt when not given), or decode of one token per request at
    `context` cached tokens (attention unknown without it)."""
    if phase == "train":
        return None, "model: model-guided attribution costs forward passes (inference), not a training step"
    if not tokens or forwards < 1:
        return None, "model: no serving step annotations and no --tokens: the batch is unknown"
    per = tokens / forwards
    if per != int(per):
        return None, f"model: --tokens {tokens} is not a whole number of tokens per forward pass ({forwards} found)"
    per = int(per)
    if phase == "decode":
        return (Batch.decode([context] * per) if context is not None else Batch(per, per, per)), None
    seq = seq or per
    if per % seq:
        return None, f"model: {per} tokens per forward pass are not whole prompts of --seq {seq}"
    return Batch.prefill([seq] * (per // seq)), None


def model_attribution(k, spec, prec, kernel_step=None, step_batches=None, *, tp=1, ep=1, tokens=None, seq=None,
                      phase="prefill", context=None, mla_absorbed=False, config=None):
    """Fill model costs into the (pre-roofline) kernel table `k`, in place; returns the summary block.

    `step_batches`: serving step -> (Batch or None, why); `tokens`/`seq`/`phase`/`context`: the batch of
    traces without step annotations (the tokens of the whole trace)."""
    n = len(k)
    cand = candidates(k)
    kind, wins = windows(k, cand, kernel_step)
    covered = np.zeros(n, bool)
    for _, _, rows in wins:
        covered[rows] = True
    roles = kernel_roles(k)
    info = {"config": config, "window_kind": kind, "windows": len(wins), "windows_attributed": 0, "forwards": 0,
            "layers": len(spec.layers), "periods": {}, "tp": tp, "ep": ep, "grid_checks": {}, "reasons": {},
            "kernels_attributed": 0, "attention_resliced": 0}
    res = []
    for label, step, rows in wins:
        segs, why = layer_segments(roles["role"][rows], len(spec.layers))
        res.append((label, step, rows, segs, why))
    forwards = sum(s[2] for _, _, _, s, _ in res if s is not None)
    fallback = user_batch(tokens, seq, phase, context, forwards) if kind != "serving step" else (None, None)
    acc, cache = _Acc(n), {}
    src = k["flops_source"].to_numpy(object)
    dur = k["dur_us"].to_numpy(float)
    launch = _launch_columns(k)
    for label, step, rows, segs, why in res:
        batch, bwhy = (step_batches or {}).get(step, (None, "model: the step's batch is unknown")) \
            if kind == "serving step" else fallback
        if segs is not None and kind == "serving step" and segs[2] > 1:
            why = f"model: {segs[2]} forward passes of the config in one serving step (a draft model?)"
        if segs is None or batch is None or why:
            acc.fail(rows[cand[rows]], why or bwhy)
            continue
        comps, groups, head = _model(cache, spec, prec, batch, tp, ep, mla_absorbed)
        anchors, seg, fw = segs
        p, checkable = period(roles["codes"][rows], anchors, seg)
        key = str(p) if p else "none" if checkable else "unchecked"
        info["periods"][key] = info["periods"].get(key, 0) + 1
        ctx = _context(spec, prec, tp, rows, roles, launch, p or not checkable)
        costs = attribute_window(ctx, roles["role"][rows], anchors, seg, comps, groups, head, dur[rows])
        info["forwards"] += fw
        info["windows_attributed"] += 1
        acc.window(rows, costs, cand, src, info)
    acc.fail(np.flatnonzero(cand & ~covered), outside_reason(kind))
    acc.write(k, prec, info)
    _finish(k, info)
    return info


class _Acc:
    """Every window's costs, written into the kernel table once (a column copy per window would be quadratic)."""

    def __init__(self, n):
        self.c = Costs(n)
        self.put = np.zeros(n, bool)
        self.why = np.full(n, None, dtype=object)

    def window(self, rows, c, cand, src, info):
        got = ~np.isnan(c.conf)
        replace = got & (c.check == "window") & np.isin(src[rows], REPLACEABLE)  # sliding layers of step-sum attention
        put = got & (cand[rows] | replace)
        for ch in c.check[got & cand[rows] & (c.family == "gemm")]:
            info["grid_checks"][str(ch)] = info["grid_checks"].get(str(ch), 0) + 1
        info["attention_resliced"] += int(replace.sum())
        info["kernels_attributed"] += int((put & cand[rows]).sum())
        idx = rows[put]
        for col in ("flops", "bytes", "label", "conf", "family"):
            getattr(self.c, col)[idx] = getattr(c, col)[put]
        self.put[idx] = True
        bad = cand[rows] & ~got
        self.why[rows[bad]] = c.reason[bad]

    def fail(self, rows, why):
        self.why[rows] = why

    def write(self, k, prec, info):
        for w in self.why[pd.notna(pd.Series(self.why, dtype=object)).to_numpy(bool)]:
            info["reasons"][w] = info["reasons"].get(w, 0) + 1
        k["model_component"] = pd.array(np.where(self.put, self.c.label, None), dtype=object)
        k["model_confidence"] = np.where(self.put, self.c.conf, np.nan)
        idx = np.flatnonzero(self.put)
        old = k["flops_reason"].to_numpy(object)
        bad = np.flatnonzero(pd.notna(pd.Series(self.why, dtype=object)).to_numpy(bool))
        if len(bad):
            _set(k, "flops_reason", bad, np.array([w if not isinstance(o, str) else f"{o}; {w}"
                                                   for o, w in zip(old[bad], self.why[bad])], dtype=object))
        if not len(idx):
            return
        fl = self.c.flops[idx]
        has_f = np.isfinite(fl)
        _set(k, "flops", idx, fl)
        _set(k, "recompute_flops", idx, np.where(has_f, 0.0, np.nan))
        _set(k, "bytes", idx, self.c.bytes[idx])
        _set(k, "flops_source", idx, np.where(has_f, "model", "none").astype(object))
        if "bytes_source" in k:
            _set(k, "bytes_source", idx, np.where(np.isfinite(self.c.bytes[idx]), "model", None).astype(object))
        _set(k, "family", idx, self.c.family[idx])
        _set(k, "dtype", idx, np.full(len(idx), prec.compute_dtype, dtype=object))
        _set(k, "flops_reason", idx, np.where(has_f, None, "model: moves the bytes of a tensor the config implies; "
                                              "the model counts no FLOPs for norms, RoPE and activations"
                                              ).astype(object))
        _set(k, "link", idx, np.full(len(idx), "model", dtype=object))


def _model(cache, spec, prec, batch, tp, ep, mla_absorbed):
    """(components, per-layer GEMM groups, LM-head slot) of one batch, once per distinct batch."""
    if batch not in cache:
        comps = step_components(spec, batch, prec, mla_absorbed=mla_absorbed)
        comps["tokens"] = batch.tokens
        act = prec.activation_bytes
        groups = [layer_groups(w, i, spec.layers[i].attn, act, tp, ep) for i, w in enumerate(comps["layers"])]
        head = slot_of(shard(comps["lm_head"], tp, ep), -1, act)
        cache[batch] = (comps, groups, head)
    return cache[batch]


def _launch_columns(k):
    """Per kernel: the recorded grid as ints (parsed once per distinct text) and the threads per block."""
    n = len(k)
    if "grid" in k:
        codes, uniq = pd.factorize(k["grid"], use_na_sentinel=True)
        parsed = [_grid(g) for g in uniq] + [None]
        grids = [parsed[c] for c in np.where(codes < 0, len(uniq), codes)]
    else:
        grids = [None] * n
    threads = k["threads"].to_numpy(float) if "threads" in k else np.full(n, np.nan)
    return grids, [None if not np.isfinite(t) else t for t in threads]


def _context(spec, prec, tp, rows, roles, launch, per):
    attn = spec.layers[0].attn
    grids, threads = launch
    return SimpleNamespace(
        spec=spec, act=prec.activation_bytes, kv=prec.kv_bytes, tp=tp, attn=attn,
        heads_q=max(attn.n_heads // tp, 1), heads_kv=max(attn.n_kv_heads // tp, 1),
        qk_norm=attn.kind == "gqa" and spec.layers[0].norm_params % spec.hidden == 2 * attn.qk_head_dim,
        tiles=[roles["tiles"][r] for r in rows], grids=[grids[r] for r in rows],
        threads=[threads[r] for r in rows], expert=roles["expert"][rows],
        add_norm=roles["add_norm"][rows], codes=roles["codes"][rows], split_k=roles["split_k"][rows],
        fused_act=roles["fused_act"][rows], period_conf=1.0 if per else 0.9)


def _grid(g):
    """A recorded grid "[x,y,z]" as ints (None when not recorded)."""
    if not isinstance(g, str):
        return None
    try:
        return [int(x) for x in g.strip("[]").split(",") if x.strip()]
    except ValueError:
        return None


def _set(k, col, rows, values):
    v = k[col].to_numpy(dtype=object if k[col].dtype == object else None, copy=True)
    if v.dtype != object and np.asarray(values).dtype == object:
        v = v.astype(object)
    v[rows] = values
    k[col] = v


def _finish(k, info):
    """The block's totals."""
    info["reasons"] = dict(sorted(info["reasons"].items(), key=lambda kv: -kv[1])[:12])
    dur = k["dur_us"].to_numpy(float)
    got = (k["flops_source"].to_numpy(object) == "model") | (k["link"].to_numpy(object) == "model")
    info["gpu_time_us"] = float(np.nansum(dur[got]))
    info["gpu_time_share"] = float(np.nansum(dur[got]) / np.nansum(dur)) if np.nansum(dur) > 0 else None
    conf = k["model_confidence"].to_numpy(float)
    info["mean_confidence"] = float(np.nanmean(conf)) if np.isfinite(conf).any() else None
    fl, by = np.nan_to_num(k["flops"].to_numpy(float)) > 0, np.isfinite(k["bytes"].to_numpy(float))
    bsrc = "bytes:" + (k["bytes_source"] if "bytes_source" in k else pd.Series([None] * len(k))).astype(str)
    method = np.where(got, "model", np.where(fl, k["flops_source"].astype(str).to_numpy(object),
                                             np.where(by, bsrc.to_numpy(object), "none")))
    total = np.nansum(dur)
    info["time_share_by_method"] = ({m: float(np.nansum(dur[method == m]) / total) for m in np.unique(method)}
                                    if total > 0 else {})

"""Per-step model cost of a serving trace: each step's batch (steps.py) through a HF config's analytic model.

    MFU = model FLOPs / (step time × peak FLOP/s of the model's compute dtype × GPUs)
    MBU = model bytes / (step time × peak memory bandwidth × GPUs)

Step time is the step's GPU wall time (first kernel start to last kernel end); `busy_mfu`/`busy_mbu` use
the union of its kernels instead. GPUs: the GPUs the model is sharded over, counted once (`--tp 8 --ep 8` on
8 GPUs is 8, not 64): the larger of --tp/--ep, else the largest process group in distributedInfo.
"""
import json

import numpy as np
import pandas as pd

from ..modelflops import load_config, parse_config
from ..modelflops.components import Batch, step_cost
from ..modelflops.precision import precision
from ..modelflops.speculative import measured_speculative
from .serving_checks import check_config

DRAFT_MODES = ("DRAFT", "DRAFT_EXTEND", "DRAFT_EXTEND_V2", "DRAFT_LOOP")
VLLM_FORMATS = ("vllm_detailed", "vllm_context_generation")  # the draft proposer runs inside the step


def gpu_count(distributed, tp=None, ep=None):
    """(GPUs the model runs on, where that comes from)."""
    for name, v in (("--tp", tp), ("--ep", ep)):
        if v is not None and (isinstance(v, bool) or int(v) != v or v < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if tp or ep:
        return max(tp or 1, ep or 1), "--tp/--ep: the larger degree (expert parallelism shards the same GPUs)"
    sizes = [pg.get("pg_size") for pg in (distributed or {}).get("pg_config") or []
             if isinstance(pg, dict) and isinstance(pg.get("pg_size"), int) and not isinstance(pg.get("pg_size"), bool)]
    if sizes:
        return max(max(sizes), 1), "largest process group in distributedInfo (pass --tp with data parallelism)"
    ws = (distributed or {}).get("world_size")
    if isinstance(ws, int) and ws >= 1:
        return ws, "distributedInfo world_size"
    return 1, "assumed 1 (no distributedInfo, no --tp)"


def _add(*xs):
    return None if any(x is None for x in xs) else sum(xs)


def _val(r, c):
    v = r[c]
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else int(v)


def step_batch(r):
    """The Batch of a steps-table row, or (None, why)."""
    pr, pt, dr, dt = (_val(r, c) for c in ("prefill_requests", "prefill_tokens", "decode_requests", "decode_tokens"))
    if r["phase"] == "capture":
        return None, "graph capture, not a served step"
    if None in (pr, pt, dr, dt):
        return None, f"{r['format']}: tokens per phase not recorded"
    ctx = _add(_val(r, "prefill_context_tokens"), _val(r, "decode_context_tokens"))
    return Batch(pt + dt, pr + dr, pr + dt, ctx, _add(_val(r, "prefill_sqsq"), _val(r, "decode_sqsq")),
                 _add(_val(r, "prefill_sqsk"), _val(r, "decode_sqsk"))), None


def _draft_batch(r, width):
    """The draft model's work inside a vLLM speculative step: `width` decode positions per request."""
    n, ctx = _val(r, "decode_requests"), _val(r, "decode_context_tokens")
    return Batch(n * width, n, n * width, ctx, n * width * width, width * ctx if ctx is not None else None)


def _peaks(summary, device, dtype):
    devs = summary.get("devices") or {}
    d = devs.get(str(device)) if device is not None and device is not pd.NA else None
    d = d or summary.get("device") or {}
    return (d.get("peak_tflops") or {}).get(dtype), d.get("peak_tbps"), d.get("name")


def _load(config):
    cfg = load_config(config) if not isinstance(config, dict) else config
    return cfg, parse_config(cfg)


def cost_steps(steps, kernels, ops, summary, config, *, tp=None, ep=None, draft=None, accepted=None,
               kv_dtype=None, mla_absorbed=False, distributed=None):
    """Fill the model columns of `steps` (in place) and return the `serving.model` summary block."""
    cfg, spec = _load(config)
    prec = precision(cfg, kv_dtype)
    dcfg, dspec = _load(draft) if draft is not None else (None, None)
    dprec = precision(dcfg, kv_dtype) if dcfg is not None else None
    gpus, gpus_src = gpu_count(distributed, tp, ep)
    notes, cols = list(spec.notes) + prec.notes, {c: [] for c in ("model_flops", "attention_flops", "model_bytes",
                                                                   "weight_bytes", "kv_bytes", "activation_bytes")}
    extra, spec_rows = [], []
    for _, r in steps.iterrows():
        c, note = _row_cost(r, spec, prec, dspec, dprec, mla_absorbed, spec_rows)
        for col, key in (("model_flops", "flops"), ("attention_flops", "attention_flops"), ("model_bytes", "bytes"),
                         ("weight_bytes", "weight_bytes"), ("kv_bytes", "kv_bytes"),
                         ("activation_bytes", "activation_bytes")):
            cols[col].append(np.nan if c is None or c[key] is None else float(c[key]))
        extra.append(note)
    for col, v in cols.items():
        steps[col] = np.asarray(v, dtype=float)
    steps["model_note"] = np.array(extra, dtype=object)
    _utilization(steps, summary, prec.compute_dtype, gpus)
    block = {"config": config if isinstance(config, str) else None, "model_type": spec.model_type,
             "layers": len(spec.layers), "hidden_size": spec.hidden, "vocab_size": spec.vocab,
             "gpus": gpus, "gpus_source": gpus_src, "compute_dtype": prec.compute_dtype, "weights": prec.scheme,
             "kv_cache_bytes_per_element": prec.kv_bytes, "steps_costed": int(steps["model_flops"].notna().sum()),
             "check": check_config(spec, kernels, ops), "notes": notes}
    dev = steps["device"].dropna()
    peak_f, peak_b, name = _peaks(summary, int(dev.iloc[0]) if len(dev) else None, prec.compute_dtype)
    block.update(device=name, peak_tflops=peak_f, peak_tbps=peak_b)
    if not peak_f or not peak_b:
        notes.append(f"no {prec.compute_dtype} peak or no bandwidth for the device ({name or 'unknown'}): "
                     "MFU or MBU left empty (--device names it)")
    if draft is not None or spec_rows:
        block["speculative"] = measured_speculative(spec_rows, accepted, draft is not None)
    return block


def _row_cost(r, spec, prec, dspec, dprec, mla_absorbed, spec_rows):
    """(cost dict or None, note) of one step; speculative steps add a row to `spec_rows`."""
    b, why = step_batch(r)
    is_draft = str(r["mode"] or "") in DRAFT_MODES
    use, use_prec = (dspec, dprec) if is_draft else (spec, prec)
    if b is None or use is None:
        return None, why or "draft step: no --draft config"
    c = step_cost(use, b, use_prec, mla_absorbed=mla_absorbed)
    note = ["draft model"] if is_draft else []
    if not c["exact"] and c["flops"] is not None:
        note.append("sliding-window attention: upper bound from the sums")
    if c["flops"] is None:
        note.append("context lengths not recorded: attention and KV-cache terms unknown")
    n = _val(r, "decode_requests") or 0
    width = (_val(r, "decode_tokens") or 0) / n - 1 if n else 0
    if is_draft:
        spec_rows.append({"step": int(r["step"]), "draft_only_flops": c["flops"]})
    elif r["speculative"] and width > 0:
        row = {"step": int(r["step"]), "requests": n, "width": width, "target_flops": c["flops"], "draft_flops": None}
        if dspec is not None and r["format"] in VLLM_FORMATS:
            k = int(round(width))
            d = step_cost(dspec, _draft_batch(r, k), dprec)
            row["draft_flops"] = d["flops"]
            c = {key: _add(c[key], d[key]) if key in d and not isinstance(d[key], (dict, bool)) else c[key]
                 for key in c}
            note.append(f"includes the draft model's {k} positions per request")
        spec_rows.append(row)
    return c, "; ".join(note) or None


def _utilization(t, summary, dtype, gpus):
    peak_f, peak_b = [], []
    for d in t["device"].tolist():
        f, b, _ = _peaks(summary, d if d is not pd.NA else None, dtype)
        peak_f.append(f if f else np.nan)
        peak_b.append(b if b else np.nan)
    peak_f, peak_b = np.asarray(peak_f, float) * 1e12 * gpus, np.asarray(peak_b, float) * 1e12 * gpus
    with np.errstate(invalid="ignore", divide="ignore"):
        for prefix, col in (("", "gpu_wall_us"), ("busy_", "gpu_busy_us")):
            sec = t[col].to_numpy(float) * 1e-6
            sec = np.where(sec > 0, sec, np.nan)
            t[f"{prefix}mfu"] = t["model_flops"].to_numpy(float) / (sec * peak_f)
            t[f"{prefix}mbu"] = t["model_bytes"].to_numpy(float) / (sec * peak_b)


def _stats(x):
    x = x[np.isfinite(x)]
    return {"min": float(x.min()), "median": float(np.median(x)), "max": float(x.max())} if len(x) else None


def _ratio(num, den):
    return float(num / den) if den > 0 and np.isfinite(num) and np.isfinite(den) else None


def _totals(g, gpus, peak_f, peak_b):
    """Aggregates of a group of steps; MFU/MBU over the group's summed step times."""
    f, b = g["model_flops"].to_numpy(float), g["model_bytes"].to_numpy(float)
    wall, busy = g["gpu_wall_us"].to_numpy(float), g["gpu_busy_us"].to_numpy(float)
    ok_f, ok_b = np.isfinite(f) & (wall > 0), np.isfinite(b) & (wall > 0)
    out = {"steps": int(len(g)), "tokens": int(pd.to_numeric(g["tokens"], errors="coerce").fillna(0).sum()),
           "gpu_wall_us": float(np.nansum(wall)), "gpu_busy_us": float(np.nansum(busy)),
           "model_flops": float(np.nansum(f)) if ok_f.any() else None,
           "model_bytes": float(np.nansum(b)) if ok_b.any() else None}
    for p, t in (("", wall), ("busy_", busy)):
        out[f"{p}mfu"] = _ratio(np.sum(f[ok_f]), np.sum(t[ok_f]) * 1e-6 * peak_f * 1e12 * gpus) if peak_f else None
        out[f"{p}mbu"] = _ratio(np.sum(b[ok_b]), np.sum(t[ok_b]) * 1e-6 * peak_b * 1e12 * gpus) if peak_b else None
    return out


PER_STEP = ("step", "phase", "mode", "format", "prefill_requests", "prefill_tokens", "decode_requests",
            "decode_tokens", "context_tokens", "gpu_wall_us", "gpu_busy_us", "kernels", "model_flops", "model_bytes",
            "mfu", "mbu", "busy_mfu", "busy_mbu")
MAX_PER_STEP = 500  # summary.json lists the first ones; steps.parquet has every step


def steps_summary(t, kernels, model=None):
    """The `serving` block of summary.json (None without steps)."""
    if t is None or not len(t):
        return None
    num = lambda c: int(pd.to_numeric(t[c], errors="coerce").fillna(0).sum())  # noqa: E731
    ctx = pd.to_numeric(t["prefill_context_tokens"], errors="coerce").add(
        pd.to_numeric(t["decode_context_tokens"], errors="coerce"))
    rows = t.assign(context_tokens=ctx).head(MAX_PER_STEP)
    per = json.loads(rows[list(PER_STEP)].to_json(orient="records"))
    in_steps = int(t["kernels"].sum())
    out = {"steps": int(len(t)), "formats": t["format"].value_counts().to_dict(),
           "phases": t["phase"].fillna("unknown").value_counts().to_dict(),
           "prefill_requests": num("prefill_requests"), "prefill_tokens": num("prefill_tokens"),
           "decode_requests": num("decode_requests"), "decode_tokens": num("decode_tokens"),
           "speculative_steps": int(t["speculative"].sum()),
           "kernels_in_steps": in_steps, "kernels_outside_steps": int(len(kernels) - in_steps),
           "gpu_busy_us": float(np.nansum(t["gpu_busy_us"].to_numpy(float))),
           "per_step": per, "per_step_truncated": bool(len(t) > MAX_PER_STEP), "model": model}
    if model is not None:
        pf, pb, g = model.get("peak_tflops"), model.get("peak_tbps"), model["gpus"]
        for c in ("mfu", "mbu", "busy_mfu", "busy_mbu"):
            out[c] = _stats(t[c].to_numpy(float))
        out["overall"] = _totals(t, g, pf, pb)
        out["by_phase"] = [{"phase": ph, **_totals(grp, g, pf, pb)}
                           for ph, grp in t.groupby(t["phase"].fillna("unknown"), sort=True)]
    return out

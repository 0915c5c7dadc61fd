"""Analytic model FLOPs (from a HF config) next to the FLOPs counted in a trace, by op family.

Analytic matmul terms (projections, MLP/experts, router, LM head) are compared with the trace's GEMM
family, the attention-score term (QK^T and PV) with its attention family.  A gap says what the trace
did that the model does not (padding, recompute, extra GEMMs) or what the trace could not count.
"""
import numpy as np

from ..modelflops import load_config, model_flops

GEMM_TERMS = ("attention_qkv_proj", "attention_out_proj", "mlp", "experts", "shared_experts", "router", "lm_head")


def reconcile(analysis, config, tokens, *, phase="prefill", seq=None, context=None):
    """Rows of {family, analytic_flops, trace_flops, diff, ratio} plus a total; `tokens` processed in the trace."""
    cfg = load_config(config) if not isinstance(config, dict) else config
    if phase not in ("prefill", "decode", "train"):
        raise ValueError(f"phase must be prefill, decode or train, not {phase!r}")
    m = model_flops(cfg, seq=seq or (tokens if phase != "decode" else None), context=context,
                    train=phase == "train")
    per_tok = m["breakdown"]["decode" if phase == "decode" else "prefill"]
    mult = 3.0 if phase == "train" else 1.0  # fwd + bwd = 3x forward matmul work
    analytic = {"gemm": mult * tokens * sum(per_tok[t] for t in GEMM_TERMS),
                "attention": mult * tokens * per_tok["attention_scores"]}
    k = analysis.kernels
    if "flops_source" in k and len(k):  # costed from the config itself (--model): not the trace's count
        k = k[(k["flops_source"] != "model").to_numpy(bool)]
    table = k if len(k) and np.nansum(k["flops"].to_numpy(float)) > 0 else analysis.ops
    fam = table["family"].astype(object).where(table["family"].notna(), "unattributed")
    counted = table.groupby(fam)["flops"].sum()
    rows = []
    for f in sorted(set(analytic) | set(counted.index)):
        a, t = analytic.get(f, 0.0), float(counted.get(f, 0.0))
        if a == 0 and t == 0:
            continue
        rows.append({"family": f, "analytic_flops": a, "trace_flops": t, "diff": t - a,
                     "ratio": t / a if a else None})
    tot_a, tot_t = sum(analytic.values()), float(np.nansum(table["flops"].to_numpy(float)))
    return {"phase": phase, "tokens": int(tokens), "seq": m["seq"], "context": m["context"],
            "model_type": m.get("model_type"), "active_params": m["active_params"],
            "analytic_total": tot_a, "trace_total": tot_t, "ratio": tot_t / tot_a if tot_a else None,
            "by_family": rows, "source": "kernels" if table is k else "ops",
            "notes": m.get("notes", []) + ["analytic prefill applies the LM head at every position",
                                           "kernels costed from the config (flops_source=model) left out"]}

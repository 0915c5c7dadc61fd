"""`--model CONFIG` through the pipeline: one code path for model-guided kernel attribution (before the roofline,
cost/model.py) and the per-step model cost (after it, serving.py), and the model-vs-trace reconciliation.

The GPUs the model is sharded over are counted once (serving.gpu_count): `--tp`/`--ep` when given, else the
largest process group in distributedInfo (taken as tensor parallelism).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..cost.model import model_attribution
from ..modelflops import load_config, parse_config
from ..modelflops.components import Batch
from ..modelflops.precision import precision
from .serving import gpu_count, step_batch


@dataclass
class ModelRun:
    config: object       # the path (or dict) as given
    cfg: dict
    tp: int | None
    ep: int | None
    tokens: int | None
    seq: int | None
    phase: str
    draft: dict | None = None  # the --draft config, read


def model_run(config, *, tp=None, ep=None, tokens=None, seq=None, phase="prefill", draft=None):
    """Check the options and read the configs before the trace is read (a bad config fails at once)."""
    for name, v in (("--tokens", tokens), ("--seq", seq)):
        if v is not None and (isinstance(v, bool) or int(v) != v or v < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    gpu_count(None, tp, ep)  # validates --tp/--ep
    cfg = config if isinstance(config, dict) else load_config(config)
    parse_config(cfg)
    dcfg = None
    if draft is not None:
        dcfg = draft if isinstance(draft, dict) else load_config(draft)
        parse_config(dcfg)
    return ModelRun(config, cfg, tp, ep, tokens, seq, phase, dcfg)


def step_batches(steps):
    """serving step -> (Batch or None, why); a graph capture step has only its (padded) token count."""
    out = {}
    if steps is None:
        return out
    for r in steps.to_dict("records"):
        if r["phase"] == "capture":
            t = r.get("tokens")
            ok = t is not None and t is not pd.NA and not (isinstance(t, float) and np.isnan(t))
            out[int(r["step"])] = ((Batch(int(t), 0, 0), None) if ok
                                   else (None, "model: a graph capture without a token count"))
            continue
        b, why = step_batch(r)
        out[int(r["step"])] = (b, None if b is not None else f"model: {why}")
    return out


def attribute_model(k, run, steps, kernel_step, distributed):
    """Model costs for the shapeless kernels of `k` (in place); the summary block, or None without --model."""
    if run is None:
        k["model_component"] = pd.array([None] * len(k), dtype=object)
        k["model_confidence"] = np.full(len(k), np.nan)
        return None
    spec = parse_config(run.cfg)
    if run.tp or run.ep:
        tp, ep = run.tp or 1, run.ep or 1
    else:
        tp, ep = gpu_count(distributed)[0], 1
    has_steps = steps is not None and len(steps) > 0
    return model_attribution(k, spec, precision(run.cfg), kernel_step if has_steps else None,
                             step_batches(steps) if has_steps else None, tp=tp, ep=ep, tokens=run.tokens,
                             seq=run.seq, phase=run.phase,
                             config=run.config if isinstance(run.config, str) else None)


def finish_model(a, run, *, accepted=None):
    """After the analysis: the per-step model cost (steps with annotations), and the reconciliation with
    --tokens. Returns the Analysis."""
    if a.steps is not None and len(a.steps):
        a.model_steps(run.cfg if not isinstance(run.config, str) else run.config, tp=run.tp, ep=run.ep,
                      draft=run.draft, accepted=accepted)
    if run.tokens:
        a.summary["model_reconciliation"] = a.reconcile(run.config, run.tokens, phase=run.phase, seq=run.seq)
    return a

"""FLOPs per accepted token for speculative decoding (Leviathan et al. 2023).

Model (one speculation step, C tokens already in the target's KV cache):
  * the draft runs k autoregressive decode steps, at contexts C, C+1, ..., C+k-1;
  * the target verifies k+1 positions in one pass (the last accepted token plus
    the k drafts); position j (0..k) attends C+j+1 keys (min(., W) if sliding);
  * each draft token is accepted independently with probability A, and the step
    stops at the first rejection (geometric model), so target position j is
    used with probability A^j and draft token j is kept with probability
    A^(j+1).  Expected tokens produced per step
    E = sum_{j=0..k} A^j = (1 - A^(k+1)) / (1 - A)   (= k+1 when A = 1).
  * wasted work = target positions / draft tokens whose result is discarded,
    in expectation: sum_j (1 - A^j) * target_j + sum_j (1 - A^(j+1)) * draft_j.
Ignored: the draft re-processing the bonus token after a fully accepted step,
sampling/rejection arithmetic, and the draft's prefill.
"""
from __future__ import annotations

from .config import parse_config
from .flops import _forward, keys_decode


def expected_accepted(k: int, acceptance: float) -> float:
    if acceptance >= 1.0:
        return float(k + 1)
    return (1 - acceptance ** (k + 1)) / (1 - acceptance)


def _decode_cost(spec, c: int, absorbed: bool) -> float:
    return sum(_forward(spec, lambda w: keys_decode(c, w), absorbed=absorbed).values())


def speculative(target_cfg: dict, draft_cfg: dict, k: int, acceptance: float, context: int = 4096,
                *, mla_absorbed_decode: bool = False) -> dict:
    """FLOPs per accepted (emitted) token, split into target, draft and wasted work."""
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not 0.0 <= float(acceptance) <= 1.0:
        raise ValueError(f"acceptance must be in [0, 1], got {acceptance!r}")
    if context < 0:
        raise ValueError(f"context must be >= 0, got {context}")
    k, A, C = int(k), float(acceptance), int(context)
    tspec, dspec = parse_config(target_cfg), parse_config(draft_cfg)
    notes = []
    if tspec.vocab != dspec.vocab:
        notes.append(f"target vocab {tspec.vocab} != draft vocab {dspec.vocab}")
    target_pos = [_decode_cost(tspec, C + j, mla_absorbed_decode) for j in range(k + 1)]
    draft_pos = [_decode_cost(dspec, C + j, mla_absorbed_decode) for j in range(k)]
    E = expected_accepted(k, A)
    t_step, d_step = sum(target_pos), sum(draft_pos)
    t_waste = sum((1 - A ** j) * c for j, c in enumerate(target_pos))
    d_waste = sum((1 - A ** (j + 1)) * c for j, c in enumerate(draft_pos))
    baseline = _decode_cost(tspec, C, mla_absorbed_decode)
    per_tok = {
        "target": t_step / E,
        "draft": d_step / E,
        "total": (t_step + d_step) / E,
        "wasted": (t_waste + d_waste) / E,
        "wasted_target": t_waste / E,
        "wasted_draft": d_waste / E,
        "useful_target": (t_step - t_waste) / E,
        "useful_draft": (d_step - d_waste) / E,
    }
    return {
        "k": k, "acceptance": A, "context": C,
        "expected_tokens_per_step": E,
        "flops_per_step": {"target": t_step, "draft": d_step},
        "flops_per_accepted_token": per_tok,
        "baseline_decode_flops_per_token": baseline,
        "flops_ratio_vs_plain_decode": per_tok["total"] / baseline,
        "model": "geometric acceptance (Leviathan et al. 2023): E = (1 - A^(k+1)) / (1 - A); "
                 "target verifies k+1 positions, draft runs k decode steps per step",
        "notes": notes,
    }

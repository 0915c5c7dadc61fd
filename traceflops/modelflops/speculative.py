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


def measured_speculative(steps, accepted=None, have_draft=False):
    """FLOPs per accepted token and the wasted share, from the steps' own costs and a measured acceptance.

    steps: one dict per step, either a verify step {requests, width (draft tokens per request),
    target_flops, draft_flops (None: the draft ran elsewhere or is unknown)} or a separate draft step
    {draft_only_flops} (SGLang's DRAFT steps). accepted: draft tokens accepted per request per verify step
    (0..width; an engine's "acceptance length" is accepted + 1). Each verify step emits requests x
    (accepted + 1) tokens; of its width + 1 target positions, width - accepted are discarded, and of the
    draft's width tokens, width - accepted (positions counted as equal cost).
    """
    verify = [s for s in steps if "width" in s]
    draft_only = [s["draft_only_flops"] for s in steps if "draft_only_flops" in s and s["draft_only_flops"]]
    out = {"verify_steps": len(verify), "draft_steps": len(draft_only), "accepted_per_request": accepted}
    if not verify:
        out["note"] = "no speculative steps: no step has more decode tokens than decode requests"
        return out
    widths = [s["width"] for s in verify]
    out["draft_tokens_per_request"] = float(sum(widths) / len(widths))
    target = sum(s["target_flops"] or 0.0 for s in verify)
    draft = sum(s["draft_flops"] or 0.0 for s in verify) + sum(draft_only)
    out.update(target_flops=target, draft_flops=draft if (draft or have_draft) else None)
    if accepted is None:
        out["note"] = "accepted-token counts are in no engine's annotations: pass --accepted"
        return out
    if accepted < 0 or accepted > min(widths):
        raise ValueError(f"--accepted {accepted} is outside 0..{min(widths):g} (draft tokens per request)")
    emitted = sum(s["requests"] * (accepted + 1) for s in verify)
    wasted_t = sum((s["target_flops"] or 0.0) * (s["width"] - accepted) / (s["width"] + 1) for s in verify)
    wasted_d = sum((s["draft_flops"] or 0.0) * (s["width"] - accepted) / s["width"] for s in verify)
    wasted_d += sum(draft_only) * (out["draft_tokens_per_request"] - accepted) / out["draft_tokens_per_request"]
    total = target + draft
    out.update(emitted_tokens=emitted, flops_per_accepted_token=total / emitted if emitted else None,
               target_flops_per_accepted_token=target / emitted if emitted else None,
               wasted_flops=wasted_t + wasted_d, wasted_share=(wasted_t + wasted_d) / total if total else None)
    if not have_draft:
        out["note"] = "no --draft config: the draft model's FLOPs are not counted"
    return out

"""Attention of a serving step from what its annotation says, not from guessed sequence lengths.

A serving engine's attention op (vLLM's `unified_attention`, paged-attention decode ops, aiter's batch prefill)
records only this step's new tokens: the cached context of each request lives in the engine's metadata, so the
op's formula has to guess (`flops_source='estimate'`; paged attention's gives no FLOPs at all), and a guess can
put a kernel above its compute roof. The step annotation records the truth as sums over the step's requests
(docs/serving.md): for each phase, Σsq (new tokens), Σsk (keys after the step, the new ones included), Σsq² and
Σsq·sk. Causal attention of a request with sq new queries over sk keys attends sq·sk − sq(sq−1)/2 (query, key)
pairs, so a phase attends exactly

    pairs = Σsq·sk − (Σsq² − Σsq) / 2

and FLOPs = 2 · Hq · (Dqk + Dv) · pairs (QKᵀ and PV, 2 per multiply-accumulate), with Hq, Dqk, Dv from the op's
query and value shapes. Decode (one query per request) needs only Σsk; a one-request prefill needs only Σsq and
Σsk. A sliding window cannot be seen in the sums: its layers are counted as full causal attention, which the
note says (the model config knows the window: `--model`).
"""
import numpy as np

from ..kernels import Args, dtype_bytes

# op -> (query input, value input or None when Dv = Dqk, the Hkv axis of the key input); query [T, Hq, Dqk], the
# key input right after it. unified_attention's caches are [num_blocks, block_size, Hkv, D] (and batch prefill's
# keys [T, Hkv, D]): Hkv at -2. The paged-attention key cache is [num_blocks, Hkv, D/x, block_size, x] (vLLM
# csrc/attention, aiter's paged_attention_rocm likewise): -2 there would be the block size.
STEP_ATTENTION = {
    "vllm::unified_attention_with_output": (0, 2, -2),
    "vllm::unified_attention": (0, 2, -2),
    "aiter::mha_batch_prefill": (0, 2, -2),
    "_C::paged_attention_v1": (1, None, 1),
    "_C::paged_attention_v2": (4, None, 1),
    "_rocm_C::paged_attention": (4, None, 1),
    "aiter::paged_attention_rocm": (4, None, 1),
}
NOTE = "from the serving step's Σsq·sk (causal pairs exact; sliding-window layers counted as full: pass --model)"


def phase_pairs(row, side):
    """Attended (query, key) pairs of one phase ('prefill' or 'decode') of a steps-table row, or None."""
    sq, sk = _int(row, f"{side}_tokens"), _int(row, f"{side}_context_tokens")
    sqsq, sqsk, req = _int(row, f"{side}_sqsq"), _int(row, f"{side}_sqsk"), _int(row, f"{side}_requests")
    if req == 0 or sq == 0:
        return 0
    if sqsk is not None and sqsq is not None and sq is not None:
        return sqsk - (sqsq - sq) / 2
    if sk is not None and sq is not None and req is not None and sq == req:  # decode: one query per request
        return sk
    if sk is not None and sq is not None and req == 1:
        return sq * sk - sq * (sq - 1) / 2
    return None


def _int(row, col):
    v = row.get(col)
    try:
        return None if v is None or v != v else int(v)
    except (TypeError, ValueError):
        return None


def step_attention(ops, costs, op_step, steps):
    """Re-cost serving attention ops from their step (in place on `costs`); returns how many ops were re-costed.

    `op_step`: the steps-table row of each op (-1: none); `steps`: the serving steps table."""
    if not len(steps) or not len(ops):
        return 0
    names = ops["name"].to_numpy(object)
    # paged attention's formula knows no FLOPs at all (source 'formula', flops NaN): as re-costable as a guess
    guessed = (costs["flops_source"].isin(["estimate"]).to_numpy(bool) | costs["flops_source"].isna().to_numpy(bool)
               | np.isnan(costs["flops"].to_numpy(float)))
    if "counted_below" in costs:
        guessed &= ~costs["counted_below"].fillna(False).to_numpy(bool)
    cand = np.flatnonzero(np.isin(names, list(STEP_ATTENTION)) & (op_step >= 0) & guessed)
    if not len(cand):
        return 0
    rows = steps.to_dict("records")
    shapes, types = ops["shapes"].to_numpy(object), ops["types"].to_numpy(object)
    done = 0
    for i in cand:
        qi, vi, hk = STEP_ATTENTION[names[i]]
        a = Args(shapes[i], types[i], [])
        q, kv, v = a.shape(qi), a.shape(qi + 1), a.shape(vi) if vi is not None else None
        size = a.itemsize(qi)
        if q is None or len(q) != 3 or size is None:
            continue
        t, hq, dqk = q
        dv = v[-1] if v else dqk
        pairs = _pairs_for(rows[op_step[i]], t)
        if pairs is None:
            continue
        pairs, context = pairs
        hkv = kv[hk] if kv and len(kv) >= 3 else hq
        kv_size = dtype_bytes(a.type(qi + 1)) or size
        costs.iat[i, costs.columns.get_loc("flops")] = float(2 * hq * (dqk + dv) * pairs)
        costs.iat[i, costs.columns.get_loc("recompute_flops")] = 0.0
        costs.iat[i, costs.columns.get_loc("bytes")] = float(t * hq * (dqk + dv) * size + context * hkv * (dqk + dv) * kv_size)
        costs.iat[i, costs.columns.get_loc("flops_source")] = "step_annotation"
        costs.iat[i, costs.columns.get_loc("cost_note")] = NOTE
        done += 1
    return done


def _pairs_for(row, t):
    """(pairs, context keys read) for an attention call over `t` query rows in this step: both phases when it
    covers the step's tokens (padding included), one phase when it covers exactly that phase's tokens."""
    pre, dec = phase_pairs(row, "prefill"), phase_pairs(row, "decode")
    n_pre, n_dec = _int(row, "prefill_tokens") or 0, _int(row, "decode_tokens") or 0
    k_pre, k_dec = _int(row, "prefill_context_tokens"), _int(row, "decode_context_tokens")
    if n_pre + n_dec == 0:
        return None
    if t >= n_pre + n_dec and pre is not None and dec is not None and k_pre is not None and k_dec is not None:
        return pre + dec, k_pre + k_dec
    if t == n_pre and pre is not None and k_pre is not None:
        return pre, k_pre
    if t == n_dec and dec is not None and k_dec is not None:
        return dec, k_dec
    return None


def op_steps(ops, gpu, kernel_step):
    """The steps-table row of each op whose subtree launched a kernel of a step (-1: none)."""
    out = np.full(len(ops), -1, dtype=np.int64)
    ks = np.asarray(kernel_step.to_numpy(dtype="float", na_value=np.nan), dtype=float)
    lo = gpu["launch_op_row"].to_numpy()
    ok = (lo >= 0) & np.isfinite(ks)
    frontier, step = lo[ok], ks[ok].astype(np.int64)
    parent = ops["parent"].to_numpy()
    while len(frontier):  # every op on the way up from the launching op takes the kernel's step
        pairs = np.unique(np.stack([frontier, step]), axis=1)
        frontier, step = pairs[0], pairs[1]
        out[frontier] = np.where(out[frontier] < 0, step, out[frontier])
        up = parent[frontier]
        keep = up >= 0
        frontier, step = up[keep], step[keep]
        seen = out[frontier] == step  # an ancestor already marked by this step: its ancestors are too
        frontier, step = frontier[~seen], step[~seen]
    return out

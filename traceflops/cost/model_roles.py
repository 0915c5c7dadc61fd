"""What a kernel of a transformer forward computes, from its name class (kernels/names.py) and name patterns.

Model-guided attribution (model.py) aligns a step's kernels with the layers of a HF config. It needs, per
kernel, the role it plays in a layer (the once-per-layer attention kernel anchors the alignment; GEMMs fill the
config's weight matmuls in order; norms, RoPE, KV-cache stores, activations and MoE combines move the bytes of
the tensors the config implies) and, for GEMMs, the tile sizes their names carry (checked against the grid).
Each rule runs once per distinct kernel name.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..kernels.names import readable

ROLES = ("gemm", "gemm_aux", "attention", "attention_aux", "norm", "qk_norm", "rope", "rope_kv", "kv_store", "act",
         "moe_route", "moe_combine", "gather", "comm", "other")

# (role, pattern) for kernels the name-class rules put in elementwise/copy/norm/reduction/other; first match wins
_PATTERNS = [
    ("rope_kv", r"rope\w*?(?:store|cache)|rotary\w*?cache|qk_rope_reshape_and_cache|rope_quantize_fp8_append"),
    ("rope", r"rotary|rope(?!n)"),
    ("kv_store", r"store_kvcache|reshape_and_cache|set_kv_buffer|concat_and_cache|append_paged_kv|kv_cache_store"),
    ("qk_norm", r"qknorm|qk_norm|q_norm|k_norm|QKNorm"),
    ("act", r"act_and_mul|silu_and_mul|gelu_and_mul|gelu_tanh_and_mul|swiglu|silu_mul|SiluAndMul|GeluAndMul"),
    ("moe_combine", r"moe::dev::finalize|finalizeKernel|_finalize_matmul_scatter|moe_sum|moe_combine|unpermute"
                    r"|moe_finalize"),
    ("moe_route", r"topk|TopK|routing|MoeSorting|moe_align|sum_bitmatrix|combined_routing|gating|expert_map"
                  r"|moe_sort|count_and_sort"),
    ("attention_aux", r"reduce_segments|merge_attn_states|merge_state|splitkv\w*combine|fmha\w*combine"
                      r"|attention\w*reduce"),
    ("gather", r"indexSelect|index_select|vectorized_gather|gather_kernel|embedding|Embedding"),
]
_COMPILED = [(r, re.compile(p)) for r, p in _PATTERNS]
# fused residual add + norm (reads and writes the residual too)
_ADD_NORM = re.compile(r"add_rms|fused_add|FusedAdd|AddRMS|add_layernorm|FusedAddEnumE1|residual", re.I)
# GEMM tile sizes: nvjet tst_{A}x{B}, Tensile/hipBLASLt MT{A}x{B}x{K}, cutlass/xmma tilesize{A}x{B}x{K},
# triton_kernels _matmul_ogs_..._{A}x{B}x{K}x{S}, trtllm-gen bmm_..._t{A}x{B}x{K}
_TILES = [re.compile(p) for p in (r"nvjet_\w*?_(\d+)x(\d+)_\d+x\d+", r"MT(\d+)x(\d+)x\d+", r"tilesize(\d+)x(\d+)x\d+",
                                  r"_matmul_ogs_\w*?_(\d+)x(\d+)x\d+x\d+", r"^bmm_\w*?_t(\d+)x(\d+)x\d+",
                                  r"cutlass\w*?_(\d+)x(\d+)_\d+x\d+", r"_(\d{2,3})x(\d{2,3})x\d{2,3}_")]
# grouped (ragged) MoE GEMMs: these only compute routed experts
_EXPERT = re.compile(r"_matmul_ogs|kernel_moe_gemm|fused_moe|moe_gemm|MoeGemm|grouped_gemm|GroupedGemm|moe_mlp"
                     r"|^bmm_\w*?(?:swiGlu|Moe|moe|_et\d+x\d+)")
_SPLIT_K = re.compile(r"splitK|split_k|SplitK|_GSU\d+|GSU[1-9]|SK[1-9]")
# a gated activation fused into the GEMM's epilogue: the kernel writes N/2 columns
_FUSED_ACT = re.compile(r"swiglu|swiGlu|SwiGlu|geglu|GeGlu|silu_and_mul|_act_mul", re.I)


def _role(name, category, helper):
    n = readable(name) if isinstance(name, str) else ""
    if category == "comm":
        return "comm"
    if category == "gemm":
        return "gemm_aux" if helper else "gemm"
    if category == "attention":
        return "attention_aux" if helper else "attention"
    for role, pat in _COMPILED:
        if pat.search(n):
            return role
    return "norm" if category == "norm" else "other"


def _tiles(name):
    for pat in _TILES:
        m = pat.search(name)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def kernel_roles(k):
    """Per kernel: role, tile sizes (or None), fused-add norm, grouped-expert GEMM, split-K, fused-activation flags."""
    codes, uniq = pd.factorize(k["name"], use_na_sentinel=True)
    first = np.full(len(uniq), -1, dtype=np.int64)
    seen = codes >= 0
    first[codes[seen][::-1]] = np.flatnonzero(seen)[::-1]  # the first row of each distinct name
    cat = k["category"].to_numpy(object)
    helper = k["is_helper"].to_numpy(bool) if "is_helper" in k else np.zeros(len(k), bool)
    table = []
    for u, r in zip(uniq, first):
        n = readable(u) if isinstance(u, str) else ""
        table.append((_role(u, cat[r], helper[r]), _tiles(n), bool(_ADD_NORM.search(n)), bool(_EXPERT.search(n)),
                      bool(_SPLIT_K.search(n)), cat[r] == "gemm" and bool(_FUSED_ACT.search(n))))
    table.append(("other", None, False, False, False, False))
    rows = [table[c] for c in np.where(codes < 0, len(uniq), codes)]
    return {"role": np.array([t[0] for t in rows], dtype=object), "tiles": [t[1] for t in rows],
            "add_norm": np.array([t[2] for t in rows], bool), "expert": np.array([t[3] for t in rows], bool),
            "split_k": np.array([t[4] for t in rows], bool), "fused_act": np.array([t[5] for t in rows], bool),
            "codes": codes}


def grid_fits(tiles, grid, threads, m, n, split=False):
    """Does a recorded launch grid fit a GEMM of m rows and n output columns with these tile sizes?

    'fits': a grid dimension is ceil(n / tile), or the grid is ceil(n / tile) · ceil(m / other tile) blocks (ROCm
    records the grid in threads: divided by the block first); a split-K kernel (`split`: its name says so) may
    multiply either by its s ≤ 16 slices; 'persistent': fewer blocks than output tiles (a persistent kernel loops
    over them: nothing to check); 'unchecked': no grid or no tile size recorded; 'mismatch' otherwise."""
    if not tiles or not grid or not n or not m:
        return "unchecked"
    dims = [int(g) for g in grid if g]
    if not dims:
        return "unchecked"
    total = math.prod(dims)
    a, b = tiles
    counts = [math.ceil(n / a) * math.ceil(m / b), math.ceil(n / b) * math.ceil(m / a)]
    col = {math.ceil(n / a), math.ceil(n / b)}
    totals = {total} | ({total // int(threads)} if threads and threads > 1 and total % int(threads) == 0 else set())
    for s in range(1, 17 if split else 2):
        if any(d == c * s for d in dims for c in col) or any(t == c * s for t in totals for c in counts):
            return "fits"
    if max(totals) < min(counts):
        return "persistent"
    return "mismatch"

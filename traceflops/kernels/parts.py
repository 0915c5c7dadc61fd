"""Which part of a multi-kernel op's work a kernel does, from its name: a convolution backward runs separate
data-gradient (dgrad) and weight-gradient (wgrad) kernels in cuDNN, MIOpen, CK and aten's fallbacks.

A formula that knows its parts returns `OpCost.flops_parts`; cost/attribute.py gives each part's FLOPs to the
kernels of that part, and splits by time only when some compute kernel names no part.
"""
from __future__ import annotations

import re

_RULES = [
    # cuDNN dgrad_engine / xmma_dgrad / s1688dgrad, MIOpen igemm_bwd (backward data) and bwd naive, CK bwd_data
    ("dgrad", re.compile(r"dgrad|Dgrad|igemm_bwd|naive_conv_\w*bwd(?!_w)|conv_bwd_data|bwd_data|BwdData|ConvBwdData"
                         r"|conv2d_grad_input|backward_input|grad_input")),
    # cuDNN wgrad_alg*/xmma_wgrad/winogradWgrad*, MIOpen igemm_wrw / naive wrw, CK bwd_weight
    ("wgrad", re.compile(r"wgrad|Wgrad|igemm_wrw|naive_conv_\w*wrw|conv_bwd_weight|bwd_weight|BwdWeight|ConvBwdWeight"
                         r"|conv2d_grad_weight|backward_weight|grad_weight")),
]


def kernel_part(name):
    """The part label of one kernel name, or None."""
    if not isinstance(name, str):
        return None
    for label, pat in _RULES:
        if pat.search(name):
            return label
    return None


def kernel_parts(names):
    """kernel_part per row of a Series of names, each distinct name matched once."""
    import numpy as np
    import pandas as pd
    codes, uniq = pd.factorize(names, use_na_sentinel=True)
    return np.array([kernel_part(u) for u in uniq] + [None], dtype=object)[codes]

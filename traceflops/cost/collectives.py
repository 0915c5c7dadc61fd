"""Bytes of collective kernels from their own collective args (NCCL kernels launched by `record_param_comms`
carry them), costed by the same registry formula as the op."""
import numpy as np

from ..kernels import cost_ops


def collective_bytes(k):
    """Bytes a collective kernel moves per rank (NaN where the kernel has no collective args)."""
    out = np.full(len(k), np.nan)
    if "collective" not in k:
        return out
    rows = np.flatnonzero(k["collective"].notna().to_numpy(bool))
    if len(rows):
        cols = ["collective", "in_msg_nelems", "out_msg_nelems", "group_size", "comm_dtype"]
        sub = k.iloc[rows][cols].assign(name="record_param_comms")
        out[rows] = cost_ops(sub)["bytes"].to_numpy(float)
    return out

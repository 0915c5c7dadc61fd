"""roofline: per-kernel achieved rates, ceilings and bound, given FLOPs, bytes and the device each ran on.

ceiling = min(peak(dtype, math mode), intensity × bandwidth).  `pct_of_ceiling` is never clipped: a kernel
more than 5% above its ceiling is flagged. It is `cache_resident` when it is memory bound and its time is
still enough for the bytes that cannot have been in L2 when it started ((bytes - L2) / bandwidth): on an
H100, fp32 adds and casts of 50-100 MB just written by the previous kernel ran at 3.6 TB/s against 3.35 TB/s
of DRAM. Anything else is `suspect`: above the compute peak, or too fast for its bytes even with a warm L2
(on the H100 reference traces that caught two byte formulas that were wrong).
"""
import numpy as np
import pandas as pd

from .catalog import peak_for

HALF = {"bf16", "fp16", "fp8", "int8", "fp4"}
TENSOR_CATS = {"gemm", "conv", "attention"}
VECTOR_INT = {"int64", "int32", "int16", "int8", "uint8", "bool"}


def compute_dtype(op_dtype, name_dtype, category, tensor_core):
    """(dtype, tensor_core) of each kernel's math: the op's dtype, refined by what the kernel name says."""
    d = pd.Series(op_dtype, dtype=object).where(pd.notna(pd.Series(op_dtype, dtype=object)), None)
    nd = pd.Series(name_dtype, dtype=object)
    cat = pd.Series(category, dtype=object)
    tc = pd.Series(tensor_core, dtype=object)
    # An fp32 GEMM runs as TF32 only when the kernel name says so; an fp8 kernel name beats a bf16 op.
    refine = nd.notna() & (d.isna() | ((d == "fp32") & (nd == "tf32")) | (nd == "fp8"))
    d = d.where(~refine, nd)
    guess_tc = cat.isin(TENSOR_CATS) & (d.isin(HALF) | (d == "tf32"))
    tc = tc.where(tc.notna(), guess_tc).astype(bool)
    return d.to_numpy(object), tc.to_numpy(bool)


def roofline(k, devices, device_props=None):
    """Add roofline columns to kernel table `k` (needs flops, bytes, dur_us, device, dtype, tensor_core)."""
    n = len(k)
    dur_s = k["dur_us"].to_numpy(float) * 1e-6
    flops = k["flops"].to_numpy(float)
    byts = k["bytes"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        achieved = np.where(dur_s > 0, flops / dur_s / 1e12, np.nan)
        achieved_bw = np.where(dur_s > 0, byts / dur_s / 1e12, np.nan)
        intensity = np.where(byts > 0, flops / byts, np.nan)
    peak = np.full(n, np.nan)
    bw = np.full(n, np.nan)
    l2 = np.full(n, np.nan)
    dev = k["device"].to_numpy(object)
    dtypes, tcs = k["dtype"].to_numpy(object), k["tensor_core"].to_numpy(bool)
    combos = pd.DataFrame({"dev": dev, "dt": dtypes, "tc": tcs}).astype(object).fillna(-1)
    for (d, dt, tc), rows in combos.groupby(["dev", "dt", "tc"], dropna=False).indices.items():
        spec = devices.get(int(d)) if d != -1 and d is not None else None
        if spec is None:
            continue
        dt = None if dt == -1 else dt
        if not tc and dt in VECTOR_INT:
            dt = "fp32"  # integer/bool pointwise math runs on the vector ALUs at about the fp32 rate
        p = peak_for(spec, dt, bool(tc))
        peak[rows] = np.nan if p is None else p
        bw[rows] = np.nan if spec.peak_tbps is None else spec.peak_tbps
        l2[rows] = np.nan if spec.l2_mb is None else spec.l2_mb
    with np.errstate(invalid="ignore", divide="ignore"):
        mem_roof = intensity * bw
        ceiling = np.fmin(peak, mem_roof)
        ceiling = np.where(np.isfinite(flops) & (flops > 0), ceiling, np.nan)
        has_flops = np.isfinite(ceiling) & (ceiling > 0)
        bytes_only = ~has_flops & np.isfinite(byts) & (byts > 0) & np.isfinite(bw)
        pct = np.where(has_flops, achieved / ceiling * 100, np.where(bytes_only, achieved_bw / bw * 100, np.nan))
        bound = np.where(has_flops, np.where(mem_roof < peak, "memory", "compute"), np.where(bytes_only, "memory", None))
        t_ceiling = np.where(has_flops, flops / (ceiling * 1e12) * 1e6, np.where(bytes_only, byts / (bw * 1e12) * 1e6, np.nan))
    k["achieved_tflops"] = achieved
    k["achieved_tbps"] = achieved_bw
    k["intensity"] = intensity
    k["peak_tflops"] = peak
    k["peak_tbps"] = bw
    k["ceiling_tflops"] = ceiling
    k["pct_of_ceiling"] = pct
    k["bound"] = bound
    k["time_at_ceiling_us"] = t_ceiling
    k["time_lost_us"] = np.where(np.isfinite(t_ceiling), k["dur_us"].to_numpy(float) - t_ceiling, np.nan)
    over = np.nan_to_num(pct) > 105
    with np.errstate(invalid="ignore", divide="ignore"):
        beyond_l2_us = np.maximum(np.nan_to_num(byts) - l2 * 1e6, 0) / (bw * 1e12) * 1e6
    explained = (np.isfinite(l2) & (bound == "memory")
                 & (k["dur_us"].to_numpy(float) >= np.nan_to_num(beyond_l2_us, nan=np.inf)))
    k["roof_flag"] = np.where(over, np.where(explained, "cache_resident", "suspect"), None)
    _launch_shape(k, devices, device_props or {})
    return k


def _launch_shape(k, devices, props):
    """Waves, tail efficiency and SM fill from grid, block, registers and shared memory.

    Resident blocks per SM are the theoretical limit (threads, registers, shared memory, 32 blocks), not
    Kineto's achieved-occupancy estimate, which already includes the effect of a small grid.
    """
    n = len(k)
    col = lambda c: k[c].to_numpy(float) if c in k else np.full(n, np.nan)
    grid, block = col("blocks"), col("threads")  # products of grid and block, decoded by ingest
    regs, smem = col("registers"), col("shared_memory")
    sms, threads_sm, regs_sm, smem_sm = (np.full(n, np.nan) for _ in range(4))
    dev = pd.Series(k["device"].to_numpy(object))
    for d, rows in dev.groupby(dev, dropna=True).indices.items():
        spec, p = devices.get(int(d)), props.get(int(d), {})
        sms[rows] = p.get("numSms") or (spec.sms if spec else None) or np.nan
        threads_sm[rows] = p.get("maxThreadsPerMultiprocessor") or np.nan
        regs_sm[rows] = p.get("regsPerMultiprocessor") or np.nan
        smem_sm[rows] = p.get("sharedMemPerMultiprocessor") or np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        limits = np.vstack([
            np.floor(threads_sm / block),
            np.where(regs > 0, np.floor(regs_sm / (regs * block)), np.inf),
            np.where(smem > 0, np.floor(smem_sm / smem), np.inf),
            np.full(n, 32.0),
        ])
        resident = np.min(limits, axis=0)
        resident = np.where(np.isfinite(resident) & (resident >= 1), resident, np.nan)
        waves = grid / (sms * resident)
        k["waves"] = waves
        k["tail_efficiency"] = np.where(waves > 0, waves / np.ceil(waves), np.nan)
        k["sm_fill"] = np.where(grid > 0, np.minimum(grid / sms, 1.0), np.nan)

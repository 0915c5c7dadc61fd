"""roofline: per-kernel achieved rates, ceilings and bound, given FLOPs, bytes and the device each ran on.

ceiling = min(peak(dtype, math mode), intensity × bandwidth).  `pct_of_ceiling` is never clipped: a kernel
more than 5% above its ceiling is flagged. It is `cache_resident` when it is memory bound and its time is
still enough for the bytes that cannot have been in L2 when it started ((bytes - L2) / bandwidth): on an
H100, fp32 adds and casts of 50-100 MB just written by the previous kernel ran at 3.6 TB/s against 3.35 TB/s
of DRAM. Above the compute peak it is `suspect`: its FLOP count is wrong, and it stays out of MFU. Anything
else above the roof is `suspect_bytes`: too fast for its bytes even with a warm L2 (on the H100 reference
traces that caught two byte formulas that were wrong).

Copies between host and device have the host link as their roof (PCIe or NVLink-C2C, `host_gbps` of the
device entry); only device-side copies (DtoD) and memsets use HBM. A device file's `max_achievable` figures
give a second, measured ceiling (`achievable_tflops`, `pct_of_achievable`) beside the datasheet one.
"""
import re

import numpy as np
import pandas as pd

from .catalog import achievable_for, peak_for

HALF = {"bf16", "fp16", "fp8", "int8", "fp4"}
TENSOR_CATS = {"gemm", "conv", "attention"}
VECTOR_INT = {"int64", "int32", "int16", "int8", "uint8", "bool"}
# fp32 emulated on tensor cores (CUTLASS 3xTF32, Blackwell BF16x9): each fp32 product costs 3 TF32 / 9 BF16
# products, so the fp32 FLOP rate is at most that peak over the factor
EMULATED = {"tf32x3": ("tf32", 3.0), "bf16x9": ("bf16", 9.0)}
TC_MATH = HALF | {"tf32"} | set(EMULATED)


def compute_dtype(op_dtype, name_dtype, category, tensor_core):
    """(dtype, tensor_core) of each kernel's math: the op's dtype, refined by what the kernel name says.

    The name decides where the op has no dtype, where an fp8 kernel runs a wider op, and where a tensor-core
    GEMM/conv/attention kernel runs fp32 data in another math mode (TF32, BF16/FP16 "fast" modes, 3xTF32,
    BF16x9): what the units execute is what the peak must be. Otherwise the op's dtype stands.
    """
    d = pd.Series(op_dtype, dtype=object).where(pd.notna(pd.Series(op_dtype, dtype=object)), None)
    nd = pd.Series(name_dtype, dtype=object)
    cat = pd.Series(category, dtype=object)
    tc = pd.Series(tensor_core, dtype=object)
    fp32_on_tc = (d == "fp32") & nd.isin(TC_MATH) & cat.isin(TENSOR_CATS) & (tc != False)  # noqa: E712  (None: the name says nothing)
    refine = nd.notna() & (d.isna() | fp32_on_tc | (nd == "fp8"))
    d = d.where(~refine, nd)
    guess_tc = cat.isin(TENSOR_CATS) & (d.isin(HALF) | (d == "tf32"))
    tc = tc.where(tc.notna(), guess_tc).astype(bool)
    return d.to_numpy(object), tc.to_numpy(bool)


def roofline(k, devices, device_props=None):
    """Add roofline columns to kernel table `k` (needs flops, bytes, dur_us, device, dtype, tensor_core, kind)."""
    dur_s = k["dur_us"].to_numpy(float) * 1e-6
    flops = k["flops"].to_numpy(float)
    byts = k["bytes"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        achieved = np.where(dur_s > 0, flops / dur_s / 1e12, np.nan)
        achieved_bw = np.where(dur_s > 0, byts / dur_s / 1e12, np.nan)
        intensity = np.where(byts > 0, flops / byts, np.nan)
    roofs = _device_roofs(k, devices)
    peak, bw, l2 = roofs["peak"], roofs["bw"], roofs["l2"]
    link = copy_links(k)
    host = np.isin(link, ("host_link", "host_link_pageable"))
    bw = np.where(host, roofs["host"], np.where(link == "peer_link", np.nan, bw))  # only device copies use HBM
    l2 = np.where(host | (link == "peer_link"), np.nan, l2)  # a host or peer copy's time is not L2's
    with np.errstate(invalid="ignore", divide="ignore"):
        ceiling, pct, bound, t_ceiling = _ceilings(flops, byts, achieved, achieved_bw, intensity, peak, bw)
        bound = np.where(host, link, bound)  # host copies are bound by the host link, not HBM
        ach_ceiling, ach_pct, _, _ = _ceilings(flops, byts, achieved, achieved_bw, intensity,
                                               np.where(np.isfinite(roofs["ach_peak"]), roofs["ach_peak"], peak),
                                               np.where(np.isfinite(roofs["ach_bw"]) & ~host, roofs["ach_bw"], bw))
    measured = roofs["measured"]
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
    k["achievable_tflops"] = np.where(measured, ach_ceiling, np.nan)
    k["pct_of_achievable"] = np.where(measured, ach_pct, np.nan)
    k["roof_flag"] = _flags(k["dur_us"].to_numpy(float), byts, achieved, peak, bw, l2, pct, bound)
    _launch_shape(k, devices, device_props or {})
    return k


def _device_roofs(k, devices):
    """Per kernel: datasheet peak for its dtype and math mode, HBM and host-link bandwidth (TB/s), L2 (MB),
    and the user's measured (`max_achievable`) peak and bandwidth where a device file gives them."""
    n = len(k)
    out = {c: np.full(n, np.nan) for c in ("peak", "bw", "l2", "host", "ach_peak", "ach_bw")}
    out["measured"] = np.zeros(n, dtype=bool)
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
        base, factor = EMULATED.get(dt, (dt, 1.0))
        peak, ach = peak_for(spec, base, bool(tc)), achievable_for(spec, base, bool(tc))
        for col, v in (("peak", None if peak is None else peak / factor), ("bw", spec.peak_tbps), ("l2", spec.l2_mb),
                       ("host", None if spec.host_gbps is None else spec.host_gbps / 1000),
                       ("ach_peak", None if ach is None else ach / factor), ("ach_bw", spec.max_achievable.get("tbps"))):
            out[col][rows] = np.nan if v is None else v
        out["measured"][rows] = bool(spec.max_achievable)
    return out


def _ceilings(flops, byts, achieved, achieved_bw, intensity, peak, bw):
    """(ceiling TFLOP/s, % of ceiling, bound, time at ceiling µs) under the roofs `peak` and `bw`."""
    mem_roof = intensity * bw
    ceiling = np.fmin(peak, mem_roof)
    ceiling = np.where(np.isfinite(flops) & (flops > 0), ceiling, np.nan)
    has_flops = np.isfinite(ceiling) & (ceiling > 0)
    bytes_only = ~has_flops & np.isfinite(byts) & (byts > 0) & np.isfinite(bw)
    pct = np.where(has_flops, achieved / ceiling * 100, np.where(bytes_only, achieved_bw / bw * 100, np.nan))
    bound = np.where(has_flops, np.where(mem_roof < peak, "memory", "compute"), np.where(bytes_only, "memory", None))
    t_ceiling = np.where(has_flops, flops / (ceiling * 1e12) * 1e6, np.where(bytes_only, byts / (bw * 1e12) * 1e6, np.nan))
    return ceiling, pct, bound, t_ceiling


def _flags(dur_us, byts, achieved, peak, bw, l2, pct, bound):
    """`cache_resident` above the roof when L2 explains it, `suspect` above the compute peak (the FLOP count is
    wrong: such kernels stay out of MFU), `suspect_bytes` faster than its bytes allow (the byte count is wrong)."""
    over = np.nan_to_num(pct) > 105
    with np.errstate(invalid="ignore", divide="ignore"):
        beyond_l2_us = np.maximum(np.nan_to_num(byts) - l2 * 1e6, 0) / (bw * 1e12) * 1e6
        above_peak = np.nan_to_num(achieved) > 1.05 * peak
    explained = np.isfinite(l2) & (bound == "memory") & (dur_us >= np.nan_to_num(beyond_l2_us, nan=np.inf))
    return np.where(over & above_peak, "suspect",
                    np.where(over, np.where(explained, "cache_resident", "suspect_bytes"), None))


COPY = re.compile(r"^Memcpy (\w+)(?: \((\w+) -> (\w+)\))?")
_DEVICE_SIDE = {"D", "A"}  # device memory and CUDA arrays


def copy_links(k):
    """Per GPU event, the link a memcpy moves data over: `host_link` (host ↔ device over PCIe or NVLink-C2C),
    `host_link_pageable` (a pageable host buffer: staged through a pinned bounce buffer by the driver),
    `device` (DtoD, AtoD, ...: HBM), `peer_link` (PtoP), `host` (HtoH); None for everything else."""
    names = k["name"].astype(object).to_numpy(object)
    kinds = k["kind"].astype(object).to_numpy(object) if "kind" in k else np.full(len(k), None, dtype=object)
    codes, uniq = pd.factorize(pd.Series(np.where(kinds == "memcpy", names, None), dtype=object), use_na_sentinel=True)
    return np.array([_copy_link(u) for u in uniq] + [None], dtype=object)[codes]


def _copy_link(name):
    m = COPY.match(name) if isinstance(name, str) else None
    if m is None:
        return None
    way, src, dst = m.group(1), m.group(2), m.group(3)
    if way == "PtoP":
        return "peer_link"
    ends = (way[0], way[-1]) if len(way) == 4 and way[1:3] == "to" else None
    if ends is None:
        return None
    if ends[0] in _DEVICE_SIDE and ends[1] in _DEVICE_SIDE:
        return "device"
    if ends == ("H", "H"):
        return "host"
    return "host_link_pageable" if "Pageable" in (src, dst) else "host_link"


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

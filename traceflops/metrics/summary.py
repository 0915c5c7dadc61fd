"""The summary.json dict: trace, device(s), totals, coverage, roofline flags, MFU and warnings."""
import json

import numpy as np
import pandas as pd

from ..ingest.tables import GPU_MARKERS
from ..numbers import finite_or_none
from .advice import NO_GPU_EVENTS, advice


def device_block(spec):
    if spec is None:
        return None
    block = {"name": spec.name, "key": spec.key, "peak_tflops": dict(spec.peak_tflops), "peak_tbps": spec.peak_tbps,
             "source": spec.source}
    if spec.max_achievable:  # a device file's measured ceilings (TFLOP/s per dtype, tbps)
        block["max_achievable"] = dict(spec.max_achievable)
    return block


def build_summary(trace, k, ops, devices, dev_warnings, mfu):
    kern = k.loc[k["kind"] == "kernel", ["link", "link_reason"]]  # narrow: a full-width take copies every column
    dur = k["dur_us"].fillna(0)
    # mfu's union of each device's timed activity; an untimed activity covers nothing, and no activity is 0
    busy = mfu.get("gpu_busy_us") or 0.0
    in_window = ~kern["link_reason"].fillna("").str.startswith("launched before the profiling window")
    linked = kern["link"] != "none"
    has_cost = (k["flops"].fillna(0) > 0) | k["bytes"].notna()
    total_time = float(dur.sum())
    shaped = k["input_dims"].notna() & (k["link"] != "none")
    by_cat = (pd.DataFrame({"cat": k["category"].fillna("other"), "t": dur, "c": has_cost})
              .groupby("cat").apply(lambda g: {"time_us": float(g["t"].sum()),
                                               "covered": float(g.loc[g["c"], "t"].sum() / g["t"].sum()) if g["t"].sum() > 0 else None},
                                    include_groups=False).to_dict())
    flags = k["roof_flag"].value_counts().to_dict()
    worst = (k.loc[k["roof_flag"].notna(), ["name", "op", "pct_of_ceiling", "roof_flag", "flops", "bytes", "dur_us"]]
             .sort_values("pct_of_ceiling", ascending=False).head(10))
    dev_ids = sorted(devices)
    first = next((devices[d] for d in dev_ids if devices[d] is not None), None)
    dist = trace.meta.distributed
    warnings = list(trace.warnings) + list(dev_warnings)
    if not len(k):
        warnings.append(NO_GPU_EVENTS)
    skipped = dict(sorted((("(no category)" if c is None else str(c)), int(n))
                          for c, n in (trace.skipped_categories or {}).items()))
    timeline = {c: n for c, n in skipped.items() if c in GPU_MARKERS}
    if timeline:  # GPU-timeline markers, not activities: said, so that no event of the file is dropped silently
        warnings.append("GPU timeline markers that are not kernels, copies or sets (no work; not rows of kernels.parquet): "
                        + ", ".join(f"{n} {c}" for c, n in timeline.items()))
    if mfu.get("kernels_with_flops_but_no_peak"):
        warnings.append(f"{mfu['kernels_with_flops_but_no_peak']} kernel(s) have FLOPs but no known peak (unknown device or dtype); left out of MFU")
    summary = {
        "trace": {"name": trace.name, "path": trace.path, "rank": dist.get("rank"), "world_size": dist.get("world_size"),
                  "format": trace.meta.time_format, "events_not_tabled": skipped},
        "device": device_block(first) or {"name": None, "peak_tflops": {}, "peak_tbps": None},
        "devices": {str(d): device_block(devices[d]) for d in dev_ids} if len(dev_ids) > 1 else None,
        "totals": {
            "gpu_events": int(len(k)), "kernels": int(len(kern)),
            "memcpy": int((k["kind"] == "memcpy").sum()), "memset": int((k["kind"] == "memset").sum()),
            "cpu_ops": int(len(ops)), "gpu_time_us": total_time, "gpu_busy_us": float(busy),
            "flops": float(np.nansum(k["flops"].to_numpy(float))), "bytes": float(np.nansum(k["bytes"].to_numpy(float))),
            "op_flops": float(np.nansum(ops["flops"].to_numpy(float))) if len(ops) else 0.0,
            "op_recompute_flops": float(np.nansum(ops["recompute_flops"].to_numpy(float))) if len(ops) else 0.0,
        },
        "coverage": {
            "link_rate": finite_or_none(linked.mean()) if len(kern) else None,
            "link_rate_in_window": finite_or_none(linked[in_window].mean()) if in_window.any() else None,
            "links": kern["link"].value_counts().to_dict(),
            "unlinked_reasons": kern.loc[~linked, "link_reason"].value_counts().to_dict(),
            "time_with_flops_or_bytes": finite_or_none(dur[has_cost].sum() / total_time) if total_time > 0 else None,
            "time_with_flops_or_bytes_of_shaped": finite_or_none(dur[has_cost & shaped].sum() / dur[shaped].sum()) if dur[shaped].sum() > 0 else None,
            "by_category": by_cat,
        },
        "roofline": {"suspect": int(flags.get("suspect", 0)), "suspect_bytes": int(flags.get("suspect_bytes", 0)),
                     "cache_resident": int(flags.get("cache_resident", 0)),
                     "with_ceiling": int(k["ceiling_tflops"].notna().sum()),
                     "with_achievable": int(k["achievable_tflops"].notna().sum()) if "achievable_tflops" in k else 0,
                     "worst": json.loads(worst.to_json(orient="records"))},
        "mfu": mfu,
        "advice": advice(k, mfu, devices),
        "warnings": warnings,
    }
    return summary

"""advice: what the user can do about GPU time we could not cost, in summary.json's `advice` list (the CLI and
the report print it). Each entry names the issue, the share of GPU time it concerns and the remedy."""
import numpy as np

from ..cost.graphs.replay import NO_SHAPES

NO_GPU_EVENTS = "no GPU events: the trace recorded CPU activity only (no kernels, memcpy or memset); nothing to cost on a GPU"


def advice(k, mfu, devices):
    """[{issue, gpu_time_share, remedy}] for the kernel table `k`, the `mfu` block and the resolved `devices`."""
    if not len(k):
        return [{"issue": NO_GPU_EVENTS, "gpu_time_share": None,
                 "remedy": "profile with activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA] (ROCm: the same) "
                           "to record the GPU kernels"}]
    out = []
    dur = np.nan_to_num(k["dur_us"].to_numpy(float))
    total = float(dur.sum())
    reason = k["flops_reason"].astype(object).fillna("").astype(str)
    replay = reason.str.startswith(NO_SHAPES.split(":")[0]).to_numpy(bool)
    if replay.any():
        out.append({"issue": f"{int(replay.sum())} CUDA/HIP graph-replayed kernel(s) have no shapes, so no FLOPs",
                    "gpu_time_share": float(dur[replay].sum() / total) if total > 0 else None,
                    "remedy": "pass --capture CAPTURE (a trace of the same run recorded while the graphs were "
                              "captured: replayed kernels take the captured kernels' costs) or --model CONFIG (each "
                              "kernel takes the costs of the model component it computes, docs/attribution.md; "
                              "what it cannot place says why)"})
    n = int(mfu.get("kernels_with_flops_but_no_peak") or 0)
    if n and any(s is None for s in devices.values()):
        no_peak = (np.nan_to_num(k["flops"].to_numpy(float)) > 0) & ~(k["peak_tflops"].to_numpy(float) > 0)
        out.append({"issue": f"{n} kernel(s) with FLOPs ran on a device with no known peaks: left out of MFU",
                    "gpu_time_share": float(dur[no_peak].sum() / total) if total > 0 else None,
                    "remedy": "pass --device NAME (`traceflops devices` lists them) or add the GPU with --device-file"})
    return out

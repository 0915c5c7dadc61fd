"""Time breakdown (idle / exposed comm / non-FLOP / FLOP) and launch overhead: hand-built trace + shared traces."""
import json

import pytest

from traceflops import analyze
from traceflops.metrics.breakdown import PARTS, split_window

from .conftest import all_shared_traces, needs_shared

GEMM = "ampere_sgemm_128x64_nn"
FILL = "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>, std::array<char*, 1ul> >(int, at::native::FillFunctor<float>, std::array<char*, 1ul>)"
NCCL = "ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)"
T0 = 1000.0


def _x(cat, name, ts, dur, pid=1, tid=1, **args):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": T0 + ts, "dur": dur, "args": args}


def _kernel(name, ts, dur, stream, corr):
    args = {"device": 0, "stream": stream, "grid": [4, 1, 1], "block": [128, 1, 1]}
    if corr is not None:
        args["correlation"] = corr
    return _x("kernel", name, ts, dur, pid=0, tid=stream, **args)


def build(tmp_path, steps=True):
    """GPU 0, three streams, wall 0..35 us:
    gemm [0,10] s7 | fill [5,15] s8 | nccl [12,20] s9 | idle [20,30] | gemm [30,35] s7.
    By hand: FLOP = [0,10]+[30,35] = 15; non-FLOP = [10,15] = 5; exposed comm = [15,20] = 5; idle = 10.
    """
    mm = {"Input Dims": [[64, 32], [32, 16]], "Input type": ["float", "float"], "External id": 1}
    ev = [
        _x("cpu_op", "aten::mm", -20, 3, **mm),
        _x("cuda_runtime", "cudaLaunchKernel", -19, 2, correlation=1),
        _x("cpu_op", "aten::fill_", -15, 3, **{"Input Dims": [[256]], "Input type": ["float"], "External id": 2}),
        _x("cuda_runtime", "cudaLaunchKernel", -14, 2, correlation=2),
        _x("cpu_op", "aten::_local_scalar_dense", 18, 11, **{"External id": 3}),  # host blocks over the GPU gap
        _x("cpu_op", "aten::mm", 29.2, 0.7, **dict(mm, **{"External id": 4})),
        _x("cuda_runtime", "cudaLaunchKernel", 29.3, 0.5, correlation=4),
        _kernel(GEMM, 0, 10, 7, 1),
        _kernel(FILL, 5, 10, 8, 2),
        _kernel(NCCL, 12, 8, 9, None),
        _kernel(GEMM, 30, 5, 7, 4),
    ]
    if steps:
        ev.append(_x("user_annotation", "ProfilerStep#3", -25, 60, **{"External id": 99}))
    doc = {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3", "computeMajor": 9,
                                                     "computeMinor": 0, "numSms": 132}],
           "baseTimeNanoseconds": 1700000000000000000, "traceEvents": ev}
    p = tmp_path / ("bd_steps.json" if steps else "bd_nosteps.json")
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("steps", [True, False])
def test_hand_built_parts(tmp_path, steps):
    a = analyze(build(tmp_path, steps))
    t = a.tables["breakdown"]
    assert len(t) == 1
    r = t.iloc[0]
    assert (r["step"] == 3) if steps else (r["step"] is None)
    assert r["wall_us"] == pytest.approx(35.0)
    assert r["flop_us"] == pytest.approx(15.0)
    assert r["nonflop_us"] == pytest.approx(5.0)
    assert r["comm_exposed_us"] == pytest.approx(5.0)
    assert r["idle_us"] == pytest.approx(10.0)
    b = a.summary["breakdown"]
    assert b["totals"]["sum_of_parts_us"] == pytest.approx(35.0)
    wf = {s["stage"]: s["value"] for s in b["waterfall"]}
    assert wf["lost to idle"] == pytest.approx(-10 / 35)
    assert wf["lost to exposed communication"] == pytest.approx(-5 / 35)
    assert wf["lost to kernels without FLOPs"] == pytest.approx(-5 / 35)
    # achieved = sum(flops / peak) / wall; the gemm FLOPs are 2*64*32*16 per launch, two launches
    k = a.kernels
    g = k[k["name"] == GEMM]
    assert list(g["flops"]) == [2 * 64 * 32 * 16] * 2
    peak = g["peak_tflops"].iloc[0] * 1e12
    assert wf["achieved MFU"] == pytest.approx(2 * 2 * 64 * 32 * 16 / peak / 35e-6)
    assert wf["peak"] + sum(s["value"] for s in b["waterfall"][1:-1]) == pytest.approx(wf["achieved MFU"])


def test_hand_built_launch_overhead(tmp_path):
    a = analyze(build(tmp_path, True))
    lo = a.summary["breakdown"]["launch"]
    st = lo["per_step"][0]
    assert st["launch_calls"] == 3
    assert st["launch_call_us"] == pytest.approx(4.5)
    assert st["gpu_busy_us"] == pytest.approx(25.0)
    assert st["gpu_idle_us"] == pytest.approx(10.0)
    top = lo["top_gap_ops"][0]
    assert top["cpu_op"] == "aten::_local_scalar_dense"
    assert top["gap_us"] == pytest.approx(10.0)


def test_split_window_priority():
    # comm fully under a non-FLOP kernel is hidden; non-FLOP fully under FLOP is FLOP time
    p = split_window([0, 2, 1], [10, 8, 9], ["flop", "nonflop", "comm"], 0, 12)
    assert p == {"wall_us": 12, "flop_us": 10, "nonflop_us": 0, "comm_exposed_us": 0, "idle_us": 2}


def test_waterfall_figure(tmp_path):
    from traceflops.outputs.report.plots import waterfall_figure
    a = analyze(build(tmp_path, True))
    fig = waterfall_figure(a)
    assert len(fig.data) == 1 and len(fig.data[0].x) == 6


@needs_shared
@pytest.mark.parametrize("path", [p for p in all_shared_traces()], ids=lambda p: p.name[:60])
def test_parts_sum_to_wall_on_shared(path):
    a = analyze(path)
    t = a.tables.get("breakdown")
    if t is None or not len(t):
        pytest.skip("no GPU activity")
    s = t[PARTS].sum(axis=1)
    assert ((s - t["wall_us"]).abs() <= 1e-3 * t["wall_us"].clip(lower=1e-9)).all()
    assert (t[PARTS] >= -1e-6).all().all()

"""MFU/HFU from traces: recompute detection on CPU, and a hand calculation on a small GPU trace."""
import json

import pytest

torch = pytest.importorskip("torch")

from traceflops import analyze  # noqa: E402


def _profile(tmp_path, use_checkpoint, reentrant):
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.checkpoint import checkpoint

    torch.manual_seed(0)
    l1, l2, l3 = torch.nn.Linear(32, 64), torch.nn.Linear(64, 64), torch.nn.Linear(64, 16)
    x = torch.randn(8, 32, requires_grad=True)

    def segment(h):
        return torch.relu(l2(torch.relu(l1(h))))

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        h = checkpoint(segment, x, use_reentrant=reentrant) if use_checkpoint else segment(x)
        l3(h).sum().backward()
    path = tmp_path / f"ckpt_{use_checkpoint}_{reentrant}.json"
    prof.export_chrome_trace(str(path))
    return analyze(path)


@pytest.mark.parametrize("reentrant", [False, True])
def test_hfu_minus_mfu_is_the_recomputed_forward(tmp_path, reentrant):
    plain = _profile(tmp_path, False, reentrant)
    ckpt = _profile(tmp_path, True, reentrant)
    # The checkpointed segment's forward is two Linear layers: 2·B·in·out each.
    recomputed = 2 * 8 * 32 * 64 + 2 * 8 * 64 * 64
    gemm = lambda a: a.ops.loc[a.ops["family"] == "gemm"]
    assert gemm(ckpt)["recompute_flops"].fillna(0).sum() == recomputed
    # Model FLOPs (MFU's numerator) do not change with checkpointing; hardware FLOPs grow by the recompute.
    assert gemm(ckpt)["flops"].sum() == gemm(plain)["flops"].sum()
    assert ckpt.summary["totals"]["op_recompute_flops"] - plain.summary["totals"]["op_recompute_flops"] == pytest.approx(
        recomputed + (ckpt.ops.loc[ckpt.ops["family"] != "gemm", "recompute_flops"].fillna(0).sum()
                      - plain.ops.loc[plain.ops["family"] != "gemm", "recompute_flops"].fillna(0).sum()))


def _gpu_trace(tmp_path, dur=100.0):
    """Two bf16 GEMMs on an H100 starting 200 µs apart: hand-computable MFU."""
    props = [{"id": 0, "name": "NVIDIA H100 80GB HBM3", "computeMajor": 9, "computeMinor": 0, "numSms": 132,
              "totalGlobalMem": 85018279936, "maxThreadsPerMultiProcessor": 2048}]
    ev = []
    for i, (t0, corr) in enumerate([(1000.0, 11), (1200.0, 12)]):
        ev += [
            {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": t0 - 50, "dur": 20,
             "args": {"External id": corr, "Input Dims": [[4096, 4096], [4096, 4096]], "Input type": ["c10::BFloat16", "c10::BFloat16"],
                      "Concrete Inputs": ["", ""]}},
            {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": t0 - 45, "dur": 5,
             "args": {"correlation": corr}},
            {"ph": "X", "cat": "kernel", "name": "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64", "pid": 0,
             "tid": 7, "ts": t0, "dur": dur, "args": {"correlation": corr, "device": 0, "stream": 7}},
        ]
    p = tmp_path / "mm.json"
    p.write_text(json.dumps({"deviceProperties": props, "traceEvents": ev}))
    return p


def test_mfu_hand_calculation(tmp_path):
    a = analyze(_gpu_trace(tmp_path, dur=180.0))
    flops_each = 2 * 4096 ** 3  # 137.44 GFLOP
    k = a.kernels
    assert list(k["flops"]) == [flops_each, flops_each]
    # achieved 1.374e11 / 180e-6 s = 763.6 TFLOP/s of the 989.4 bf16 peak
    assert k["achieved_tflops"][0] == pytest.approx(flops_each / 180e-6 / 1e12)
    assert k["peak_tflops"][0] == pytest.approx(989.4)
    m = a.summary["mfu"]
    wall = 380e-6  # first kernel start (1000) → last kernel end (1380)
    assert m["wall_us"] == pytest.approx(380.0)
    assert m["mfu"] == pytest.approx(2 * flops_each / (989.4e12 * wall))
    assert m["busy_mfu"] == pytest.approx(2 * flops_each / (989.4e12 * 360e-6))
    assert m["suspect_kernels"] == 0


def test_mfu_leaves_out_flops_above_the_peak(tmp_path):
    a = analyze(_gpu_trace(tmp_path, dur=100.0))
    k = a.kernels
    # 1.374e11 / 100e-6 s = 1374.4 TFLOP/s: above the 989.4 bf16 peak, so flagged, never clipped, and not MFU
    assert k["achieved_tflops"][0] == pytest.approx(2 * 4096 ** 3 / 100e-6 / 1e12)
    assert list(k["roof_flag"]) == ["suspect", "suspect"]
    m = a.summary["mfu"]
    assert m["mfu"] is None and m["suspect_kernels"] == 2 and m["suspect_flops"] == pytest.approx(4 * 4096 ** 3)


def test_union_length_matches_a_brute_force_cover():
    import numpy as np

    from traceflops.link.intervals import union_length
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 30))
        s = rng.integers(0, 100, n).astype(float)
        e = s + rng.integers(0, 20, n)
        covered = set()
        for a, b in zip(s, e):
            covered.update(range(int(a), int(b)))
        if n:  # an interval missing an end is left out, not allowed to swallow the rest
            s2, e2 = np.r_[s, np.nan, 5.0], np.r_[e, 50.0, np.nan]
        else:
            s2, e2 = s, e
        assert union_length(s2, e2) == len(covered)


def test_per_module_sums_match_one_group_at_a_time():
    import numpy as np
    import pandas as pd

    from traceflops.link.intervals import union_length
    from traceflops.metrics.mfu import _peak_seconds, _per_module, _union_by_group
    rng = np.random.default_rng(11)
    for _ in range(100):
        n = int(rng.integers(1, 80))
        k = pd.DataFrame({"ts_us": rng.random(n) * 100, "dur_us": rng.random(n) * 20,
                          "flops": np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 1e12),
                          "peak_tflops": np.where(rng.random(n) < 0.2, np.nan, 989.0)})
        mods = rng.choice(["a", "a.b", "c", "d.e.f"], n).astype(object)
        rows = {r["module"]: r for r in _per_module(k, mods)}
        assert list(rows) == sorted(set(mods))
        for m, r in rows.items():
            g = k[mods == m]
            busy = union_length(g["ts_us"].to_numpy(), (g["ts_us"] + g["dur_us"]).to_numpy())
            ps = np.nansum(_peak_seconds(g))
            assert r["kernels"] == len(g)
            assert r["gpu_time_us"] == pytest.approx(g["dur_us"].sum(), rel=1e-12)
            assert r["flops"] == pytest.approx(np.nansum(g["flops"]), rel=1e-12)
            if busy > 0 and ps > 0:
                assert r["busy_mfu"] == pytest.approx(ps / (busy * 1e-6), rel=1e-12)
            else:
                assert r["busy_mfu"] is None
        codes = rng.integers(0, 4, n)
        s, e = k["ts_us"].to_numpy().copy(), (k["ts_us"] + k["dur_us"]).to_numpy()
        s[rng.integers(0, n)] = np.nan  # left out, as union_length leaves it out
        got = _union_by_group(codes, s, e, 4)
        want = [union_length(s[codes == c], e[codes == c]) for c in range(4)]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-9)

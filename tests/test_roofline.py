"""Hand-worked roofline numbers for one compute-bound and one memory-bound kernel on an H100 SXM."""
import numpy as np
import pandas as pd
import pytest

from traceflops.roofline.catalog import load_catalog
from traceflops.roofline import compute_dtype, roofline


def _kernels():
    return pd.DataFrame({
        "name": ["gemm", "add"], "device": pd.array([0, 0], dtype="Int64"),
        "dur_us": [200.0, 50.0],
        # GEMM 8192^3 in bf16: 2·8192³ FLOPs, reads A and B, writes C: 3·8192²·2 bytes
        "flops": [2 * 8192 ** 3, 1 << 26], "bytes": [3 * 8192 ** 2 * 2, 3 * (1 << 26) * 2],
        "dtype": ["bf16", "bf16"], "tensor_core": [True, False],
        "grid": [None, None], "block": [None, None], "occupancy": [np.nan, np.nan],
    })


def test_compute_and_memory_bound_by_hand():
    h100 = load_catalog()["h100-sxm"]
    assert h100.peak_tflops["bf16"] == pytest.approx(989.4)  # dense, not the 1979 sparse figure
    k = roofline(_kernels(), {0: h100})
    g, a = k.iloc[0], k.iloc[1]
    # GEMM: intensity = 2·8192³ / (6·8192²) = 8192/3 ≈ 2730.7 flop/byte; 2730.7 × 3.35 TB/s = 9148 > 989.4 → compute bound
    assert g["intensity"] == pytest.approx(8192 / 3)
    assert g["ceiling_tflops"] == pytest.approx(989.4)
    assert g["bound"] == "compute"
    achieved = 2 * 8192 ** 3 / 200e-6 / 1e12  # 5497.6 TFLOP/s: impossible on this GPU, so it must be flagged
    assert g["achieved_tflops"] == pytest.approx(achieved)
    assert g["pct_of_ceiling"] == pytest.approx(achieved / 989.4 * 100)  # never clipped
    assert g["roof_flag"] == "suspect"  # 6·8192² bytes = 402 MB do not fit the 50 MB L2
    # add: 1 flop per element, 6 bytes per element → intensity 1/6; ceiling = 3.35/6 = 0.558 TFLOP/s < fp32 vector 66.9
    assert a["intensity"] == pytest.approx(1 / 6)
    assert a["peak_tflops"] == pytest.approx(h100.peak_tflops["fp32"])
    assert a["ceiling_tflops"] == pytest.approx(3.35 / 6)
    assert a["bound"] == "memory"
    achieved_a = (1 << 26) / 50e-6 / 1e12
    assert a["achieved_tflops"] == pytest.approx(achieved_a)
    assert a["pct_of_ceiling"] == pytest.approx(achieved_a / (3.35 / 6) * 100)
    assert a["achieved_tbps"] == pytest.approx(6 * (1 << 26) / 50e-6 / 1e12)
    assert a["time_at_ceiling_us"] == pytest.approx((1 << 26) / (3.35 / 6 * 1e12) * 1e6)


def test_fp32_gemm_is_tf32_only_when_the_name_says_so():
    d, tc = compute_dtype(np.array(["fp32", "fp32", "bf16"], dtype=object), np.array(["tf32", None, None], dtype=object),
                          np.array(["gemm", "gemm", "gemm"], dtype=object), np.array([None, None, None], dtype=object))
    assert list(d) == ["tf32", "fp32", "bf16"]
    assert list(tc) == [True, False, True]


def test_unknown_device_gives_null_ceilings():
    k = roofline(_kernels(), {0: None})
    assert k["ceiling_tflops"].isna().all() and k["peak_tflops"].isna().all()
    assert k["achieved_tflops"].notna().all()


H100_MI300X = [
    "tracelens/h100__gaunernst_bert-small-uncased__1016001.json.gz",
    "tracelens/h100__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz",
    "tracelens/h100__google_owlv2-large-patch14-ensemble__1016001.json.gz",
    "tracelens/mi300__gaunernst_bert-small-uncased__1016001.json.gz",
    "tracelens/mi300__Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz",
    "tracelens/mi300__google_owlv2-large-patch14-ensemble__1016001.json.gz",
    "tracelens/mi300__ddp_resnet18_no_pool__train_resnet18.json.gz",
    "tracelens/inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz",
    "tracelens/attention__sdpa_01_long_seq_low_eff__sdpa_01_long_seq_low_eff.json",
    "tracelens/elementwise__elem_01_add_poor_bw__elem_01_add_poor_bw.json",
]


@pytest.mark.parametrize("rel", H100_MI300X)
def test_few_suspect_kernels_on_h100_and_mi300x(rel):
    from traceflops import analyze

    from .conftest import SHARED
    if SHARED is None:
        pytest.skip("../shared/traces not present")
    a = analyze(SHARED / rel)
    with_ceiling = a.kernels["ceiling_tflops"].notna().sum()
    assert with_ceiling > 0
    assert a.summary["device"]["key"] in ("h100-sxm", "mi300x")
    assert (a.kernels["roof_flag"] == "suspect").sum() < 0.01 * with_ceiling


def test_launch_diagnostics_by_hand():
    from traceflops.roofline.ceilings import _launch_shape
    h100 = load_catalog()["h100-sxm"]
    props = {0: {"numSms": 132, "maxThreadsPerMultiprocessor": 2048, "regsPerMultiprocessor": 65536,
                 "sharedMemPerMultiprocessor": 233472}}
    k = pd.DataFrame({"device": pd.array([0, 0, 0], dtype="Int64"),
                      "blocks": [66.0, 400.0, 16.0], "threads": [256.0, 256.0, 128.0],  # grid and block sizes
                      "registers": [128.0, 128.0, 255.0], "shared_memory": [0.0, 0.0, 116000.0]})
    _launch_shape(k, {0: h100}, props)
    # registers limit: 65536 / (128·256) = 2 blocks per SM → 264 resident blocks on 132 SMs
    assert k["waves"][0] == pytest.approx(66 / 264) and k["sm_fill"][0] == pytest.approx(0.5)
    assert k["waves"][1] == pytest.approx(400 / 264) and k["tail_efficiency"][1] == pytest.approx((400 / 264) / 2)
    # shared memory limit: 233472 // 116000 = 2; 16 blocks fill 16 of 132 SMs
    assert k["waves"][2] == pytest.approx(16 / 264) and k["sm_fill"][2] == pytest.approx(16 / 132)


def test_roof_flag_only_cache_resident_when_l2_explains_it():
    """H100: 3.35 TB/s DRAM, 50 MB L2. A memory-bound kernel above the roof is `cache_resident` only if its time
    covers the bytes that cannot have been in L2 at its start ((bytes - 50 MB) / 3.35 TB/s); anything above the
    compute peak is `suspect` whatever its size, and one too fast for its bytes is `suspect_bytes`."""
    h100 = load_catalog()["h100-sxm"]
    mb = 1e6
    k = pd.DataFrame({
        "name": ["add 100 MB in 28 us", "add 1 GB in 12 us", "gemm above peak", "add at 90%"],
        "device": pd.array([0] * 4, dtype="Int64"),
        # (100 - 50) MB / 3.35 TB/s = 14.9 us <= 28 us; (1074 - 50) MB / 3.35 TB/s = 306 us > 12 us
        "dur_us": [28.0, 12.0, 100.0, 100 * mb / 3.35e12 * 1e6 / 0.9],
        "flops": [np.nan, np.nan, 2 * 8192 ** 3, np.nan],
        "bytes": [100 * mb, 1074 * mb, 10 * mb, 100 * mb],
        "dtype": ["fp32", "fp32", "bf16", "fp32"], "tensor_core": [False, False, True, False],
        "grid": [None] * 4, "block": [None] * 4, "occupancy": [np.nan] * 4,
    })
    r = roofline(k, {0: h100})
    assert r["pct_of_ceiling"].iloc[0] == pytest.approx(100 * mb / 28e-6 / 1e12 / 3.35 * 100)  # 106.6%
    # too fast for its bytes is a byte-count error; above the compute peak a FLOP-count error
    assert list(r["roof_flag"].iloc[:3]) == ["cache_resident", "suspect_bytes", "suspect"] and pd.isna(r["roof_flag"].iloc[3])

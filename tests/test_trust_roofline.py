"""Issue 17: measured ceilings from a device file are applied, impossible FLOP counts stay out of MFU, and copies
between host and device are judged against the host link, not HBM."""
import json

import numpy as np
import pandas as pd
import pytest

import traceflops
from traceflops.roofline import Devices
from traceflops.roofline.ceilings import copy_links, roofline

from .conftest import SAMPLES

H100_SAMPLE = SAMPLES / "h100__gaunernst_bert-small-uncased__1016001.json.gz"


def _kernels(**cols):
    n = len(next(iter(cols.values())))
    base = {"name": ["k"] * n, "kind": ["kernel"] * n, "device": pd.array([0] * n, dtype="Int64"),
            "dtype": ["bf16"] * n, "tensor_core": [True] * n, "flops": [np.nan] * n, "bytes": [np.nan] * n,
            "dur_us": [100.0] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_device_file_max_achievable_gives_a_second_ceiling(tmp_path):
    f = tmp_path / "dev.yaml"
    f.write_text("devices:\n  - key: h100-sxm\n    max_achievable: {bf16: 700, fp32: 50, tbps: 3.0}\n")
    plain = traceflops.analyze(H100_SAMPLE)
    measured = traceflops.analyze(H100_SAMPLE, device_file=str(f))
    assert plain.kernels["achievable_tflops"].isna().all() and plain.kernels["pct_of_achievable"].isna().all()
    k = measured.kernels
    has = k["ceiling_tflops"].notna()
    assert k.loc[has, "achievable_tflops"].notna().all()
    # the measured ceiling is never above the datasheet one, and % of it is never below % of the datasheet's
    assert (k.loc[has, "achievable_tflops"] <= k.loc[has, "ceiling_tflops"] * (1 + 1e-12)).all()
    assert (k.loc[has, "pct_of_achievable"] >= k.loc[has, "pct_of_ceiling"] * (1 - 1e-12)).all()
    # a compute-bound bf16 tensor-core kernel: its measured ceiling is min(700, intensity x 3.0)
    row = k[has & (k["dtype"] == "bf16") & k["tensor_core"].astype(bool)].iloc[0]
    assert row["achievable_tflops"] == pytest.approx(min(700.0, row["intensity"] * 3.0))
    # MFU stays against the datasheet peaks, and says so
    assert measured.summary["mfu"]["mfu"] == plain.summary["mfu"]["mfu"]
    assert "datasheet" in measured.summary["mfu"]["peak_basis"]
    assert measured.summary["roofline"]["with_achievable"] == int(has.sum())


def test_mfu_denominator_is_reported():
    s = traceflops.analyze(H100_SAMPLE).summary["mfu"]
    used = s["peaks_used"]
    assert used and abs(sum(u["flops_share"] for u in used) - 1) < 1e-9
    bf16 = next(u for u in used if u["dtype"] == "bf16" and u["tensor_core"])
    assert bf16["peak_tflops"] == traceflops.load_catalog()["h100-sxm"].peak_tflops["bf16"]


def test_flops_above_the_compute_peak_are_suspect_and_out_of_mfu():
    spec = traceflops.load_catalog()["h100-sxm"]
    peak = spec.peak_tflops["bf16"]
    # three 100 µs bf16 GEMMs: at 50% of peak, at 2x peak (impossible), and a memory-side miss (bytes too big)
    k = _kernels(flops=[0.5 * peak * 1e12 * 1e-4, 2 * peak * 1e12 * 1e-4, 1e9], recompute_flops=[0.0] * 3,
                 bytes=[1e6, 1e6, 10 * spec.peak_tbps * 1e12 * 1e-4 + spec.l2_mb * 1e6 * 20])
    k = roofline(k, {0: spec})
    assert pd.isna(k["roof_flag"][0]) and list(k["roof_flag"][1:]) == ["suspect", "suspect_bytes"]
    from traceflops.metrics.mfu import without_suspect
    kept, dropped, n = without_suspect(k)
    assert n == 1 and dropped == k["flops"][1]
    assert np.isnan(kept["flops"][1]) and kept["flops"][0] == k["flops"][0] and kept["flops"][2] == k["flops"][2]


def test_suspect_kernels_leave_the_headline_mfu(tmp_path):
    """A trace whose only FLOPs are impossible: MFU is none of them, and the summary says how many were left out."""
    ev = [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": 0, "dur": 50,
           "args": {"External id": 1, "Input Dims": [[8192, 8192], [8192, 8192]],
                    "Input type": ["c10::BFloat16", "c10::BFloat16"]}},
          {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 10, "dur": 5,
           "args": {"correlation": 7}},
          {"ph": "X", "cat": "kernel", "name": "sm90_xmma_gemm_bf16bf16_bf16f32", "pid": 0, "tid": 7, "ts": 20,
           "dur": 10, "args": {"correlation": 7, "device": 0, "stream": 7}}]  # 1.1 TFLOP in 10 µs: impossible
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"traceEvents": ev, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3",
                                                                      "numSms": 132}]}))
    s = traceflops.analyze(p).summary
    assert s["roofline"]["suspect"] == 1
    assert s["mfu"]["mfu"] is None and s["mfu"]["suspect_kernels"] == 1
    assert s["mfu"]["suspect_flops"] == pytest.approx(2 * 8192 ** 3)
    assert s["totals"]["flops"] == pytest.approx(2 * 8192 ** 3)  # the kernel table keeps what was counted


@pytest.mark.parametrize("name,link", [
    ("Memcpy HtoD (Pinned -> Device)", "host_link"), ("Memcpy DtoH (Device -> Pinned)", "host_link"),
    ("Memcpy HtoD (Pageable -> Device)", "host_link_pageable"), ("Memcpy DtoH (Device -> Pageable)", "host_link_pageable"),
    ("Memcpy DtoD (Device -> Device)", "device"), ("Memcpy PtoP (Device -> Device)", "peer_link"),
    ("Memcpy HtoH (Pinned -> Pageable)", "host"), ("Memcpy HtoA (Pinned -> Array)", "host_link"),
    ("Memcpy DtoH (Device -> Host)", "host_link"),
])
def test_copy_link_from_the_memcpy_name(name, link):
    assert copy_links(pd.DataFrame({"name": [name], "kind": ["memcpy"]}))[0] == link


def test_host_copies_are_judged_against_the_host_link():
    spec = traceflops.load_catalog()["h100-sxm"]
    assert spec.host_gbps == 64  # PCIe Gen5 x16, per direction
    names = ["Memcpy DtoH (Device -> Pageable)", "Memcpy HtoD (Pinned -> Device)", "Memcpy DtoD (Device -> Device)",
             "Memset (Device)"]
    k = _kernels(name=names, kind=["memcpy", "memcpy", "memcpy", "memset"], bytes=[32e6, 32e6, 64e6, 32e6],
                 dtype=[None] * 4, tensor_core=[False] * 4, dur_us=[1000.0] * 4)
    k = roofline(k, {0: spec})
    assert list(k["bound"]) == ["host_link_pageable", "host_link", "memory", "memory"]
    assert list(k["peak_tbps"]) == [0.064, 0.064, spec.peak_tbps, spec.peak_tbps]
    assert k["pct_of_ceiling"][1] == pytest.approx(32e6 / 1e-3 / 64e9 * 100)  # 32 MB in 1 ms over 64 GB/s: 50%
    assert k["pct_of_ceiling"][2] == pytest.approx(64e6 / 1e-3 / (spec.peak_tbps * 1e12) * 100)


def test_device_file_host_link_override(tmp_path):
    f = tmp_path / "d.json"
    f.write_text(json.dumps({"devices": [{"key": "h100-sxm", "host_gbps": 450}]}))
    assert Devices.load(device_file=str(f)).catalog["h100-sxm"].host_gbps == 450


def test_every_catalog_device_states_its_host_link():
    missing = [s.key for s in traceflops.load_catalog().values() if s.host_gbps is None and s.host_link is None]
    assert not missing


def test_report_shows_measured_ceilings_and_flags(tmp_path):
    f = tmp_path / "dev.yaml"
    f.write_text("devices:\n  - key: h100-sxm\n    max_achievable: {bf16: 700, fp32: 50, tbps: 3.0}\n")
    from traceflops.outputs.report.plots import roofline_figure
    a = traceflops.analyze(H100_SAMPLE, device_file=str(f))
    names = [t.name for t in roofline_figure(a).data if t.name and "measured" in t.name]
    assert names == ["bf16 tensor cores: 700 TFLOP/s, 3 TB/s (measured, --device-file)",
                     "fp32 vector units: 50 TFLOP/s, 3 TB/s (measured, --device-file)"]
    html = a.write(tmp_path / "out")["report"].read_text()
    assert "% of measured ceiling" in html and "roofline flag" in html
    assert "datasheet peaks" in html  # the MFU denominator is printed, not only in a tooltip
    plain = traceflops.analyze(H100_SAMPLE).write(tmp_path / "plain")["report"].read_text()
    assert "% of measured ceiling" not in plain


def test_kernel_groups_carry_their_flags():
    from traceflops.outputs.report.tables import aggregate
    k = pd.DataFrame({"name": ["a", "a", "a", "b"], "dur_us": [1.0, 2.0, 3.0, 4.0], "flops": [1e9] * 4,
                      "bytes": [1e6] * 4, "roof_flag": ["suspect", None, "suspect", "cache_resident"]})
    g = aggregate(k, ["name"]).set_index("name")
    assert g.loc["a", "roof_flags"] == "suspect ×2" and g.loc["b", "roof_flags"] == "cache_resident ×1"

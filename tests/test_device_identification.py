"""Identification of every catalog GPU from Kineto `deviceProperties`: by the name drivers report, and, where ROCm
reports an empty or generic name (containers, SR-IOV, old drivers), from the gfx arch (HIP compute capability or
`gcnArchName`), CU count and memory. The shared traces' devices resolve as they did."""
import gzip
import json

import pytest

from traceflops.roofline.catalog import Devices, load_catalog, match_device

from .conftest import SHARED, needs_shared

G = 2 ** 30
CATALOG = load_catalog()

BY_NAME = [
    # (deviceProperties name, cc major, minor, SMs/CUs, memory bytes, catalog key)
    ("Tesla T4", 7, 5, 40, 15.6 * G, "t4"),
    ("NVIDIA L4", 8, 9, 58, 22.5 * G, "l4"),
    ("NVIDIA A10", 8, 6, 72, 22.5 * G, "a10"),
    ("NVIDIA A10G", 8, 6, 80, 22.5 * G, "a10g"),
    ("NVIDIA A40", 8, 6, 84, 44.5 * G, "a40"),
    ("NVIDIA L40", 8, 9, 142, 44.5 * G, "l40"),
    ("NVIDIA L40S", 8, 9, 142, 44.5 * G, "l40s"),
    ("NVIDIA GeForce RTX 3090", 8, 6, 82, 23.7 * G, "rtx-3090"),
    ("NVIDIA GeForce RTX 4090", 8, 9, 128, 23.6 * G, "rtx-4090"),
    ("NVIDIA GeForce RTX 5090", 12, 0, 170, 31.4 * G, "rtx-5090"),
    ("NVIDIA RTX A6000", 8, 6, 84, 47.5 * G, "rtx-a6000"),
    ("NVIDIA RTX 6000 Ada Generation", 8, 9, 142, 47.5 * G, "rtx-6000-ada"),
    ("NVIDIA A100-SXM4-40GB", 8, 0, 108, 39.4 * G, "a100-sxm4-40gb"),
    ("NVIDIA A100-SXM4-80GB", 8, 0, 108, 79.2 * G, "a100-sxm4-80gb"),
    ("NVIDIA A100-PCIE-40GB", 8, 0, 108, 39.4 * G, "a100-pcie-40gb"),
    ("NVIDIA A100 80GB PCIe", 8, 0, 108, 79.2 * G, "a100-pcie-80gb"),
    ("NVIDIA H100 80GB HBM3", 9, 0, 132, 79.1 * G, "h100-sxm"),
    ("NVIDIA H100 PCIe", 9, 0, 114, 79.1 * G, "h100-pcie"),
    ("NVIDIA H100 NVL", 9, 0, 132, 93.1 * G, "h100-nvl"),
    ("NVIDIA H200", 9, 0, 132, 139.8 * G, "h200"),
    ("NVIDIA GH200 480GB", 9, 0, 132, 94.5 * G, "gh200-96gb"),
    ("NVIDIA B200", 10, 0, 148, 178.4 * G, "b200"),
    ("NVIDIA B300 SXM6 AC", 10, 3, 148, 267.7 * G, "b300"),  # tracelens B300 traces
    ("NVIDIA GB200", 10, 0, 152, 184.0 * G, "gb200"),
    ("NVIDIA GB300", 10, 3, 160, 277.0 * G, "gb300"),
    ("NVIDIA GB10", 12, 1, 48, 119.7 * G, "gb10"),
    ("Tesla V100-SXM2-32GB", 7, 0, 80, 31.7 * G, "v100-sxm2-32gb"),  # hta/param V100 traces
    ("Tesla V100-SXM2-16GB", 7, 0, 80, 15.8 * G, "v100-sxm2-16gb"),
    ("AMD Instinct MI210", 9, 0, 104, 64 * G, "mi210"),
    ("AMD Instinct MI250X / MI250", 9, 0, 110, 64 * G, "mi250x"),  # one driver string for both: CUs decide
    ("AMD Instinct MI250X / MI250", 9, 0, 104, 64 * G, "mi250"),
    ("AMD Instinct MI300A", 9, 4, 228, 128 * G, "mi300a"),
    ("AMD Instinct MI300X", 9, 4, 304, 192 * G, "mi300x"),
    ("AMD Instinct MI300X VF", 9, 4, 304, 191 * G, "mi300x"),
    ("AMD Instinct MI325X", 9, 4, 304, 256 * G, "mi325x"),
    ("AMD Instinct MI350X", 9, 5, 256, 288 * G, "mi350x"),
    ("AMD Instinct MI355X", 9, 5, 256, 288 * G, "mi355x"),
]


@pytest.mark.parametrize("name, major, minor, sms, mem, key", BY_NAME, ids=[f"{c[0]}-{c[3]}" for c in BY_NAME])
def test_identified_by_name(name, major, minor, sms, mem, key):
    spec, _ = match_device({"name": name, "computeMajor": major, "computeMinor": minor, "numSms": sms,
                            "totalGlobalMem": int(mem)}, CATALOG)
    assert spec is not None and spec.key == key


ANONYMOUS = [
    # (props without a usable name, catalog key)
    ({"name": "", "computeMajor": 9, "computeMinor": 4, "numSms": 304, "totalGlobalMem": 206141652992}, "mi300x"),
    ({"name": "", "computeMajor": 9, "computeMinor": 4, "numSms": 304, "totalGlobalMem": 256 * G}, "mi325x"),
    ({"name": "", "computeMajor": 9, "computeMinor": 4, "numSms": 228, "totalGlobalMem": 128 * G}, "mi300a"),
    ({"name": "AMD Radeon Graphics", "computeMajor": 9, "computeMinor": 0, "numSms": 104,
      "totalGlobalMem": 68702699520}, "mi250"),  # hta/amd_trace MI250 (a GCD: 104 CUs, 64 GB)
    ({"name": "AMD Radeon Graphics", "computeMajor": 9, "computeMinor": 0, "numSms": 110, "totalGlobalMem": 64 * G},
     "mi250x"),
    ({"name": "", "computeMajor": 9, "computeMinor": 0, "numSms": 220, "totalGlobalMem": 128 * G}, "mi250x-oam"),
    # ROCm's gfx target instead of a name, or only in gcnArchName
    ({"name": "", "gcnArchName": "gfx942:sramecc+:xnack-", "numSms": 304, "totalGlobalMem": 206141652992}, "mi300x"),
    ({"name": "", "gcnArchName": "gfx942", "numSms": 228, "totalGlobalMem": 128 * G}, "mi300a"),
    ({"name": "gfx90a", "numSms": 104, "totalGlobalMem": 68702699520}, "mi250"),
    ({"name": "AMD Instinct", "computeMajor": 9, "computeMinor": 4, "numSms": 304, "totalGlobalMem": 206141652992},
     "mi300x"),
]


@pytest.mark.parametrize("props, key", ANONYMOUS, ids=[f"{p.get('name')!r}-{p['numSms']}" for p, _ in ANONYMOUS])
def test_identified_from_arch_cus_and_memory(props, key):
    spec, warning = match_device(props, CATALOG)
    assert spec is not None and spec.key == key
    assert "identified as" in warning  # the user is told how it was identified


def test_same_fingerprint_names_the_alternatives():
    """MI350X and MI355X share arch, CUs and memory: the pick says what else it could be."""
    spec, warning = match_device({"name": "", "gcnArchName": "gfx950", "numSms": 256, "totalGlobalMem": 288 * G},
                                 CATALOG)
    assert spec.key in ("mi350x", "mi355x") and "also consistent with" in warning


def test_unmatched_fingerprint_is_unknown_with_what_was_seen():
    spec, warning = match_device({"name": "", "computeMajor": 9, "computeMinor": 4, "numSms": 80,
                                  "totalGlobalMem": 64 * G}, CATALOG)
    assert spec is None
    assert "80 SMs/CUs" in warning and "--device" in warning


def _props(rel):
    p = SHARED / rel
    with (gzip.open(p, "rt") if p.name.endswith(".gz") else open(p)) as f:
        return json.load(f).get("deviceProperties")


@needs_shared
@pytest.mark.parametrize("rel, key", [
    ("tracelens/inference__vllm_decode_full__graph_execution.json.gz", "mi300x"),  # name '' x 8
    ("hta/amd_trace__mi250_minitoy_train_ROCm6_2_kineto.json.gz", "mi250"),  # 'AMD Radeon Graphics'
    ("tracelens/mi210__gpu_only_trace__gpu_only_trace.json.gz", "mi210"),
    ("tracelens/deepseek_r1__B300__1782843274.7730265-TP-0-DECODE.trace.json.gz", "b300"),
    ("hta/critical_path__alexnet__benchmark_result_2869224_1695835535_trace.json.gz", "a100-sxm4-40gb"),
    ("hta/with_gpu_user_annotation__step_based_trace_2543932.json.gz", "quadro-gp100"),
])
def test_shared_trace_devices(rel, key):
    props = _props(rel)
    specs, _ = Devices.load().resolve(props, [int(p.get("id", i)) for i, p in enumerate(props)])
    assert {s.key for s in specs.values()} == {key}

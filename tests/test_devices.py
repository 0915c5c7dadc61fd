"""Tests for the device catalog (traceflops/data/devices.csv) and the matcher (traceflops/roofline/catalog.py)."""
from __future__ import annotations

import csv
import gzip
import json
import math
import re
from pathlib import Path

import pytest

from traceflops.roofline.catalog import (
    NO_PROPS_WARNING, catalog_table, find_device, load_catalog, match_device, peak_for, resolve_devices,
)
from traceflops.roofline.spec import PEAK_KEYS, DeviceSpec

from .conftest import SHARED, SHARED_ROOT

TRACES = SHARED if SHARED is not None else Path("/nonexistent/shared/traces")
REFERENCE_CSV = (SHARED_ROOT or Path("/nonexistent/shared")) / "reference" / "gpu-specs.csv"
SKIP_TRACES = {"SOURCES.json", "flops_reference.json", "cpu_edge_INVALID_quotes_in_names.json"}


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _key(props, cat):
    spec, _ = match_device(props, cat)
    return spec.key if spec else None


# ---------------------------------------------------------------- catalog contents

REQUIRED = ["v100-sxm2-16gb", "v100-sxm2-32gb", "v100-pcie-16gb", "a100-sxm4-40gb", "a100-sxm4-80gb",
            "a100-pcie-40gb", "a100-pcie-80gb", "a10", "a10g", "l4", "l40s", "h100-sxm", "h100-pcie",
            "h100-nvl", "h100-96gb", "h200", "h20", "gh200-96gb", "b200", "b300", "gb200", "rtx-4090",
            "rtx-2080-ti", "quadro-gp100", "mi210", "mi250x", "mi250x-oam", "mi250", "mi250-oam",
            "mi300x", "mi325x", "mi355x"]


def test_required_devices_present(cat):
    missing = [k for k in REQUIRED if k not in cat]
    assert not missing


def test_every_row_is_sourced_and_sane(cat):
    for s in cat.values():
        assert isinstance(s, DeviceSpec)
        assert re.search(r"https?://", s.source), s.key
        assert s.vendor in ("NVIDIA", "AMD"), s.key
        assert s.peak_tflops and set(s.peak_tflops) <= set(PEAK_KEYS), s.key
        assert s.peak_tbps and 0.1 < s.peak_tbps < 20, s.key
        assert s.sms and s.memory_gb, s.key
        assert s.max_achievable == {}
        p = s.peak_tflops
        # dense tensor peaks must not be below the vector rate, and no fp16 > fp8 > fp4 inversions
        if "bf16" in p:
            assert p["bf16"] >= p["fp32"] * 0.99, s.key
        if "fp8" in p and "fp16" in p:
            assert p["fp8"] >= p["fp16"], s.key
        if "fp4" in p and "fp8" in p:
            assert p["fp4"] >= p["fp8"], s.key


def test_h100_sxm_is_dense_not_sparse(cat):
    h = cat["h100-sxm"]
    assert h.peak_tflops["bf16"] == pytest.approx(989.4)
    assert h.peak_tflops["fp8"] == pytest.approx(1978.9)
    assert h.peak_tflops["tf32"] == pytest.approx(494.7)
    assert h.peak_tbps == pytest.approx(3.35)


def test_dense_peaks_known_values(cat):
    assert cat["a100-sxm4-40gb"].peak_tflops["bf16"] == 312
    assert "fp8" not in cat["a100-sxm4-40gb"].peak_tflops
    assert cat["mi300x"].peak_tflops["bf16"] == pytest.approx(1307.4)
    assert cat["b200"].peak_tflops["bf16"] == 2250
    assert cat["l4"].peak_tflops["bf16"] == 121  # datasheet 242 is sparse
    assert "bf16" not in cat["v100-sxm2-32gb"].peak_tflops
    # a GCD is half an MI250 / MI250X package
    for gcd, pkg in (("mi250", "mi250-oam"), ("mi250x", "mi250x-oam")):
        for k, v in cat[gcd].peak_tflops.items():
            assert v == pytest.approx(cat[pkg].peak_tflops[k] / 2, rel=0.01), (gcd, k)
        assert cat[gcd].sms * 2 == cat[pkg].sms
        assert cat[gcd].peak_tbps * 2 == pytest.approx(cat[pkg].peak_tbps)


def test_catalog_loads_via_importlib_resources():
    from importlib import resources
    text = resources.files("traceflops").joinpath("data/devices.csv").read_text()
    assert text.startswith("key,")


# Reference device label -> catalog key(s)
REF_MAP = {
    "NVIDIA V100 SXM2 (16/32GB)": ["v100-sxm2-16gb", "v100-sxm2-32gb"],
    "NVIDIA A100 SXM4 40GB": ["a100-sxm4-40gb"], "NVIDIA A100 SXM4 80GB": ["a100-sxm4-80gb"],
    "NVIDIA A100 PCIe 80GB": ["a100-pcie-80gb"], "NVIDIA A10G (AWS)": ["a10g"], "NVIDIA A10": ["a10"],
    "NVIDIA L4": ["l4"], "NVIDIA L40S": ["l40s"], "NVIDIA H100 SXM5 80GB": ["h100-sxm"],
    "NVIDIA H100 PCIe": ["h100-pcie"], "NVIDIA H100 NVL (per GPU)": ["h100-nvl"],
    "NVIDIA H200 SXM 141GB": ["h200"], "NVIDIA H20": ["h20"],
    "NVIDIA GH200 (Hopper GPU)": ["gh200-96gb", "gh200-144gb"], "NVIDIA B200 (HGX)": ["b200"],
    "NVIDIA GB200 (per Blackwell GPU)": ["gb200"], "NVIDIA GeForce RTX 4090": ["rtx-4090"],
    "AMD Instinct MI250X (per GCD = one torch device)": ["mi250x"],
    "AMD Instinct MI250X (full OAM, 2 GCDs)": ["mi250x-oam"], "AMD Instinct MI300X": ["mi300x"],
    "AMD Instinct MI325X": ["mi325x"], "AMD Instinct MI355X": ["mi355x"],
}
REF_COLS = {"fp64": "fp64", "fp64_tensor": "fp64_tc", "fp32": "fp32", "tf32": "tf32", "bf16": "bf16",
            "fp16": "fp16", "fp8": "fp8", "int8": "int8", "fp4": "fp4"}


def _alts(cell: str) -> list[float]:
    return [float(x) for x in cell.split("|") if x.strip()] if cell and cell.strip() else []


@pytest.mark.skipif(not REFERENCE_CSV.exists(), reason="shared reference gpu-specs.csv not present")
def test_cross_check_against_reference(cat):
    with open(REFERENCE_CSV, newline="") as fh:
        ref = list(csv.DictReader(fh))
    assert {r["device"] for r in ref} == set(REF_MAP), "reference rows changed: update REF_MAP"
    compared = 0
    problems = []
    for r in ref:
        for key in REF_MAP[r["device"]]:
            s = cat[key]
            ours = {**s.peak_tflops, "hbm_tbps": s.peak_tbps, "mem_gb": s.memory_gb, "sms": s.sms}
            checks = {**{c: REF_COLS[c] for c in REF_COLS}, "hbm_tbps": "hbm_tbps", "mem_gb": "mem_gb",
                      "sms": "sms"}
            for rc, oc in checks.items():
                alts = _alts(r[rc])
                if not alts or ours.get(oc) is None:
                    continue
                compared += 1
                if not any(math.isclose(ours[oc], a, rel_tol=0.01) for a in alts):
                    problems.append(f"{key}.{oc}={ours[oc]} vs reference {r[rc]}")
            m = re.search(r"L2=(\d+(?:\.\d+)?)\s*MB", r["source_notes"])
            if m and s.vendor == "NVIDIA" and s.l2_mb is not None:  # AMD: we store Infinity Cache
                compared += 1
                if not math.isclose(s.l2_mb, float(m.group(1)), rel_tol=0.01):
                    problems.append(f"{key}.l2_mb={s.l2_mb} vs reference {m.group(1)}")
            if r["compute_capability"].strip():
                cc = r["compute_capability"].split()[0]
                compared += 1
                if s.compute_capability != cc:
                    problems.append(f"{key}.compute_capability={s.compute_capability} vs {cc}")
    assert compared > 200
    assert not problems, problems


# ---------------------------------------------------------------- name matching

@pytest.mark.parametrize("name,key", [
    ("NVIDIA A10", "a10"),
    ("NVIDIA A10G", "a10g"),
    ("NVIDIA A100-SXM4-80GB", "a100-sxm4-80gb"),
    ("NVIDIA A100-SXM4-40GB", "a100-sxm4-40gb"),
    ("A100-SXM4-40GB", "a100-sxm4-40gb"),  # old drivers omit "NVIDIA "
    ("NVIDIA A100-PG509-200", "a100-sxm4-40gb"),
    ("NVIDIA A100-PCIE-40GB", "a100-pcie-40gb"),
    ("NVIDIA A100 80GB PCIe", "a100-pcie-80gb"),
    ("NVIDIA L4", "l4"),
    ("NVIDIA L40S", "l40s"),
    ("NVIDIA H100 80GB HBM3", "h100-sxm"),
    ("H100 80GB HBM3", "h100-sxm"),
    ("NVIDIA H100 PCIe", "h100-pcie"),
    ("NVIDIA H100 NVL", "h100-nvl"),
    ("NVIDIA H100", "h100-96gb"),
    ("NVIDIA H200", "h200"),
    ("NVIDIA H200 NVL", "h200-nvl"),
    ("NVIDIA H20", "h20"),
    ("NVIDIA GH200 480GB", "gh200-96gb"),
    ("NVIDIA GH200 144G HBM3e", "gh200-144gb"),
    ("NVIDIA B200", "b200"),
    ("NVIDIA B300 SXM6 AC", "b300"),
    ("NVIDIA GB200", "gb200"),
    ("NVIDIA GeForce RTX 4090", "rtx-4090"),
    ("NVIDIA GeForce RTX 2080 Ti", "rtx-2080-ti"),
    ("Quadro GP100", "quadro-gp100"),
    ("Tesla V100-SXM2-32GB", "v100-sxm2-32gb"),
    ("Tesla V100-SXM2-16GB", "v100-sxm2-16gb"),
    ("Tesla V100-PCIE-32GB", "v100-pcie-32gb"),
    ("AMD Instinct MI210", "mi210"),
    ("AMD Instinct MI300X", "mi300x"),
    ("AMD Instinct MI300X VF", "mi300x"),
    ("AMD Instinct MI325X", "mi325x"),
    ("AMD Instinct MI355X", "mi355x"),
    ("AMD Instinct MI250X", "mi250x"),
])
def test_name_variants(cat, name, key):
    assert _key({"name": name}, cat) == key


def test_a10_a100_l4_l40s_traps_are_exact(cat):
    assert _key({"name": "NVIDIA A10"}, cat) != _key({"name": "NVIDIA A100-SXM4-40GB"}, cat)
    assert _key({"name": "NVIDIA L40"}, cat) == "l40"  # its own row: not L4, not L40S
    assert _key({"name": "NVIDIA A10M"}, cat) is None


def test_mig_maps_to_full_gpu_with_warning(cat):
    spec, w = match_device({"name": "NVIDIA A100-SXM4-40GB MIG 1g.5gb", "numSms": 14,
                            "totalGlobalMem": 4_972_937_216}, cat)
    assert spec.key == "a100-sxm4-40gb"
    assert "MIG" in w and "full" in w
    spec, w = match_device({"name": "NVIDIA H100 80GB HBM3 MIG 3g.40gb"}, cat)
    assert spec.key == "h100-sxm" and "MIG" in w


def test_amd_vf_suffix_same_silicon(cat):
    spec, w = match_device({"name": "AMD Instinct MI300X VF", "numSms": 304,
                            "totalGlobalMem": 205571227648, "computeMajor": 9, "computeMinor": 4}, cat)
    assert spec.key == "mi300x" and w is None


def test_mi250x_mi250_shared_name_resolved_by_cus(cat):
    assert _key({"name": "AMD Instinct MI250X / MI250", "numSms": 110}, cat) == "mi250x"
    assert _key({"name": "AMD Instinct MI250X / MI250", "numSms": 104}, cat) == "mi250"


def test_radeon_graphics_104_cus_is_mi250_gcd(cat):
    props = {"name": "AMD Radeon Graphics", "computeMajor": 9, "computeMinor": 0, "numSms": 104,
             "totalGlobalMem": 68702699520, "warpSize": 64}
    spec, w = match_device(props, cat)
    assert spec.key == "mi250"
    assert "AMD Radeon Graphics" in w and "MI210" in w  # says it was inferred, names the look-alike


def test_empty_name_falls_back_to_fingerprint(cat):
    props = {"name": "", "computeMajor": 9, "computeMinor": 4, "numSms": 304, "totalGlobalMem": 206141652992}
    spec, w = match_device(props, cat)
    assert spec.key == "mi300x" and "empty device name" in w
    # 256 GB with the same die is an MI325X, not an MI300X
    props["totalGlobalMem"] = 256 * 2**30
    assert _key(props, cat) == "mi325x"
    # a fingerprint nothing matches -> explicit unknown
    spec, w = match_device({"name": "", "computeMajor": 12, "computeMinor": 0, "numSms": 999}, cat)
    assert spec is None and "unknown device" in w


def test_unknown_name_gives_clear_warning(cat):
    spec, w = match_device({"name": "NVIDIA L20", "computeMajor": 9, "computeMinor": 0, "numSms": 132}, cat)
    assert spec is None
    assert "NVIDIA L20" in w and "unknown device" in w
    spec, w = match_device({"name": "ARTEMIS"}, cat)
    assert spec is None and "ARTEMIS" in w
    assert match_device(None, cat) == (None, NO_PROPS_WARNING)


def test_prefix_match_warns(cat):
    spec, w = match_device({"name": "NVIDIA B300 SXM6 XYZ"}, cat)
    assert spec.key == "b300" and "prefix" in w


def test_bare_h100_sku_warns(cat):
    spec, w = match_device({"name": "NVIDIA H100", "numSms": 132, "totalGlobalMem": 102085492736}, cat)
    assert spec.key == "h100-96gb"
    assert "non-standard" in w
    assert spec.peak_tflops["bf16"] == pytest.approx(989.4) and spec.peak_tbps == pytest.approx(2.4)


# ---------------------------------------------------------------- resolve_devices

def _props(i, name, **kw):
    return {"id": i, "name": name, **kw}


def test_resolve_uses_matching_id_not_first(cat):
    props = [_props(0, "NVIDIA A10"), _props(1, "NVIDIA H100 80GB HBM3")]
    out, w = resolve_devices(props, [1], cat)
    assert out[1].key == "h100-sxm"
    out, w = resolve_devices(props, [0, 1], cat)
    assert out[0].key == "a10" and out[1].key == "h100-sxm"


def test_resolve_unlisted_id_same_type(cat):
    props = [_props(0, "AMD Instinct MI300X", numSms=304)]
    out, w = resolve_devices(props, [2, 5], cat)
    assert out[2].key == "mi300x" and out[5].key == "mi300x"
    assert any("not listed" in x for x in w)


def test_resolve_unlisted_id_mixed_types_is_unknown(cat):
    props = [_props(0, "NVIDIA A10"), _props(1, "NVIDIA L4")]
    out, w = resolve_devices(props, [3], cat)
    assert out[3] is None and any("pass --device" in x for x in w)


def test_resolve_no_props(cat):
    out, w = resolve_devices([], [0, 1], cat)
    assert out == {0: None, 1: None}
    assert w == [NO_PROPS_WARNING]
    out, w = resolve_devices(None, [0], cat)
    assert out == {0: None} and w == [NO_PROPS_WARNING]


def test_override(cat):
    out, w = resolve_devices([], [0, 3], cat, override="H100 SXM")
    assert out[0].key == "h100-sxm" and out[3].key == "h100-sxm"
    for q, key in (("h100", "h100-sxm"), ("mi300x", "mi300x"), ("MI300X", "mi300x"),
                   ("NVIDIA H100 80GB HBM3", "h100-sxm"), ("b200", "b200"), ("rtx 4090", "rtx-4090")):
        assert find_device(q, cat)[0].key == key, q
    # override applies to every device, even listed ones, and says so
    out, w = resolve_devices([_props(0, "NVIDIA A10")], [0], cat, override="l4")
    assert out[0].key == "l4" and any("overrides" in x for x in w)


def test_unknown_override_raises_with_close_keys(cat):
    with pytest.raises(ValueError, match="h100"):
        resolve_devices([], [0], cat, override="h1000")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_devices([], [0], cat, override="tpu-v5e")


# ---------------------------------------------------------------- peaks

def test_peak_for(cat):
    h = cat["h100-sxm"]
    assert peak_for(h, "bf16", True) == pytest.approx(989.4)
    assert peak_for(h, "fp16", True) == pytest.approx(989.4)
    assert peak_for(h, "fp8", True) == pytest.approx(1978.9)
    assert peak_for(h, "tf32", True) == pytest.approx(494.7)
    assert peak_for(h, "fp32", True) == pytest.approx(66.9)   # fp32 GEMM without TF32 -> vector
    assert peak_for(h, "fp64", True) == pytest.approx(66.9)   # fp64 tensor core
    assert peak_for(h, "fp64", False) == pytest.approx(33.5)
    assert peak_for(h, "bf16", False) == pytest.approx(66.9)  # pointwise runs on vector units
    assert peak_for(h, "fp4", True) is None                   # Hopper has no FP4
    assert peak_for(h, "complex64", True) is None
    assert peak_for(h, None, True) is None
    v = cat["v100-sxm2-32gb"]
    assert peak_for(v, "fp64", True) == pytest.approx(7.8)    # no FP64 tensor cores -> vector
    assert peak_for(v, "bf16", True) is None
    assert peak_for(v, "tf32", True) == pytest.approx(15.7)   # no TF32 on Volta -> fp32
    assert peak_for(cat["b200"], "fp4", True) == 9000


def test_catalog_table(cat):
    rows = catalog_table(cat)
    assert len(rows) == len(cat)
    cols = {"key", "name", "arch", "sms", "memory", "bf16", "fp16", "fp8", "fp32", "tf32", "fp64", "hbm_tbps"}
    assert all(set(r) == cols for r in rows)
    h = next(r for r in rows if r["key"] == "h100-sxm")
    assert h["bf16"] == pytest.approx(989.4) and h["memory"] == 80 and h["hbm_tbps"] == pytest.approx(3.35)


# ---------------------------------------------------------------- user device file

def test_device_file_yaml_adds_device_and_ceiling(tmp_path):
    f = tmp_path / "devs.yaml"
    f.write_text(
        "devices:\n"
        "  - key: h100-sxm\n"
        "    max_achievable: {bf16: 720, tbps: 2.9}\n"
        "  - key: my-gpu\n"
        "    name: Lab GPU X1\n"
        "    vendor: NVIDIA\n"
        "    aliases: [NVIDIA Lab X1]\n"
        "    sms: 100\n"
        "    memory_gb: 48\n"
        "    peak_tflops: {bf16: 400, fp32: 50}\n"
        "    hbm_tbps: 1.5\n"
        "    max_achievable: {bf16: 300}\n")
    cat = load_catalog(f)
    h = cat["h100-sxm"]
    assert h.max_achievable == {"bf16": 720.0, "tbps": 2.9}
    assert h.peak_tflops["bf16"] == pytest.approx(989.4)  # peaks untouched
    x = cat["my-gpu"]
    assert x.peak_tflops == {"bf16": 400.0, "fp32": 50.0} and x.peak_tbps == 1.5 and x.sms == 100
    assert x.max_achievable == {"bf16": 300.0} and "devs.yaml" in x.source
    assert _key({"name": "NVIDIA Lab X1"}, cat) == "my-gpu"
    assert load_catalog()["h100-sxm"].max_achievable == {}  # built-in catalog not mutated


def test_device_file_json(tmp_path):
    f = tmp_path / "devs.json"
    f.write_text(json.dumps({"devices": [
        {"key": "mi300x", "max_achievable": {"bf16": 708, "fp8": 1273}},
        {"key": "toy", "name": "Toy", "bf16": 10, "hbm_tbps": 0.5}]}))
    cat = load_catalog(f)
    assert cat["mi300x"].max_achievable == {"bf16": 708.0, "fp8": 1273.0}
    assert cat["toy"].peak_tflops == {"bf16": 10.0}


@pytest.mark.parametrize("content,suffix", [
    ("devices: [\n  - key: x\n", ".yaml"),                                   # broken YAML
    ("{not json", ".json"),                                                   # broken JSON
    ("devices: []\n", ".yaml"),                                               # empty
    ("devices:\n  - name: no key\n    bf16: 1\n", ".yaml"),                    # no key
    ("devices:\n  - key: h100-sxm\n    max_achievable: {bf16: 1.2e15}\n", ".yaml"),  # FLOP/s not TFLOP/s
    ("devices:\n  - key: h100-sxm\n    max_achievable: {bogus: 1}\n", ".yaml"),
    ("devices:\n  - key: new\n    name: N\n", ".yaml"),                      # new device without peaks
    ("devices:\n  - key: new\n    bf16: -3\n", ".yaml"),
    ("devices:\n  - key: new\n    bf16: 3\n    colour: red\n", ".yaml"),
])
def test_bad_device_file_raises_value_error(tmp_path, content, suffix):
    f = tmp_path / f"bad{suffix}"
    f.write_text(content)
    with pytest.raises(ValueError) as ei:
        load_catalog(f)
    assert "\n" not in str(ei.value)


def test_missing_device_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_catalog(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- real shared traces

def _load_trace(p: Path):
    import orjson
    b = p.read_bytes()
    if p.suffix == ".gz":
        b = gzip.decompress(b)
    return orjson.loads(b)


EXPECTED_BY_NAME = {  # every GPU name that appears in the shared traces
    "NVIDIA A100-PG509-200": "a100-sxm4-40gb", "NVIDIA A100-SXM4-80GB": "a100-sxm4-80gb",
    "Tesla V100-SXM2-32GB": "v100-sxm2-32gb", "Quadro GP100": "quadro-gp100", "NVIDIA H100": "h100-96gb",
    "NVIDIA GeForce RTX 2080 Ti": "rtx-2080-ti", "AMD Instinct MI300X": "mi300x",
    "AMD Instinct MI300X VF": "mi300x", "NVIDIA B300 SXM6 AC": "b300", "NVIDIA H100 80GB HBM3": "h100-sxm",
    "AMD Instinct MI210": "mi210", "AMD Radeon Graphics": "mi250", "": "mi300x", "ARTEMIS": None,
}


def _trace_files():
    if not TRACES.is_dir():
        return []
    return sorted(p for p in TRACES.rglob("*.json*") if p.name not in SKIP_TRACES)


@pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not present")
def test_every_shared_trace_gets_right_device_or_explicit_unknown(cat):
    seen, checked = set(), 0
    for p in _trace_files():
        d = _load_trace(p)
        if not isinstance(d, dict):
            continue
        props = d.get("deviceProperties")
        ids = sorted({e.get("args", {}).get("device") for e in d.get("traceEvents", [])
                      if isinstance(e, dict) and e.get("cat") == "kernel"} - {None})
        for entry in props or []:
            name = entry.get("name", "")
            assert name in EXPECTED_BY_NAME, f"{p.name}: new GPU name {name!r}: add it to the test"
            spec, w = match_device(entry, cat)
            want = EXPECTED_BY_NAME[name]
            assert (spec.key if spec else None) == want, (p.name, name)
            if want is None:
                assert w and "unknown device" in w and name in w
            seen.add(name)
        out, warns = resolve_devices(props or [], ids, cat)
        assert set(out) == set(ids)
        for did, spec in out.items():
            if not props:
                assert spec is None and NO_PROPS_WARNING in warns
            else:
                names = {e.get("name", "") for e in props}
                assert len(names) == 1
                assert (spec.key if spec else None) == EXPECTED_BY_NAME[names.pop()], (p.name, did)
            checked += 1
    assert checked >= 40
    assert seen == set(EXPECTED_BY_NAME), set(EXPECTED_BY_NAME) - seen

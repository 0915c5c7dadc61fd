"""dtype_bytes / compute_dtype, including every Input type string found in the shared traces."""
import gzip
import os
from pathlib import Path

import orjson
import pytest

from traceflops.kernels import compute_dtype, dtype_bytes

NON_TENSOR = {"Scalar", "ScalarList", "TensorList", "GenericList", ""}


def _traces_dir():
    from .conftest import SHARED
    return SHARED


def test_known_types():
    assert dtype_bytes("float") == 4 and compute_dtype("float") == "fp32"
    assert dtype_bytes("double") == 8 and compute_dtype("double") == "fp64"
    assert dtype_bytes("c10::Half") == 2 and compute_dtype("c10::Half") == "fp16"
    assert dtype_bytes("c10::BFloat16") == 2 and compute_dtype("c10::BFloat16") == "bf16"
    for t in ("c10::Float8_e4m3fn", "c10::Float8_e4m3fnuz", "c10::Float8_e5m2"):
        assert dtype_bytes(t) == 1 and compute_dtype(t) == "fp8"
    assert dtype_bytes("c10::Float4_e2m1fn_x2") == 1 and compute_dtype("c10::Float4_e2m1fn_x2") == "fp4"
    assert dtype_bytes("long int") == 8 and dtype_bytes("int") == 4 and dtype_bytes("short int") == 2
    assert dtype_bytes("signed char") == 1 and dtype_bytes("unsigned char") == 1 and dtype_bytes("bool") == 1
    assert dtype_bytes("c10::complex<float>") == 8 and compute_dtype("c10::complex<float>") == "complex64"
    for t in NON_TENSOR | {"nonsense", None, 3}:
        assert dtype_bytes(t) is None and compute_dtype(t) is None


def test_every_type_in_shared_traces():
    root = _traces_dir()
    if root is None:
        pytest.skip("shared traces not present")
    seen = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            if "INVALID" in f or not f.endswith((".json", ".json.gz")):
                continue
            p = Path(dirpath) / f
            raw = gzip.open(p).read() if f.endswith(".gz") else p.read_bytes()
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            events = doc.get("traceEvents", []) if isinstance(doc, dict) else doc
            for e in events:
                if isinstance(e, dict) and isinstance(e.get("args"), dict):
                    for t in e["args"].get("Input type") or []:
                        if isinstance(t, str):
                            seen.add(t)
    assert "float" in seen and "c10::BFloat16" in seen
    unknown = sorted(t for t in seen - NON_TENSOR if dtype_bytes(t) is None or compute_dtype(t) is None)
    assert not unknown, unknown

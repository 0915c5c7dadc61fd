"""Element sizes and compute-dtype names for the `Input type` strings Kineto records.

Kineto writes caffe2 TypeMeta names ('float', 'c10::BFloat16', 'long int', ...). Older
traces (and some fbgemm ops) also use short C names ('long', 'unsigned int').
Non-tensor markers ('Scalar', 'ScalarList', 'TensorList', '') have no element size.
"""
from __future__ import annotations

# type string -> (bytes per element, compute dtype name)
_TYPES: dict[str, tuple[float, str]] = {
    "double": (8, "fp64"),
    "float": (4, "fp32"),
    "c10::Half": (2, "fp16"),
    "c10::BFloat16": (2, "bf16"),
    "c10::Float8_e4m3fn": (1, "fp8"),
    "c10::Float8_e4m3fnuz": (1, "fp8"),
    "c10::Float8_e5m2": (1, "fp8"),
    "c10::Float8_e5m2fnuz": (1, "fp8"),
    "c10::Float8_e8m0fnu": (1, "fp8"),
    # two fp4 values share one byte
    "c10::Float4_e2m1fn_x2": (0.5, "fp4"),
    "c10::complex<float>": (8, "complex64"),
    "c10::complex<double>": (16, "complex128"),
    "c10::complex<c10::Half>": (4, "complex32"),
    "long int": (8, "int64"),
    "long": (8, "int64"),
    "long long": (8, "int64"),
    "int64_t": (8, "int64"),
    "unsigned long": (8, "int64"),
    "int": (4, "int32"),
    "unsigned int": (4, "int32"),
    "short int": (2, "int16"),
    "short": (2, "int16"),
    "unsigned short": (2, "int16"),
    "signed char": (1, "int8"),
    "unsigned char": (1, "int8"),
    "c10::qint8": (1, "int8"),
    "c10::quint8": (1, "int8"),
    "c10::qint32": (4, "int32"),
    "bool": (1, "bool"),
}

NON_TENSOR = frozenset({"Scalar", "ScalarList", "TensorList", "GenericList", ""})

# torch ScalarType enum codes, as they appear in Concrete Inputs for `dtype=` args
SCALAR_TYPE_CODES: dict[int, str] = {
    0: "unsigned char", 1: "signed char", 2: "short int", 3: "int", 4: "long int",
    5: "c10::Half", 6: "float", 7: "double", 8: "c10::complex<c10::Half>",
    9: "c10::complex<float>", 10: "c10::complex<double>", 11: "bool", 15: "c10::BFloat16",
    23: "c10::Float8_e5m2", 24: "c10::Float8_e4m3fn", 25: "c10::Float8_e5m2fnuz",
    26: "c10::Float8_e4m3fnuz", 44: "c10::Float8_e8m0fnu", 45: "c10::Float4_e2m1fn_x2",
}

# record_param_comms `dtype` arg (c10::toString(ScalarType)) -> Input type string
COMM_DTYPES: dict[str, str] = {
    "Float": "float", "Double": "double", "Half": "c10::Half", "BFloat16": "c10::BFloat16",
    "Byte": "unsigned char", "Char": "signed char", "Short": "short int", "Int": "int",
    "Long": "long int", "Bool": "bool", "Float8_e4m3fn": "c10::Float8_e4m3fn",
    "Float8_e5m2": "c10::Float8_e5m2", "Float8_e4m3fnuz": "c10::Float8_e4m3fnuz",
    "Float8_e5m2fnuz": "c10::Float8_e5m2fnuz", "ComplexFloat": "c10::complex<float>",
}

# promotion order inside each kind; a later kind wins (bool < int < float < complex)
_KIND_RANK = {"bool": 0, "int": 1, "float": 2, "complex": 3}


def dtype_bytes(type_str) -> int | float | None:
    """Bytes per element for an `Input type` string; None for non-tensors and unknown names."""
    entry = _TYPES.get(type_str) if isinstance(type_str, str) else None
    return entry[0] if entry else None


def compute_dtype(type_str) -> str | None:
    """The dtype-vocabulary name ('bf16', 'fp32', 'int64', ...) of an `Input type` string."""
    entry = _TYPES.get(type_str) if isinstance(type_str, str) else None
    return entry[1] if entry else None


def comm_type(comm_dtype) -> str | None:
    """Map a collective's `dtype` arg ('Float', 'BFloat16', ...) to an `Input type` string."""
    if not isinstance(comm_dtype, str):
        return None
    if comm_dtype in _TYPES:
        return comm_dtype
    return COMM_DTYPES.get(comm_dtype)


def _kind(type_str: str) -> str:
    name = _TYPES[type_str][1]
    if name == "bool":
        return "bool"
    if name.startswith("int"):
        return "int"
    if name.startswith("complex"):
        return "complex"
    return "float"


def promote(type_strs) -> str | None:
    """Result type of a pointwise op over tensors with these types (torch-like, by kind then size).

    Mixed float types of equal size (fp16 with bf16) promote to float in torch; that is kept.
    """
    best = None
    for t in type_strs:
        if t not in _TYPES:
            continue
        if best is None:
            best = t
            continue
        kb, kt = _KIND_RANK[_kind(best)], _KIND_RANK[_kind(t)]
        if kt > kb or (kt == kb and _TYPES[t][0] > _TYPES[best][0]):
            best = t
        elif kt == kb and _TYPES[t][0] == _TYPES[best][0] and t != best and kt == 2:
            best = "float"
    return best

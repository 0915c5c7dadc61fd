"""Element sizes and compute-dtype names for the `Input type` strings Kineto records, in every spelling.

Kineto writes caffe2 TypeMeta names, which come from the compiler's pretty function name: GCC builds (every
Linux wheel) give 'float', 'long int', 'short unsigned int', 'c10::BFloat16', 'c10::dummy_uint1_7_t<1>';
clang builds 'long', 'unsigned short'; MSVC '__int64'. Other writers and the collective `dtype` arg use the
ScalarType names ('Float', 'c10::Float', 'at::kFloat') or torch's ('torch.float32', 'bfloat16'); `canonical`
maps all of them to one spelling. Torch 1.9-1.12 typed non-tensor inputs by their IValue tag ('Int',
'Double', 'Bool', 'IntList', 'GenericList', ...): those are not tensors (a bare 'Int' or 'Double' is that
tag, never a dtype; the prefixed 'c10::Int' is the dtype).
Non-tensor markers ('Scalar', 'ScalarList', 'TensorList', '') have no element size.
"""
from __future__ import annotations

from functools import lru_cache

# canonical type string -> (bytes per element, compute dtype name)
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
    # one element of float4_e2m1fn_x2 holds two fp4 values in one byte (element_size() == 1): shapes count
    # the packed elements, so a byte per element
    "c10::Float4_e2m1fn_x2": (1, "fp4"),
    "c10::complex<float>": (8, "complex64"),
    "c10::complex<double>": (16, "complex128"),
    "c10::complex<c10::Half>": (4, "complex32"),
    "long int": (8, "int64"),
    "long unsigned int": (8, "int64"),
    "int": (4, "int32"),
    "unsigned int": (4, "int32"),
    "short int": (2, "int16"),
    "short unsigned int": (2, "int16"),
    "signed char": (1, "int8"),
    "unsigned char": (1, "int8"),
    "c10::qint8": (1, "int8"),
    "c10::quint8": (1, "int8"),
    "c10::qint32": (4, "int32"),
    "c10::quint4x2": (1, "int8"),
    "c10::quint2x4": (1, "int8"),
    "c10::bits1x8": (1, "int8"),
    "c10::bits2x4": (1, "int8"),
    "c10::bits4x2": (1, "int8"),
    "c10::bits8": (1, "int8"),
    "c10::bits16": (2, "int16"),
    "bool": (1, "bool"),
}
# other compilers' spellings of the same C types
_C_ALIASES = {
    "long": "long int", "long long": "long int", "long long int": "long int", "int64_t": "long int",
    "__int64": "long int", "unsigned long": "long unsigned int", "unsigned long int": "long unsigned int",
    "unsigned long long": "long unsigned int", "uint64_t": "long unsigned int", "unsigned __int64": "long unsigned int",
    "int32_t": "int", "unsigned": "unsigned int", "uint32_t": "unsigned int",
    "short": "short int", "int16_t": "short int", "unsigned short": "short unsigned int",
    "unsigned short int": "short unsigned int", "uint16_t": "short unsigned int",
    "char": "signed char", "int8_t": "signed char", "uint8_t": "unsigned char", "_Bool": "bool",
    "c10::complex<c10::BFloat16>": "c10::complex<c10::Half>",
}
# ScalarType names (c10::toString) and torch names, matched case-insensitively after any c10::/at::/torch. prefix
_NAMES = {
    "float": "float", "float32": "float", "double": "double", "float64": "double", "half": "c10::Half",
    "float16": "c10::Half", "bfloat16": "c10::BFloat16", "long": "long int", "int64": "long int",
    "int": "int", "int32": "int", "short": "short int", "int16": "short int", "char": "signed char",
    "int8": "signed char", "byte": "unsigned char", "uint8": "unsigned char", "bool": "bool",
    "uint16": "short unsigned int", "uint32": "unsigned int", "uint64": "long unsigned int",
    "complexfloat": "c10::complex<float>", "complex64": "c10::complex<float>", "cfloat": "c10::complex<float>",
    "complexdouble": "c10::complex<double>", "complex128": "c10::complex<double>", "cdouble": "c10::complex<double>",
    "complexhalf": "c10::complex<c10::Half>", "complex32": "c10::complex<c10::Half>",
    "chalf": "c10::complex<c10::Half>",
    "float8_e4m3fn": "c10::Float8_e4m3fn", "float8_e4m3fnuz": "c10::Float8_e4m3fnuz",
    "float8_e5m2": "c10::Float8_e5m2", "float8_e5m2fnuz": "c10::Float8_e5m2fnuz",
    "float8_e8m0fnu": "c10::Float8_e8m0fnu", "float4_e2m1fn_x2": "c10::Float4_e2m1fn_x2",
    "qint8": "c10::qint8", "quint8": "c10::quint8", "qint32": "c10::qint32", "quint4x2": "c10::quint4x2",
    "quint2x4": "c10::quint2x4", "bits1x8": "c10::bits1x8", "bits2x4": "c10::bits2x4", "bits4x2": "c10::bits4x2",
    "bits8": "c10::bits8", "bits16": "c10::bits16",
}

# Non-tensor markers: the 2.x encoder's, and the IValue tags torch 1.9-1.12 wrote for non-tensor inputs.
NON_TENSOR = frozenset({"Scalar", "ScalarList", "TensorList", "GenericList", "", "Int", "Double", "Bool",
                        "IntList", "DoubleList", "BoolList", "String", "None", "Device", "Tuple", "Object",
                        "Generator", "Stream", "Storage", "ComplexDouble", "SymInt", "SymFloat", "SymBool",
                        "Enum", "Capsule", "Future", "Quantizer", "Blob", "RRef", "Await", "PyObject", "Uninitialized",
                        "TensorList?", "ListType", "List", "Optional"})

# torch ScalarType enum codes, as Concrete Inputs record `dtype=` args (checked on torch 2.13)
SCALAR_TYPE_CODES: dict[int, str] = {
    0: "unsigned char", 1: "signed char", 2: "short int", 3: "int", 4: "long int",
    5: "c10::Half", 6: "float", 7: "double", 8: "c10::complex<c10::Half>",
    9: "c10::complex<float>", 10: "c10::complex<double>", 11: "bool", 12: "c10::qint8", 13: "c10::quint8",
    14: "c10::qint32", 15: "c10::BFloat16", 16: "c10::quint4x2", 17: "c10::quint2x4", 18: "c10::bits1x8",
    19: "c10::bits2x4", 20: "c10::bits4x2", 21: "c10::bits8", 22: "c10::bits16",
    23: "c10::Float8_e5m2", 24: "c10::Float8_e4m3fn", 25: "c10::Float8_e5m2fnuz",
    26: "c10::Float8_e4m3fnuz", 27: "short unsigned int", 28: "unsigned int", 29: "long unsigned int",
    **{c: "unsigned char" for c in range(30, 44)},  # uint1..7, int1..7: shell dtypes, a byte per element
    44: "c10::Float8_e8m0fnu", 45: "c10::Float4_e2m1fn_x2",
}

# record_param_comms `dtype` arg (c10::toString(ScalarType)) -> Input type string. 'Int'/'Double'/'Bool' are
# dtypes here (the arg is a dtype), unlike in Input type.
COMM_DTYPES: dict[str, str] = {"Int": "int", "Double": "double", "Bool": "bool"}

# promotion order inside each kind; a later kind wins (bool < int < float < complex)
_KIND_RANK = {"bool": 0, "int": 1, "float": 2, "complex": 3}


@lru_cache(maxsize=4096)
def canonical(type_str) -> str | None:
    """The canonical spelling ('float', 'long int', 'c10::BFloat16', ...) of a recorded tensor type; None for
    non-tensor markers and unknown names."""
    if not isinstance(type_str, str):
        return None
    if type_str in _TYPES:
        return type_str
    s = type_str.strip()
    if s in NON_TENSOR:
        return None
    if s in _TYPES:
        return s
    if s in _C_ALIASES:
        return _C_ALIASES[s]
    if s.startswith("c10::dummy_") and s.endswith(">"):  # uint1..7 / int1..7 shell dtypes
        return "unsigned char"
    key = s
    for prefix in ("c10::", "at::", "torch.", "caffe2::", "ScalarType.", "ScalarType::", "dtype."):
        if key.startswith(prefix):
            key = key[len(prefix):]
            if prefix in ("at::", "c10::") and len(key) > 1 and key[0] == "k" and key[1].isupper():
                key = key[1:]  # at::kFloat
            break
    return _NAMES.get(key.lower())


def dtype_bytes(type_str) -> int | float | None:
    """Bytes per element for an `Input type` string; None for non-tensors and unknown names."""
    c = canonical(type_str)
    return _TYPES[c][0] if c else None


def compute_dtype(type_str) -> str | None:
    """The dtype-vocabulary name ('bf16', 'fp32', 'int64', ...) of an `Input type` string."""
    c = canonical(type_str)
    return _TYPES[c][1] if c else None


def comm_type(comm_dtype) -> str | None:
    """Map a collective's `dtype` arg ('Float', 'BFloat16', 'c10::Half', 'torch.float32', ...) to an `Input type`
    string."""
    if not isinstance(comm_dtype, str):
        return None
    return COMM_DTYPES.get(comm_dtype.strip()) or canonical(comm_dtype)


def scalar_type(raw) -> str | None:
    """A ScalarType argument as Concrete Inputs record it (the enum code '15', or a name such as
    'torch.bfloat16') -> Input type string; None when absent or unknown."""
    if raw is None:
        return None
    s = str(raw).strip()
    if not s:
        return None
    try:
        code = float(s)
    except ValueError:
        return canonical(s) or COMM_DTYPES.get(s)
    return SCALAR_TYPE_CODES.get(int(code)) if code.is_integer() else None


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
        t = canonical(t)
        if t is None:
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

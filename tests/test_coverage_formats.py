"""Recording formats of op inputs (issue 18): dtype spellings, TensorLists nested / flattened / empty, torch 1.8's
`Input dims` without types, Concrete Inputs absent, Input Strides."""
import pandas as pd
import pytest

from traceflops.kernels import Args, cost_ops, op_cost
from traceflops.kernels.dtypes import canonical, comm_type, compute_dtype, dtype_bytes, scalar_type

SPELLINGS = [
    # GCC TypeMeta names (every Linux wheel; checked with torch 2.13's profiler)
    ("float", "float", 4), ("long int", "long int", 8), ("short unsigned int", "short unsigned int", 2),
    ("long unsigned int", "long unsigned int", 8), ("c10::Float8_e8m0fnu", "c10::Float8_e8m0fnu", 1),
    ("c10::Float4_e2m1fn_x2", "c10::Float4_e2m1fn_x2", 1), ("c10::quint4x2", "c10::quint4x2", 1),
    ("c10::bits16", "c10::bits16", 2), ("c10::dummy_uint1_7_t<1>", "unsigned char", 1),
    ("c10::complex<c10::Half>", "c10::complex<c10::Half>", 4),
    # clang / MSVC spellings of the same C types
    ("long", "long int", 8), ("unsigned short", "short unsigned int", 2), ("__int64", "long int", 8),
    ("int64_t", "long int", 8), ("uint8_t", "unsigned char", 1),
    # ScalarType names, bare and namespaced, and torch names
    ("Float", "float", 4), ("c10::Float", "float", 4), ("at::Float", "float", 4), ("at::kFloat", "float", 4),
    ("c10::Int", "int", 4), ("BFloat16", "c10::BFloat16", 2), ("Half", "c10::Half", 2), ("Long", "long int", 8),
    ("ComplexFloat", "c10::complex<float>", 8), ("torch.float32", "float", 4), ("torch.bfloat16", "c10::BFloat16", 2),
    ("torch.float8_e4m3fn", "c10::Float8_e4m3fn", 1), ("torch.uint16", "short unsigned int", 2), ("float16", "c10::Half", 2),
]


@pytest.mark.parametrize("raw,canon,size", SPELLINGS)
def test_dtype_spellings(raw, canon, size):
    assert canonical(raw) == canon and dtype_bytes(raw) == size


def test_ivalue_tags_are_not_tensors():
    # torch 1.9-1.12 typed non-tensor inputs by their IValue tag: a bare 'Int' / 'Double' / 'Bool' is that tag
    for tag in ("Int", "Double", "Bool", "IntList", "GenericList", "TensorList", "Scalar", "ScalarList", "", "None"):
        assert dtype_bytes(tag) is None and compute_dtype(tag) is None
    a = Args([[4, 8], [], []], ["float", "Int", "Bool"], [])
    assert a.tensor_idx() == [0]


def test_comm_and_concrete_dtype_args():
    assert comm_type("Float") == "float" and comm_type("Int") == "int" and comm_type("Bool") == "bool"
    assert comm_type("c10::BFloat16") == "c10::BFloat16" and comm_type("torch.float16") == "c10::Half"
    assert scalar_type("15") == "c10::BFloat16" and scalar_type("6") == "float" and scalar_type("45") == "c10::Float4_e2m1fn_x2"
    assert scalar_type("torch.int8") == "signed char" and scalar_type("") is None and scalar_type("nonsense") is None


def test_formula_sees_canonical_type():
    # an int8 x int8 mm accumulates into int32 whatever the int8 spelling
    for t in ("signed char", "char", "int8_t", "torch.int8", "Char"):
        c = op_cost("aten::_int_mm", [[4, 8], [8, 2]], [t, t], ["", ""])
        assert c.bytes == 4 * 8 + 8 * 2 + 4 * 2 * 4, t


def test_untyped_torch18_shapes():
    # torch 1.8 wrote `Input dims` and an empty `Input type`: shapes are tensors of unknown dtype
    a = Args([[4, 8], [8, 2], []], [], [])
    assert a.untyped and a.shape(0) == [4, 8] and a.itemsize(0) is None and a.shape(2) is None
    c = op_cost("aten::mm", [[4, 8], [8, 2]], [], [])
    assert c.flops == 2 * 4 * 8 * 2 and c.bytes is None
    ops = pd.DataFrame({"name": ["aten::mm"], "input_dims": ["[[4,8],[8,2]]"], "input_types": ["[]"], "parent": [-1]})
    out = cost_ops(ops).iloc[0]
    # FLOPs exact; bytes a lower bound at 1 byte per element, marked so
    assert out["flops"] == 128 and out["bytes"] == 32 + 16 and out["bytes_source"] == "lower_bound"
    assert out["flops_source"] == "formula" and "1 byte per element" in out["cost_note"]


def test_tensorlist_nested_flattened_empty():
    nested = Args([[[2, 3], [4, 3]], []], ["TensorList", "Scalar"], ["", "0"])
    assert nested.tensor_list(0) == [[2, 3], [4, 3]]
    # torch 1.10-1.12 list flattening: each tensor of the list is its own Input Dims entry
    flat = Args([[2, 3], [4, 3], []], ["TensorList", "Int"], [])
    assert flat.tensor_list(0) == [[2, 3], [4, 3]] and flat.dims[1] == []
    one = Args([[2, 3], []], ["TensorList", "Int"], [])
    assert one.tensor_list(0) == [[2, 3]]
    empty = Args([[], []], ["TensorList", "Scalar"], ["", "0"])
    assert empty.tensor_list(0) is None and empty.list_not_recorded(0)
    # the same cat in all three formats
    c_nested = op_cost("aten::cat", [[[2, 3], [4, 3]], []], ["TensorList", "Scalar"], ["", "0"])
    c_flat = op_cost("aten::cat", [[2, 3], [4, 3], []], ["TensorList", "Int"], [])
    assert c_nested.bytes == c_flat.bytes == 2 * 18
    assert op_cost("aten::cat", [[], []], ["TensorList", "Scalar"], ["", "0"]).bytes is None


def test_flattened_index_list():
    # 1.10-1.12 flatten a Tensor?[] (GenericList) too: aten::index then sees its index tensors
    c = op_cost("aten::index", [[64, 32], [3]], ["float", "GenericList"], [])
    assert c.bytes == 8 * 3 + (3 * 32 + 3 * 32) * 4
    c2 = op_cost("aten::index", [[64, 32], [3], [3]], ["float", "GenericList"], [])
    assert c2.bytes == 8 * 6 + 2 * 3 * 4


def test_missing_concrete_inputs_are_not_assumed():
    # no Concrete Inputs (torch <= 2.0): a conv's stride and padding are unknown, so is its output size
    dims = [[2, 3, 16, 16], [8, 3, 3, 3], [8], [], [], [], [], [], []]
    types = ["float", "float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList", "Scalar"]
    assert op_cost("aten::convolution", dims, types, []).flops is None
    conc = ["", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "1"]
    assert op_cost("aten::convolution", dims, types, conc).flops == 2 * 2 * 8 * 8 * 27 * 8


def test_input_strides_broadcast_read_once():
    a = Args([[64, 32]], ["float"], [], {"input_strides": [[0, 1]]})
    assert a.nbytes(0) == 32 * 4


def test_sdpa_without_concrete_inputs_is_an_upper_bound():
    q = [2, 4, 128, 64]
    c = op_cost("aten::_scaled_dot_product_flash_attention", [q, q, q, [], [], []], ["c10::Half"] * 3 + ["Scalar"] * 3, [])
    assert c.flops == 4 * 2 * 4 * 128 * 128 * 64 and c.source == "estimate" and "upper bound" in c.note
    c = op_cost("aten::_scaled_dot_product_flash_attention", [q, q, q, [], [], []], ["c10::Half"] * 3 + ["Scalar"] * 3,
                ["", "", "", "0.", "True", "False"])
    assert c.source == "formula" and c.flops < 4 * 2 * 4 * 128 * 128 * 64

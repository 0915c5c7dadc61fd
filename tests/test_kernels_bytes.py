"""Byte spot checks: read every input once + write the output once."""
import math

from traceflops.kernels import op_cost


def test_pointwise_broadcast():
    # [4,1] fp32 + [1,8] bf16 -> [4,8] fp32 ; alpha is a Scalar
    c = op_cost("aten::add", [[4, 1], [1, 8], []], ["float", "c10::BFloat16", "Scalar"], ["", "", "1"])
    assert c.bytes == 4 * 4 + 8 * 2 + 32 * 4
    assert c.flops == 32 and c.family == "elementwise"


def test_pointwise_inplace_and_overload_name():
    c = op_cost("aten::mul_", [[16, 32], [32]], ["c10::Half", "c10::Half"], [])
    assert c.bytes == 16 * 32 * 2 + 32 * 2 + 16 * 32 * 2
    assert op_cost("aten::add.Tensor", [[3], [3]], ["float", "float"], []).bytes == 36


def test_compare_writes_bool():
    c = op_cost("aten::eq", [[10], [10]], ["long int", "long int"], [])
    assert c.bytes == 80 + 80 + 10


def test_layer_norm():
    # native_layer_norm [2,16,32] fp32, affine: read x, w, b; write y + mean + rstd (32 rows)
    c = op_cost("aten::native_layer_norm", [[2, 16, 32], [], [32], [32], []],
                ["float", "ScalarList", "float", "float", "Scalar"], ["", "[32]", "", "", "1e-05"])
    n = 2 * 16 * 32
    assert c.bytes == n * 4 + 32 * 4 * 2 + n * 4 + 2 * 32 * 4
    assert c.flops == 7 * n and c.family == "norm"


def test_softmax():
    c = op_cost("aten::_softmax", [[4, 100], [], []], ["c10::BFloat16", "Scalar", "Scalar"], ["", "-1", "False"])
    assert c.bytes == 2 * 400 * 2 and c.flops == 5 * 400 and c.family == "softmax"
    c = op_cost("aten::_softmax", [[4, 100], [], []], ["c10::BFloat16", "Scalar", "Scalar"], ["", "-1", "True"])
    assert c.bytes == 400 * 2 + 400 * 4


def test_embedding():
    c = op_cost("aten::embedding", [[49408, 768], [1, 5], [], [], []],
                ["c10::BFloat16", "long int", "Scalar", "Scalar", "Scalar"], ["", "", "-1", "False", "False"])
    assert c.bytes == 5 * 8 + 2 * 5 * 768 * 2 and c.flops == 0


def test_cat_needs_list_dtype():
    dims = [[[2, 3], [4, 3]], []]
    c = op_cost("aten::cat", dims, ["TensorList", "Scalar"], ["", "0"])
    # the list's dtype is not recorded: 1 byte per element read and written, marked a lower bound
    assert c.bytes == 2 * 18 and c.bytes_source == "lower_bound" and "dtype" in c.note
    c = op_cost("aten::cat", dims, ["TensorList", "Scalar"], ["", "0"], {"dtype_hint": "float"})
    assert c.bytes == 2 * 18 * 4 and c.bytes_source is None


def test_copy_with_dtype_change():
    c = op_cost("aten::copy_", [[300, 2048], [300, 2048], []], ["long", "int", "Scalar"], [])
    assert c.bytes == 300 * 2048 * (8 + 4) and c.flops == 0 and c.family == "copy"


def test_gemm_bytes():
    c = op_cost("aten::addmm", [[125], [2048, 320], [320, 125], [], []], ["float"] * 3 + ["Scalar"] * 2, [])
    assert c.bytes == 4 * (125 + 2048 * 320 + 320 * 125 + 2048 * 125)


def test_collective():
    c = op_cost("record_param_comms", [[1024], [], []], ["float", "Scalar", "Scalar"], [],
                {"collective": "allreduce", "in_msg_nelems": 1024, "out_msg_nelems": 1024, "group_size": 8,
                 "comm_dtype": "Float"})
    assert c.family == "comm" and c.flops is None and c.comm_bytes == 4096
    assert math.isclose(c.busbw_factor, 2 * 7 / 8)
    g = op_cost("record_param_comms", [], [], [], {"collective": "_allgather_base", "in_msg_nelems": 10,
                                                   "out_msg_nelems": 40, "group_size": 4, "comm_dtype": "BFloat16"})
    assert g.comm_bytes == 80 and math.isclose(g.busbw_factor, 0.75)


def test_inductor_launch():
    c = op_cost("triton_poi_fused_add_0", [[4, 4], [], []], ["float", "Scalar", "Scalar"], ["", "3", "2.5"],
                {"kernel_flop": 123456, "kernel_num_gb": 0.5})
    assert c.flops == 123456 and c.bytes == 0.5e9 and c.source == "inductor" and c.family == "elementwise"
    c = op_cost("triton_red_fused_mean_0", [[8, 64], [8]], ["c10::BFloat16", "c10::BFloat16"], ["", ""])
    assert c.bytes == (512 + 8) * 2 and c.flops is None and c.family == "reduction"


def test_never_raises_on_garbage():
    for name in ["aten::mm", "aten::convolution", "aten::_flash_attention_forward", "aten::add", "aten::cat",
                 "record_param_comms", "aten::native_layer_norm", "aten::sum"]:
        for dims, types, conc in [([], [], []), ([[1, "x"]], ["float"], ["[1,"]), (None, None, None),
                                  ([[2, 3], [5]], ["float"], ["", "", "", "nan"]), ("s", 3, {})]:
            c = op_cost(name, dims, types, conc)
            assert c is None or c.flops is None or c.flops >= 0
    assert op_cost("aten::linear", [[2, 3], [4, 3]], ["float"] * 2, []) is None  # composite: not registered
    assert op_cost("aten::conv2d", [], [], []) is None

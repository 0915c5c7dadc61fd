"""Review fixes in traceflops/kernels: onednn::qlinear_pointwise layouts and bytes, record_param_comms' message
dtype, one registration of the gated activations, registered families, Args.nbytes_sum.

qlinear_pointwise.binary's schema (torch 2.13, `torch._C._jit_get_schemas_for_operator`): (qx, x_scale, x_zero_point,
qw, w_scale, w_zero_point, Tensor? other, Tensor? bias, output_scale, output_zero_point, ScalarType? output_dtype,
other_scale, other_zp, binary_post_op, binary_alpha, unary_post_op, unary_post_op_args, unary_post_op_algorithm);
torch 2.4's had bias at 6, output_dtype at 9 and other at 10.
"""
import json
import pytest
import torch

from traceflops import op_cost
from traceflops.kernels.args import Args
from traceflops.kernels.collectives import record_param_comms_bytes
from traceflops.kernels.registry import FORMULAS

# a torch 2.13 CPU profile (record_shapes=True) of qlinear_pointwise.binary on a 3-d activation [2, 4, 32] with
# qw prepacked from [16, 32] int8, fp32 w_scale [16], int64 w_zp [16], fp32 other [2, 4, 16] and bias [16],
# output_dtype torch.float32 (ScalarType 6), binary "sum"
QLP_DIMS = [[2, 4, 32], [], [], [32, 16], [16], [16], [2, 4, 16], [16]] + [[]] * 10
QLP_TYPES = ["unsigned char", "Scalar", "Scalar", "signed char", "float", "long int", "float", "float", "Scalar",
             "Scalar", "Scalar", "Scalar", "Scalar", "", "Scalar", "", "ScalarList", ""]
QLP_CONC = ["", "0.10000000000000001", "0", "", "", "", "", "", "1.", "0", "6", "1.", "0", "", "1.", "", "[]", ""]
# M = 8 rows, K = 32, N = 16; bytes: qx 256 + qw 512 + w_scale 64 + w_zp 128 + other 512 + bias 64 + out fp32 512
QLP_FLOPS, QLP_BYTES = 2 * 8 * 16 * 32, 256 + 512 + 64 + 128 + 512 + 64 + 8 * 16 * 4


def _qlinear_binary_3d():
    x = torch.randint(0, 255, (2, 4, 32), dtype=torch.uint8)
    qw = torch.ops.onednn.qlinear_prepack(torch.randint(-128, 127, (16, 32), dtype=torch.int8), [8, 32])
    torch.ops.onednn.qlinear_pointwise.binary(
        x, 0.1, 0, qw, torch.ones(16), torch.zeros(16, dtype=torch.long), torch.randn(2, 4, 16), torch.randn(16),
        1.0, 0, torch.float32, 1.0, 0, "sum", 1.0, "none", [], "")


def test_qlinear_binary_3d_reads_the_new_layout():
    c = op_cost("onednn::qlinear_pointwise", QLP_DIMS, QLP_TYPES, QLP_CONC)
    assert c.flops == QLP_FLOPS and c.bytes == QLP_BYTES and c.family == "gemm"


def test_qlinear_binary_3d_profiled(tmp_path):
    if not hasattr(torch.ops.onednn, "qlinear_prepack") or not torch.backends.mkldnn.is_available():
        pytest.skip("oneDNN quantized linear not built")
    from .cov_profile import profile_ops, recorded_cost, rows_of
    ops = profile_ops(_qlinear_binary_3d, tmp_path)
    assert rows_of(ops, "onednn::qlinear_pointwise")[0][:2] == (QLP_DIMS, QLP_TYPES)
    c = recorded_cost(ops, "onednn::qlinear_pointwise")
    assert c.flops == QLP_FLOPS and c.bytes == QLP_BYTES


def test_qlinear_binary_old_layout_and_absent_bias():
    # torch 2.4: bias [16] at 6, output_dtype at 9, other at 10
    dims = [[2, 4, 32], [], [], [32, 16], [16], [16], [16], [], [], [], [2, 4, 16]] + [[]] * 7
    types = QLP_TYPES[:6] + ["float", "Scalar", "Scalar", "Scalar", "float"] + QLP_TYPES[11:]
    conc = QLP_CONC[:6] + ["", "1.", "0", "6", ""] + QLP_CONC[11:]
    c = op_cost("onednn::qlinear_pointwise", dims, types, conc)
    assert c.flops == QLP_FLOPS and c.bytes == QLP_BYTES
    # the new layout without a bias (`Tensor? bias` None): still read as the new one
    dims = QLP_DIMS[:7] + [[]] + QLP_DIMS[8:]
    c = op_cost("onednn::qlinear_pointwise", dims, QLP_TYPES[:7] + [""] + QLP_TYPES[8:], QLP_CONC)
    assert c.flops == QLP_FLOPS and c.bytes == QLP_BYTES - 64


def test_qlinear_unary_scalars_move_no_bytes():
    dims = [[8, 32], [], [], [32, 16], [16], [16], [16]] + [[]] * 6
    types = ["unsigned char", "Scalar", "Scalar", "signed char", "float", "long int", "float"] + ["Scalar"] * 6
    conc = ["", "0.1", "0", "", "", "", "", "1.0", "0", "", "none", "[]", ""]
    c = op_cost("onednn::qlinear_pointwise", dims, types, conc)
    # qx 256 + qw 512 + w_scale 64 + w_zp 128 + bias 64 + uint8 out (output_dtype None) 128
    assert c.flops == 2 * 8 * 16 * 32 and c.bytes == 256 + 512 + 64 + 128 + 64 + 128


def test_record_param_comms_dtype_falls_back_to_the_input_tensor():
    named = {"collective": "_allgather_base", "in_msg_nelems": 512.0, "out_msg_nelems": 2048.0, "group_size": 4.0}
    c = record_param_comms_bytes(Args([[512]], ["c10::Half"], [""], named))
    assert c.comm_bytes == 2048 * 2 and c.dtype == "fp16"
    # a dtype arg wins over the tensor's
    c = record_param_comms_bytes(Args([[512]], ["c10::Half"], [""], {**named, "comm_dtype": "Float"}))
    assert c.comm_bytes == 2048 * 4


@pytest.mark.parametrize("ns", ["_C", "vllm", "sgl_kernel", "aiter", "flashinfer"])
def test_gated_activations_one_registration(ns):
    # (out [T, d], input [T, 2d]): silu(x1) * x2, 5 per output element; reads input, writes out
    c = op_cost(f"{ns}::silu_and_mul", [[4, 8], [4, 16]], ["c10::BFloat16"] * 2, ["", ""])
    assert c.flops == 5 * 32 and c.bytes == (64 + 32) * 2 and c.family == "elementwise" and c.dtype == "bf16"
    assert FORMULAS[f"{ns}::silu_and_mul"] is FORMULAS["_C::silu_and_mul"]
    c = op_cost(f"{ns}::gelu_and_mul", [[4, 8], [4, 16]], ["float"] * 2, ["", ""])
    assert c.flops == 6 * 32 and c.bytes == (64 + 32) * 4


def test_pointwise_table_has_no_unregistered_entries():
    for name in ("aten::silu_and_mul", "aten::gelu_and_mul", "aten::mse_loss_elt", "aten::native_dropout_"):
        assert name not in FORMULAS
    c = op_cost("aten::native_dropout", [[4, 8], [], []], ["float", "Scalar", "Scalar"], ["", "0.5", "True"])
    assert c.flops == 2 * 32 and c.bytes == 32 * (2 * 4 + 1)


@pytest.mark.parametrize("name,dims,types,family", [
    ("aten::_fused_dropout", [[4, 8], [], []], ["float", "Scalar", ""], "elementwise"),
    ("aten::native_dropout_backward", [[4, 8], [4, 8], []], ["float", "bool", "Scalar"], "elementwise"),
    ("aten::_masked_softmax", [[4, 8], [4, 8], [], []], ["float", "bool", "Scalar", "Scalar"], "softmax"),
    ("aten::binary_cross_entropy", [[4, 8], [4, 8], [], []], ["float", "float", "", "Scalar"], "loss"),
    ("aten::_softmax", [[4, 8], [], []], ["float", "Scalar", "Scalar"], "softmax"),
])
def test_registered_family(name, dims, types, family):
    assert op_cost(name, dims, types, [""] * len(dims)).family == family


def test_nbytes_sum():
    a = Args([[4, 8], [], [8], []], ["float", "Scalar", "c10::Half", ""], ["", "1", "", ""])
    assert a.nbytes_sum([0, 2, 3, 7]) == 128 + 16  # an absent optional and a position past the inputs add 0
    assert a.nbytes_sum([0, 1]) is None  # a Scalar at a tensor position: unknown
    assert a.nbytes_sum([0, 1], tensors_only=True) == 128
    assert a.nbytes_sum([]) == 0.0


def test_repeat_interleave_tensor_overload_writes_output_size(tmp_path):
    # repeat_interleave.Tensor(repeats, *, output_size): the profiler records [[3], []] with concrete ["", "6"];
    # 6 is the output length, not a repeat count: read 3 int64, write 6 int64
    import torch
    from torch.profiler import ProfilerActivity, profile
    from traceflops import analyze
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        torch.repeat_interleave(torch.tensor([1, 2, 3]), output_size=6)
    p.export_chrome_trace(str(tmp_path / "t.json"))
    o = analyze(tmp_path / "t.json").ops
    row = o[(o["name"] == "aten::repeat_interleave") & (o["input_dims"] == "[[3],[]]")].iloc[0]
    c = op_cost(row["name"], json.loads(row["input_dims"]), json.loads(row["input_types"]), json.loads(row["concrete_inputs"]))
    assert c.bytes == 3 * 8 + 6 * 8 and c.flops == 0
    # self_int: out = numel(self) x repeats
    c = op_cost("aten::repeat_interleave", [[3, 2], [], [], []], ["float", "Scalar", "Scalar", ""], ["", "2", "0", ""])
    assert c.bytes == 6 * 4 + 12 * 4


def test_rotary_embedding_without_key():
    # vLLM's rotary_embedding(positions, query, Tensor!? key, head_size, cos_sin_cache, is_neox): no key, only q
    t, bf = 4, "c10::BFloat16"
    c = op_cost("_C::rotary_embedding", [[t], [t, 8 * 64], [], [], [1024, 64], []],
                ["long int", bf, "", "Scalar", bf, "Scalar"], ["", "", "", "64", "", "True"])
    assert c.flops == 3 * t * 8 * 64
    assert c.bytes == 2 * t * 8 * 64 * 2 + t * 8 + t * 64 * 2
    with_key = op_cost("_C::rotary_embedding", [[t], [t, 8 * 64], [t, 2 * 64], [], [1024, 64], []],
                       ["long int", bf, bf, "Scalar", bf, "Scalar"], ["", "", "", "64", "", "True"])
    assert with_key.flops == 3 * t * 10 * 64

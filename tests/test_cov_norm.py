"""kernels/norm.py: layer/group/batch/RMS norms, softmax, nll_loss, SyncBatchNorm and the serving stacks' norms.

Recorded by the torch CPU profiler where torch 2.13 runs the op on CPU (the SyncBatchNorm ops have no CPU
kernel: the profiler records the call before the dispatcher raises, as a CUDA run records it); the serving ops
are built from their schemas (/work/research/ops.md §D, §E). Expected numbers are hand counts of the documented
constants (norm training 5 + 1 per affine tensor, eval 2 + affine, RMS 3 + weight, backward 8 (RMS 6),
softmax 5 / backward 4, nll 1 per target (+1 weighted)) and of every input read once, every output written once,
statistics in fp32 (fp64 for double inputs). x is [4, 6, 5, 5]: 600 fp32 elements, C = 6.
"""
import pytest
import torch
import torch.nn.functional as F

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
NX, C, N = 600, 6, 4
XB = NX * 4


def _record():
    torch.manual_seed(0)
    x = torch.randn(N, C, 5, 5)
    F.layer_norm(x, (5, 5), torch.randn(5, 5), torch.randn(5, 5))
    F.layer_norm(torch.randn(4, 25, dtype=torch.float64), (25,))
    F.group_norm(x, 3, torch.randn(C), torch.randn(C))
    bn = torch.nn.BatchNorm2d(C)
    bn(x)
    bn.eval()
    bn(x)
    F.rms_norm(x, (5,), torch.randn(5))
    F.softmax(x, 1)
    F.log_softmax(x, 1)
    F.nll_loss(torch.randn(8, 10), torch.randint(0, 10, (8,)))
    F.nll_loss(torch.randn(8, 10), torch.randint(0, 10, (8,)), weight=torch.rand(10), reduction="none")
    # backward ops with a real (not expanded) grad_output
    xr = x.clone().requires_grad_()
    g = torch.randn(N, C, 5, 5)
    F.layer_norm(xr, (5, 5), torch.randn(5, 5), torch.randn(5, 5)).backward(g)
    F.softmax(xr, 1).backward(g)
    F.group_norm(xr, 3, torch.randn(C, requires_grad=True), torch.randn(C, requires_grad=True)).backward(g)
    bn.train()
    bn(xr).backward(g)
    lg = torch.randn(8, 10, requires_grad=True)
    F.nll_loss(lg, torch.randint(0, 10, (8,)), weight=torch.rand(10), reduction="none").backward(torch.randn(8))
    torch.batch_norm_update_stats(x, torch.zeros(C), torch.ones(C), 0.1)
    ones, zeros = torch.ones(C), torch.zeros(C)
    for call in (lambda: torch.batch_norm_stats(x, 1e-5),
                 lambda: torch.batch_norm_elemt(x, ones, zeros, zeros, ones, 1e-5),
                 lambda: torch.batch_norm_gather_stats_with_counts(x, torch.zeros(2, C), torch.ones(2, C), zeros, ones,
                                                                   0.1, 1e-5, torch.tensor([100., 100.])),
                 lambda: torch.batch_norm_backward_reduce(x, x, zeros, ones, ones, True, True, True),
                 lambda: torch.batch_norm_backward_elemt(x, x, zeros, ones, ones, zeros, zeros,
                                                         torch.tensor([100], dtype=torch.int32))):
        with pytest.raises(NotImplementedError):  # CUDA only
            call()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("norm"))


def test_layer_and_group_norm(ops):
    c = recorded_cost(ops, "aten::native_layer_norm", 0)  # weight and bias [5, 5]; mean, rstd per 25 elements
    assert c.flops == (5 + 2) * NX and c.bytes == XB + 2 * 25 * 4 + XB + 2 * (NX // 25) * 4 and c.family == "norm"
    c = recorded_cost(ops, "aten::native_layer_norm", 1)  # fp64, no affine: fp64 statistics
    assert c.flops == 5 * 100 and c.bytes == 100 * 8 * 2 + 2 * 4 * 8
    # mask [True, False, False] (weight and bias need no grad): reads grad_out, input, mean, rstd, weight
    c = recorded_cost(ops, "aten::native_layer_norm_backward")
    assert c.flops == 8 * NX and c.bytes == XB * 2 + 2 * (NX // 25) * 4 + 25 * 4 + XB
    c = recorded_cost(ops, "aten::native_group_norm")  # N * group = 12 means and rstds
    assert c.flops == (5 + 2) * NX and c.bytes == XB + 2 * C * 4 + XB + 2 * 12 * 4
    c = recorded_cost(ops, "aten::native_group_norm_backward")  # all three grads: grad_input, weight, bias [C]
    assert c.flops == 8 * NX and c.bytes == 2 * XB + 2 * 12 * 4 + C * 4 + XB + 2 * C * 4


def test_batch_norm(ops):
    train, evl = recorded_cost(ops, "aten::native_batch_norm", 0), recorded_cost(ops, "aten::native_batch_norm", 1)
    reads = XB + 4 * C * 4  # x, weight, bias, running mean and var
    # training: save_mean/invstd written and the running stats updated in place
    assert train.flops == (5 + 2) * NX and train.bytes == reads + XB + 4 * C * 4
    assert evl.flops == (2 + 2) * NX and evl.bytes == reads + XB + 2 * C * 4
    # backward (grad_out, input, weight, running_mean, running_var, save_mean, save_invstd, train, eps, mask):
    # reads grad_out, input, weight, the saved stats; writes grad_input and the C-sized grads
    c = recorded_cost(ops, "aten::native_batch_norm_backward")
    assert c.flops == 8 * NX and c.bytes == 2 * XB + 3 * C * 4 + XB + 2 * C * 4
    c = op_cost("aten::_native_batch_norm_legit_no_training", [[N, C, 5, 5], [C], [C], [C], [C], [], []],
                ["float"] * 5 + ["Scalar"] * 2, [""] * 5 + ["0.1", "1e-05"])
    assert c.flops == evl.flops and c.bytes == evl.bytes
    # cudnn/miopen backward (input, grad_output, weight, running_mean, running_var, save_mean, save_var, eps, ...)
    c = op_cost("aten::cudnn_batch_norm_backward", [[N, C, 5, 5], [N, C, 5, 5], [C], [C], [C], [C], [C], []],
                ["float"] * 7 + ["Scalar"], [""] * 8)
    assert c.flops == 8 * NX and c.bytes == 2 * XB + 3 * C * 4 + XB + 2 * C * 4


def test_rms_norms(ops):
    c = recorded_cost(ops, "aten::_fused_rms_norm")  # weight [5]; one rstd per 5 elements
    assert c.flops == (3 + 1) * NX and c.bytes == XB + 5 * 4 + XB + (NX // 5) * 4
    # _fused_rms_norm_backward(grad_out, input, normalized_shape, rstd, weight, output_mask): 6 per element
    c = op_cost("aten::_fused_rms_norm_backward", [[N, C, 5, 5], [N, C, 5, 5], [], [N, C, 5, 1], [5], []],
                ["float", "float", "ScalarList", "float", "float", "ScalarList"], ["", "", "[5]", "", "", "[True, True]"])
    assert c.flops == 6 * NX and c.bytes == 2 * XB + (NX // 5) * 4 + 5 * 4 + XB + 5 * 4


BF = "c10::BFloat16"
T, H = 8, 64
TH = T * H


def test_serving_rms_norms():
    c = op_cost("aiter::rms_norm", [[T, H], [H], []], [BF, BF, "Scalar"], ["", "", "1e-6"])  # (input, weight, eps)
    assert c.flops == 4 * TH and c.bytes == TH * 2 + H * 2 + TH * 2
    assert op_cost("aiter::rms_norm", [[T, H], [32], []], [BF, BF, "Scalar"], ["", "", "1e-6"]).note == NOT_RECORDED
    c = op_cost("_C::rms_norm", [[T, H], [T, H], [H], []], [BF] * 3 + ["Scalar"], ["", "", "", "1e-6"])  # (out, in, w)
    assert c.flops == 4 * TH and c.bytes == TH * 2 + H * 2 + TH * 2
    # residual add + rms: reads input, residual, weight; writes out and the new residual
    c = op_cost("aiter::add_rmsnorm", [[T, H], [T, H], [T, H], [T, H], [H], []], [BF] * 5 + ["Scalar"], [""] * 6)
    assert c.flops == 5 * TH and c.bytes == 2 * TH * 2 + H * 2 + 2 * TH * 2
    c = op_cost("_C::fused_add_rms_norm", [[T, H], [T, H], [H], []], [BF] * 3 + ["Scalar"], [""] * 4)
    assert c.flops == 5 * TH and c.bytes == 2 * TH * 2 + H * 2 + 2 * TH * 2
    # + fp8 quant of the result (1 byte), the scale read
    F8 = "c10::Float8_e4m3fn"
    c = op_cost("_C::rms_norm_static_fp8_quant", [[T, H], [T, H], [H], [1], []], [F8, BF, BF, "float", "Scalar"], [""] * 5)
    assert c.flops == 5 * TH and c.bytes == TH * 2 + H * 2 + TH + 4
    c = op_cost("_C::fused_add_rms_norm_static_fp8_quant", [[T, H], [T, H], [T, H], [H], [1], []],
                [F8, BF, BF, BF, "float", "Scalar"], [""] * 6)
    assert c.flops == 6 * TH and c.bytes == TH * 2 + 2 * TH * 2 + H * 2 + TH
    c = op_cost("aiter::_groupnorm_run", [[N, C, 5, 5], [], [C], [C], []], ["float", "Scalar", "float", "float", "Scalar"],
                ["", "3", "", "", "1e-5"])
    assert c.flops == (5 + 2) * NX and c.bytes == XB + 2 * C * 4 + XB


def test_softmax(ops):
    for name in ("aten::_softmax", "aten::_log_softmax"):
        c = recorded_cost(ops, name)
        assert c.flops == 5 * NX and c.bytes == 2 * XB and c.family == "softmax", name
    c = recorded_cost(ops, "aten::_softmax_backward_data")
    assert c.flops == 4 * NX and c.bytes == 3 * XB
    # half_to_float: a half input, an fp32 output
    c = op_cost("aten::_softmax", [[N, C, 5, 5], [], []], ["c10::Half", "Scalar", "Scalar"], ["", "1", "True"])
    assert c.bytes == NX * 2 + NX * 4


def test_nll_loss(ops):
    c = recorded_cost(ops, "aten::nll_loss_forward", 0)  # reads 8 targets and 8 logits; writes loss, total_weight
    assert c.flops == 8 and c.bytes == 8 * 8 + 8 * 4 + 2 * 4 and c.family == "loss"
    c = recorded_cost(ops, "aten::nll_loss_forward", 1)  # weighted, reduction='none'
    assert c.flops == 2 * 8 and c.bytes == 8 * 8 + 2 * 8 * 4 + (8 + 1) * 4
    c = recorded_cost(ops, "aten::nll_loss_backward")  # weighted; one grad element per target
    assert c.flops == 8 and c.bytes == 8 * 8 + 2 * 8 * 4 + 2 * 4


def test_sync_batch_norm(ops):
    c = recorded_cost(ops, "aten::batch_norm_stats")  # mean and invstd [C] fp32
    assert c.flops == 3 * NX and c.bytes == XB + 2 * C * 4
    c = recorded_cost(ops, "aten::batch_norm_update_stats")
    assert c.flops == 3 * NX and c.bytes == XB + 2 * C * 4 + 4 * C * 4
    c = recorded_cost(ops, "aten::batch_norm_elemt")  # weight, bias, mean, invstd
    assert c.flops == (2 + 2) * NX and c.bytes == XB + 4 * C * 4 + XB
    c = recorded_cost(ops, "aten::batch_norm_gather_stats_with_counts")  # [2 ranks, C] stats, counts [2]
    assert c.flops is None and c.bytes == 2 * 2 * C * 4 + 2 * C * 4 + 2 * 4 + 2 * C * 4 + 2 * C * 4
    c = recorded_cost(ops, "aten::batch_norm_backward_reduce")  # grad_out, input, mean, invstd, weight; 4 x C out
    assert c.flops == 4 * NX and c.bytes == 2 * XB + 3 * C * 4 + 4 * C * 4
    c = recorded_cost(ops, "aten::batch_norm_backward_elemt")  # + sum_dy, sum_dy_xmu [C], count int32 [1]
    assert c.flops == 4 * NX and c.bytes == 2 * XB + 5 * C * 4 + 4 + XB


@pytest.mark.parametrize("name,dims,types,conc", [
    ("aten::native_layer_norm", [[], []], ["", "ScalarList"], []),
    ("aten::native_layer_norm", [[4, 25], [], [], []], ["float", "ScalarList", "", ""], []),  # no normalized_shape
    ("aten::native_layer_norm_backward", [[], []], ["", ""], []),
    ("aten::_fused_rms_norm", [[4, 25], []], ["float", "ScalarList"], []),
    ("aten::_fused_rms_norm_backward", [[], []], ["", ""], []),
    ("_C::rms_norm", [[T, H], [], [H]], [BF, "", BF], []),
    ("aiter::add_rmsnorm", [[T, H], [T, H], [T, H], [T, H], []], [BF] * 4 + [""], []),
    ("_C::fused_add_rms_norm", [[T, H], [], [H]], [BF, "", BF], []),
    ("aten::native_group_norm", [[]], [""], []),
    ("aten::native_group_norm_backward", [[], []], ["", ""], []),
    ("aten::native_batch_norm", [[600]], ["float"], []),  # 1-d: no channel dim
    ("aten::native_batch_norm", [[N, C]], ["float"], []),  # `training` not recorded
    ("aten::native_batch_norm_backward", [[], [N]], ["", "float"], []),
    ("aten::cudnn_batch_norm_backward", [[N]], ["float"], []),
    ("aten::_softmax", [[]], [""], []),
    ("aten::_softmax_backward_data", [[]], [""], []),
    ("aten::nll_loss_forward", [[8, 10], []], ["float", ""], []),
    ("aten::nll_loss_forward", [[8, 10], [8]], ["", "long int"], []),  # self's dtype not recorded
    ("aten::nll_loss_backward", [[], [8, 10], []], ["", "float", ""], []),
    ("aiter::_groupnorm_run", [[8]], ["float"], []),
    ("_C::rms_norm_static_fp8_quant", [[T, H], [T, H], []], ["c10::Float8_e4m3fn", BF, ""], []),
    ("_C::fused_add_rms_norm_static_fp8_quant", [[T, H], [T, H], []], ["c10::Float8_e4m3fn", BF, ""], []),
    ("aten::batch_norm_stats", [[N]], ["float"], []),
    ("aten::batch_norm_update_stats", [[N]], ["float"], []),
    ("aten::batch_norm_gather_stats", [[N, C, 5, 5], [C]], ["float", "float"], []),
    ("aten::batch_norm_elemt", [[]], [""], []),
    ("aten::batch_norm_backward_reduce", [[], [N]], ["", "float"], []),
    ("aten::batch_norm_backward_elemt", [[], []], ["", ""], []),
])
def test_inputs_not_recorded(name, dims, types, conc):
    assert op_cost(name, dims, types, conc).note == NOT_RECORDED


def test_dims_without_dtypes_keep_the_flops():
    # torch 1.8 records dims without types: the element size, so the bytes, are unknown
    c = op_cost("aten::_softmax", [[N, C, 5, 5], [], []], [], [])
    assert c.flops == 5 * NX and c.bytes is None


def test_group_norm_without_its_ints():
    # torch <= 2.0 records no Concrete Inputs: the FLOPs stand, the statistics' count is unknown (left out)
    c = op_cost("aten::native_group_norm", [[N, C, 5, 5], [C], [C]] + [[]] * 5, ["float"] * 3 + ["Scalar"] * 5, [])
    assert c.flops == (5 + 2) * NX and c.bytes == XB + 2 * C * 4 + XB and c.note == "group count not recorded"

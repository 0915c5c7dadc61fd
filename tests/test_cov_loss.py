"""kernels/loss.py: dropout, masked softmax and elementwise losses, recorded by the torch CPU profiler.

Expected numbers are hand counts from the formulas' documented per-element constants (dropout 2, BCE 7 and its
backward 5, smooth L1 / Huber 5 and 4, masked softmax 5) and the inputs read once / outputs written once
(a reduced loss writes one element). `_fused_dropout` and `_masked_scale` have no CPU kernel: the profiler
records the call, with its inputs, before the dispatcher raises, which is the recording a CUDA run makes too.
"""
import pytest
import torch
import torch.nn.functional as F

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost

NOT_RECORDED = "inputs not recorded or not understood"
N = 20  # [4, 5]


def _record():
    p, t = torch.rand(4, 5, requires_grad=True), torch.rand(4, 5)
    F.binary_cross_entropy(p, t).backward()                                         # mean
    F.binary_cross_entropy(p.detach(), t, weight=torch.rand(4, 5), reduction="none")
    a = torch.randn(4, 5, requires_grad=True)
    F.smooth_l1_loss(a, t).backward()
    F.huber_loss(a, t, reduction="none", delta=0.5).sum().backward()
    torch._masked_softmax(torch.randn(2, 3, 4), torch.rand(2, 3, 4) > 0.5, 2, 0)
    for call in (lambda: torch.ops.aten._masked_scale(torch.randn(10), torch.ones(10, dtype=torch.uint8), 2.0),
                 lambda: torch.ops.aten._fused_dropout(torch.randn(10), 0.5)):
        with pytest.raises(NotImplementedError):
            call()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("loss"))


def test_binary_cross_entropy(ops):
    c = recorded_cost(ops, "aten::binary_cross_entropy", 0)  # reads self, target; writes the mean
    assert c.flops == 7 * N and c.bytes == (N + N + 1) * 4 and c.family == "loss"
    c = recorded_cost(ops, "aten::binary_cross_entropy", 1)  # + weight, reduction='none'
    assert c.flops == 7 * N and c.bytes == (3 * N + N) * 4
    c = recorded_cost(ops, "aten::binary_cross_entropy_backward")  # a 0-dim grad_output, self, target
    assert c.flops == 5 * N and c.bytes == (1 + N + N + N) * 4


def test_smooth_l1_and_huber(ops):
    c = recorded_cost(ops, "aten::smooth_l1_loss")
    assert c.flops == 5 * N and c.bytes == (2 * N + 1) * 4
    c = recorded_cost(ops, "aten::huber_loss")  # reduction='none' writes every element
    assert c.flops == 5 * N and c.bytes == 3 * N * 4
    for name in ("aten::smooth_l1_loss_backward", "aten::huber_loss_backward"):
        c = recorded_cost(ops, name)  # the functional form: grad_output (0-dim / [4, 5]), self, target
        go = 1 if name.startswith("aten::smooth") else N
        assert c.flops == 4 * N and c.bytes == (go + 2 * N + N) * 4, name


def test_masked_softmax_and_dropouts(ops):
    c = recorded_cost(ops, "aten::_masked_softmax")  # [2, 3, 4] fp32 + a bool mask
    assert c.flops == 5 * 24 and c.bytes == 24 * 4 + 24 + 24 * 4 and c.family == "softmax"
    c = recorded_cost(ops, "aten::_masked_scale")  # x, a uint8 mask; writes x's size
    assert c.flops == 2 * 10 and c.bytes == 40 + 10 + 40 and c.family == "elementwise"
    c = recorded_cost(ops, "aten::_fused_dropout")  # writes the output and a 1-byte mask
    assert c.flops == 2 * 10 and c.bytes == 40 + 40 + 10 and c.family == "elementwise"
    c = op_cost("aten::native_dropout_backward", [[4, 5], [4, 5], []], ["c10::BFloat16", "bool", "Scalar"], ["", "", "2."])
    assert c.flops == 2 * N and c.bytes == 2 * N + N + 2 * N


@pytest.mark.parametrize("name", ["aten::_fused_dropout", "aten::_masked_scale", "aten::native_dropout_backward",
                                  "aten::_masked_softmax", "aten::binary_cross_entropy",
                                  "aten::binary_cross_entropy_backward", "aten::smooth_l1_loss",
                                  "aten::huber_loss", "aten::smooth_l1_loss_backward", "aten::huber_loss_backward"])
def test_inputs_not_recorded(name):
    assert op_cost(name, [[], []], ["", ""], []).note == NOT_RECORDED


def test_unknown_dtypes():
    # torch 1.8 records dims without types: the element size, so the bytes and the op, are unknown
    assert op_cost("aten::binary_cross_entropy", [[4, 5], [4, 5]], [], []).note == NOT_RECORDED
    # a mask of a dtype the size table does not know: the FLOPs stand, the bytes are unknown
    c = op_cost("aten::_masked_softmax", [[2, 3], [2, 3]], ["float", "weird"], [])
    assert c.flops == 5 * 6 and c.bytes is None

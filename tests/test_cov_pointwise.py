"""kernels/pointwise.py: fused optimizers, _foreach_norm, AMP unscale and native_dropout, on real CPU profiles.

torch 2.13 runs the fused Adam/AdamW/SGD/Adagrad steps, clip_grad_norm_'s _foreach_norm and the AMP unscale on
CPU; the profiler records their TensorLists with nested shapes but no dtype, so the bytes are the documented
lower bound of 1 byte per element unless a dtype hint is given. Expected numbers are hand counts of the
documented per-parameter constants (Adam 12, + 2 with weight decay, + 1 with amsgrad; SGD 2, + 2 weight decay,
+ 3 momentum; Adagrad 6; norm 2; unscale 2) and of the lists each step reads and writes.
"""
import pytest
import torch

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost, rows_of

NOT_RECORDED = "inputs not recorded or not understood"
P = 4 * 8 + 8  # parameters: a [4, 8] weight and an [8] bias


def _params():
    torch.manual_seed(0)
    ps = [torch.randn(4, 8, requires_grad=True), torch.randn(8, requires_grad=True)]
    for p in ps:
        p.grad = torch.randn_like(p)
    return ps


def _record():
    torch.optim.Adam(_params(), lr=0.1, fused=True).step()
    torch.optim.AdamW(_params(), lr=0.1, fused=True, amsgrad=True).step()
    torch.optim.SGD(_params(), lr=0.1, momentum=0.9, fused=True).step()
    torch.optim.SGD(_params(), lr=0.1, fused=True, weight_decay=0.1).step()
    torch.optim.Adagrad(_params(), lr=0.1, fused=True, weight_decay=0.1).step()
    ps = _params()
    torch.nn.utils.clip_grad_norm_(ps, 1.0, foreach=True)
    torch._amp_foreach_non_finite_check_and_unscale_([p.grad for p in ps], torch.zeros(1), torch.ones(1))
    torch.ops.aten.native_dropout(torch.randn(10, 20), 0.5, True)


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("pointwise"))


def _lower(c, elems):
    return c.bytes == elems and c.bytes_source == "lower_bound" and "1 byte per element" in c.note


def test_fused_adam(ops):
    c = recorded_cost(ops, "aten::_fused_adam_")  # reads p, g, m, v; writes p, m, v
    assert c.flops == 12 * P and _lower(c, 7 * P) and c.family == "optimizer"
    c = recorded_cost(ops, "aten::_fused_adamw_")  # weight decay 0.01, amsgrad: + max_exp_avg_sq read and written
    assert c.flops == (12 + 2 + 1) * P and _lower(c, 9 * P)
    # with the dtype the kernels tell (extra dtype_hint): exact bytes
    c = recorded_cost(ops, "aten::_fused_adam_", extra={"dtype_hint": "float"})
    assert c.bytes == 7 * P * 4 and c.bytes_source is None and c.dtype == "fp32"


def test_fused_sgd_and_adagrad(ops):
    sgd = [op_cost("aten::_fused_sgd_", *r) for r in rows_of(ops, "aten::_fused_sgd_")]
    assert sgd[0].flops == (2 + 3) * P and _lower(sgd[0], 5 * P)   # momentum: the buffers read and written
    assert sgd[1].flops == (2 + 2) * P and _lower(sgd[1], 3 * P)   # weight decay, no momentum buffers
    c = recorded_cost(ops, "aten::_fused_adagrad_")               # weight decay 0.1
    assert c.flops == (6 + 2) * P and _lower(c, 5 * P)


def test_foreach_norm_and_amp_unscale(ops):
    c = recorded_cost(ops, "aten::_foreach_norm")  # + one fp32 norm written per tensor
    assert c.flops == 2 * P and c.bytes == P + 2 * 4
    c = recorded_cost(ops, "aten::_amp_foreach_non_finite_check_and_unscale_")  # + found_inf, inv_scale [1] fp32
    assert c.flops == 2 * P and c.bytes == 2 * P + 4 + 4
    # 1.5-1.7: one tensor at a time
    c = op_cost("aten::_amp_non_finite_check_and_unscale_", [[4, 8], [1], [1]], ["float"] * 3, [""] * 3)
    assert c.flops == 2 * 32 and c.bytes == 2 * 32 * 4 + 8


def test_native_dropout(ops):
    c = recorded_cost(ops, "aten::native_dropout")  # writes the output and a bool mask
    assert c.flops == 2 * 200 and c.bytes == 200 * (4 + 4 + 1)


@pytest.mark.parametrize("name", ["aten::_fused_adam_", "aten::_fused_sgd_", "aten::_fused_adagrad_",
                                  "aten::_foreach_norm", "aten::_amp_foreach_non_finite_check_and_unscale_",
                                  "aten::_amp_non_finite_check_and_unscale_", "aten::native_dropout"])
def test_lists_not_recorded(name):
    # torch 1.8-2.0 record a TensorList as []
    assert op_cost(name, [[], [], []], ["TensorList", "TensorList", "TensorList"], []).note == NOT_RECORDED

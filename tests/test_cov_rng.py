"""kernels/rng.py: random draws, randperm, multinomial and arange, recorded by the torch CPU profiler.

Hand counts of the documented convention: 0 FLOPs; bytes = the elements written (numel x element size) plus a
probability tensor read where there is one; arange writes ceil((end - start) / step) elements of the out
tensor's / `dtype` arg's type, else int64 for integral arguments and float32 otherwise (torch's choice).
"""
import math

import pytest
import torch

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost, rows_of

NOT_RECORDED = "inputs not recorded or not understood"
N = 200  # [10, 20] fp32


def _record():
    x = torch.empty(10, 20)
    x.uniform_()
    x.normal_()
    x.bernoulli_(0.3)
    x.bernoulli_(torch.rand(10, 20))  # bernoulli_.Tensor reads its probabilities
    x.random_(0, 5)
    x.exponential_()
    torch.bernoulli(torch.rand(10, 20))
    torch.bernoulli(torch.rand(10, 20), 0.5)
    torch.randperm(50, dtype=torch.int32)
    torch.randperm(30, out=torch.empty(30, dtype=torch.int16))
    torch.multinomial(torch.rand(4, 10), 3)
    torch.arange(10)
    torch.arange(2., 10.)
    torch.arange(0, 10, 3)
    torch.arange(0, 1, 0.25, dtype=torch.float64)
    torch.arange(0, 8, 2, out=torch.empty(4, dtype=torch.int32))


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("rng"))


def test_in_place_draws(ops):
    for name in ("aten::normal_", "aten::random_", "aten::exponential_"):
        c = recorded_cost(ops, name)
        assert c.flops == 0 and c.bytes == N * 4 and c.family == "random", name
    assert recorded_cost(ops, "aten::bernoulli_", 0).bytes == N * 4        # p a float
    assert recorded_cost(ops, "aten::bernoulli_", 1).bytes == N * 4 + N * 4  # p a [10, 20] tensor


def test_bernoulli(ops):
    assert recorded_cost(ops, "aten::bernoulli", 0).bytes == N * 4 + N * 4  # reads the probabilities in self
    assert recorded_cost(ops, "aten::bernoulli", 1).bytes == N * 4          # bernoulli.p only writes


def test_randperm_and_multinomial(ops):
    # the out form records the out tensor: its dtype; a lower bound (the sort of a GPU randperm not counted)
    outs = [op_cost("aten::randperm", *r) for r in rows_of(ops, "aten::randperm") if len(r[0]) == 3]
    assert sorted(c.bytes for c in outs) == [30 * 2, 50 * 4] and {c.bytes_source for c in outs} == {"lower_bound"}
    # randperm(n, dtype, layout, device, pin_memory): no tensor recorded, int64 assumed
    assert op_cost("aten::randperm", [[], [], [], [], []], ["Scalar", "Scalar", "", "", "Scalar"],
                   ["50", "3", "", "", "False"]).bytes == 50 * 8
    c = recorded_cost(ops, "aten::multinomial")  # reads [4, 10], writes 4 x 3 int64
    assert c.flops == 0 and c.bytes == 40 * 4 + 4 * 3 * 8


def test_arange_overloads(ops):
    got = [(r[2], op_cost("aten::arange", *r)) for r in rows_of(ops, "aten::arange")]
    by_args = {tuple(conc[:3]): c.bytes for conc, c in got}
    assert by_args[("10", "", "")] == 10 * 8              # arange(end, dtype, ...): int64
    assert by_args[("2.", "10.", "")] == 8 * 4            # .start with float args: float32
    assert by_args[("0", "10", "3")] == math.ceil(10 / 3) * 8  # .start_step, integral: int64
    assert by_args[("0", "1", "0.25")] == 4 * 8          # dtype=float64 (code 7), or the out tensor's
    assert by_args[("0", "8", "2")] == 4 * 4             # .start_out into an int32 tensor
    assert all(c.flops == 0 for _, c in got)
    # arange.out(end, out) with a float end
    assert op_cost("aten::arange", [[], [0]], ["Scalar", "float"], ["2.5", ""]).bytes == 3 * 4


@pytest.mark.parametrize("name,dims,types,conc", [
    ("aten::uniform_", [[], [], []], ["", "Scalar", "Scalar"], []),
    ("aten::bernoulli", [[10, 20]], [], []),                 # dims without a dtype (torch 1.8)
    ("aten::randperm", [[], [], [], [], []], ["Scalar", "Scalar", "", "", "Scalar"], []),  # n not recorded
    ("aten::multinomial", [[4, 10], [], [], []], ["float", "Scalar", "Scalar", ""], []),
    ("aten::arange", [[]] * 3, ["Scalar"] * 3, ["1", "2", "3"]),   # three inputs: no arange overload
    ("aten::arange", [[]] * 7, ["Scalar"] * 7, ["0", "10", "0", "", "", "", ""]),  # step 0
])
def test_inputs_not_recorded(name, dims, types, conc):
    assert op_cost(name, dims, types, conc).note == NOT_RECORDED

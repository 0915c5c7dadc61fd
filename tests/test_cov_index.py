"""kernels/index.py: embeddings, gathers, scatters, index_put, sorting and the index_* in-place ops.

Recorded by the torch CPU profiler; expected numbers are hand counts of the module's convention: no arithmetic
except accumulating writes (1 add each, 2 with an alpha) and embedding backward / bags (1 add per gathered
element); bytes = the index tensors read, the gathered source elements read and the output written (a scatter
into a copy also copies self). int64 indices are 8 bytes, fp32 values 4.
"""
import pytest
import torch
import torch.nn.functional as F

from traceflops import op_cost

from .cov_profile import profile_ops, recorded_cost, rows_of

NOT_RECORDED = "inputs not recorded or not understood"
X = [10, 8]


def _record():
    w = torch.randn(50, 16)
    F.embedding(torch.tensor([[1, 2, 3], [4, 5, 6]]), w)
    bag_idx = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
    F.embedding_bag(bag_idx, w, torch.tensor([0, 4]), mode="sum")
    F.embedding_bag(bag_idx, w, torch.tensor([0, 4, 8]), mode="sum", per_sample_weights=torch.rand(8),
                    include_last_offset=True)
    x = torch.randn(*X)
    i3 = torch.randint(0, 8, (10, 3))
    torch.gather(x, 1, i3)
    x.clone().scatter_(1, i3, torch.randn(10, 3))
    torch.scatter(x, 1, i3, 1.5)
    torch.scatter_add(x, 1, i3, torch.randn(10, 3))
    x.clone().scatter_add_(1, i3, torch.randn(10, 3))
    y = x.clone()
    y[torch.tensor([1, 2])] = torch.randn(2, 8)
    y.index_put_((torch.tensor([0, 1]),), torch.randn(8), accumulate=True)
    torch.sort(x, dim=1, stable=True)
    torch.topk(x, 3)
    x.clone().index_add_(0, torch.tensor([1, 3]), torch.randn(2, 8), alpha=2)
    x.clone().index_add_(0, torch.tensor([1, 3]), torch.randn(2, 8))
    x.clone().index_copy_(0, torch.tensor([1, 3]), torch.randn(2, 8))
    x.clone().index_fill_(1, torch.tensor([0, 2]), -1.)
    x.clone().masked_scatter_(x > 0, torch.randn(80))
    wg = w.clone().requires_grad_()
    F.embedding(torch.tensor([[1, 2, 3], [4, 5, 6]]), wg).pow(2).sum().backward()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return profile_ops(_record, tmp_path_factory.mktemp("index"))


def test_embeddings(ops):
    c = recorded_cost(ops, "aten::embedding")  # 6 indices -> [2, 3, 16]
    assert c.flops == 0 and c.bytes == 6 * 8 + 2 * 96 * 4 and c.family == "embedding"
    c = recorded_cost(ops, "aten::embedding_dense_backward")  # grad [2, 3, 16] -> [50, 16]
    assert c.flops == 96 and c.bytes == 96 * 4 + 6 * 8 + 50 * 16 * 4
    c = recorded_cost(ops, "aten::_embedding_bag_forward_only", 0)  # 2 bags of 8 rows of 16
    assert c.flops == 8 * 16 and c.bytes == 8 * 8 + 2 * 8 + (8 * 16 + 2 * 16) * 4
    c = recorded_cost(ops, "aten::_embedding_bag_forward_only", 1)  # per-sample weights: + 1 mul each
    assert c.flops == 2 * 8 * 16 and c.bytes == 8 * 8 + 3 * 8 + 8 * 4 + (8 * 16 + 2 * 16) * 4


def test_gather_scatter(ops):
    n, idx = 30, 30 * 8
    assert recorded_cost(ops, "aten::gather").bytes == idx + 2 * n * 4
    c = recorded_cost(ops, "aten::scatter_")  # index, src read; the indexed elements written
    assert c.flops == 0 and c.bytes == idx + n * 4 + n * 4
    c = recorded_cost(ops, "aten::scatter")  # a scalar value; self copied first
    assert c.bytes == idx + n * 4 + 2 * 80 * 4
    c = recorded_cost(ops, "aten::scatter_add")  # accumulate: read-modify-write
    assert c.flops == n and c.bytes == idx + n * 4 + 2 * n * 4 + 2 * 80 * 4
    c = recorded_cost(ops, "aten::scatter_add_")
    assert c.flops == n and c.bytes == idx + n * 4 + 2 * n * 4


def test_index_put(ops):
    # torch 2.13 does not record the Tensor?[] indices: values.numel elements are written
    c = recorded_cost(ops, "aten::_index_put_impl_", 0)
    assert c.flops == 0 and c.bytes == 16 * 4 + 16 * 4
    c = recorded_cost(ops, "aten::_index_put_impl_", 1)  # accumulate: values [8] read, 8 read-modify-writes
    assert c.flops == 8 and c.bytes == 8 * 4 + 2 * 8 * 4
    # a recorded index list (torch 2.1+ nested, 1.10-1.12 flattened): the indexed [2, 8] block
    types = ["float", "TensorList", "float", "Scalar", "Scalar"]
    c = op_cost("aten::_index_put_impl_", [X, [[2]], [2, 8], [], []], types, ["", "", "", "True", "False"])
    assert c.flops == 16 and c.bytes == 2 * 8 + 16 * 4 + 2 * 16 * 4
    c = op_cost("aten::_index_put_impl_", [X, [2], [8], [], []], types, ["", "", "", "False", "False"])  # flattened
    assert c.flops == 0 and c.bytes == 2 * 8 + 8 * 4 + 16 * 4
    # index shapes that do not broadcast, or a 0-dim index: values.numel
    c = op_cost("aten::_index_put_impl_", [X, [[2], [3]], [8], [], []], types, ["", "", "", "False", "False"])
    assert c.bytes == 5 * 8 + 8 * 4 + 8 * 4
    c = op_cost("aten::_index_put_impl_", [X, [[]], [8], [], []], types, ["", "", "", "False", "False"])
    assert c.bytes == 1 * 8 + 8 * 4 + 8 * 4  # a 0-dim index is one int64
    assert op_cost("aten::_index_put_impl_", [X, [], []], ["float", "", ""], []).note == NOT_RECORDED


def test_index_with_a_flattened_list():
    # torch 1.10-1.12 flattened x[i, j] (two [2] index tensors) into Input Dims: 2 elements selected
    c = op_cost("aten::index", [X, [2], [2]], ["float", "TensorList"], ["", ""])
    assert c.flops == 0 and c.bytes == 4 * 8 + (2 + 2) * 4


def test_index_reads_its_sub_ops():
    # torch >= 1.13: x[i] with i an int64 [2]: aten::index makes an as_strided view of self (size = the output
    # [2, 8], stride 0 on the indexed dim) and an int view of i; 2 index elements, 16 selected
    strided = ("aten::as_strided", [X, [], [], []], ["float", "ScalarList", "ScalarList", ""], ["", "[2, 8]", "[0, 1]", ""])
    view = ("aten::reshape", [[2], []], ["long int", "ScalarList"], ["", "[2]"])
    other = ("aten::as_strided", [[3, 3], [], []], ["float", "ScalarList", "ScalarList"], ["", "[3]", "[1]"])  # not self
    types = ["float", ""]
    c = op_cost("aten::index", [X, []], types, ["", ""], {"children": (other, view, strided)})
    assert c.flops == 0 and c.bytes == 2 * 8 + (16 + 16) * 4 and c.note is None
    c = op_cost("aten::index", [X, []], types, ["", ""], {"children": (strided,)})
    assert c.bytes == 2 * 8 + (16 + 16) * 4 and "one int64 index assumed" in c.note
    c = op_cost("aten::index", [X, []], types, ["", ""], {"children": (other, view)})
    assert c.bytes is None and "no as_strided sub-op" in c.note
    assert op_cost("aten::index", [[], []], ["", ""], []).note == NOT_RECORDED


def test_sort_topk(ops):
    c = next(op_cost("aten::sort", *r) for r in rows_of(ops, "aten::sort") if len(r[0]) == 4)  # sort.stable
    assert c.flops == 0 and c.bytes == 80 * 4 + 80 * (4 + 8)
    c = recorded_cost(ops, "aten::topk")  # k = 3 on dim -1: [10, 3] values and int64 indices
    assert c.flops == 0 and c.bytes == 80 * 4 + 30 * (4 + 8)
    assert op_cost("aten::topk", [[], [], []], ["float", "Scalar", "Scalar"], ["", "1", "0"]).bytes == 4 + 1 * 12  # 0-dim
    assert op_cost("aten::topk", [X, [], []], ["float", "Scalar", "Scalar"], ["", "2", "5"]).note == NOT_RECORDED  # bad dim
    assert op_cost("aten::topk", [X, []], ["float", "Scalar"], []).note == NOT_RECORDED


def test_index_inplace_ops(ops):
    c = recorded_cost(ops, "aten::index_add_", 0)  # alpha 2: a mul and an add per source element
    assert c.flops == 2 * 16 and c.bytes == 2 * 8 + 16 * 4 + 2 * 16 * 4
    assert recorded_cost(ops, "aten::index_add_", 1).flops == 16
    assert recorded_cost(ops, "aten::index_copy_").bytes == 2 * 8 + 16 * 4 + 16 * 4
    c = recorded_cost(ops, "aten::index_fill_")  # two columns of 10 along dim 1
    assert c.flops == 0 and c.bytes == 2 * 8 + 2 * 10 * 4
    c = recorded_cost(ops, "aten::masked_scatter_")  # the bool mask read: a lower bound
    assert c.bytes == 80 and c.bytes_source == "lower_bound" and "mask" in c.note


def test_index_select_edges():
    assert op_cost("aten::index_select", [[], [], [1]], ["float", "Scalar", "long int"], ["", "0", ""]).bytes == 8 + 2 * 4
    assert op_cost("aten::index_select", [X, [], [3]], ["float", "Scalar", "long int"], []).note == NOT_RECORDED  # no dim


@pytest.mark.parametrize("name,dims,types", [
    ("aten::embedding", [[50], [6]], ["float", "long int"]),
    ("aten::embedding_dense_backward", [[6, 16], [6], []], ["float", "long int", "Scalar"]),
    ("aten::_embedding_bag", [[50, 16], [8], [2, 1]], ["float", "long int", "long int"]),
    ("aten::gather", [X, [], []], ["float", "Scalar", ""]),
    ("aten::scatter_", [X, [], []], ["float", "Scalar", ""]),
    ("aten::index_add_", [X, [], [2], []], ["float", "Scalar", "long int", ""]),
    ("aten::index_copy_", [X, [], [2], []], ["float", "Scalar", "long int", ""]),
    ("aten::index_fill_", [X, [], [2], []], ["float", "Scalar", "long int", "Scalar"]),
    ("aten::index_fill_", [[], [], [2], []], ["", "Scalar", "long int", "Scalar"]),
    ("aten::index_select", [X, [], []], ["float", "Scalar", ""]),
    ("aten::masked_scatter_", [X, [], [80]], ["float", "", "float"]),
    ("aten::sort", [[]], [""]),
])
def test_inputs_not_recorded(name, dims, types):
    assert op_cost(name, dims, types, []).note == NOT_RECORDED

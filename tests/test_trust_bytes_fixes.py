"""Byte counts that put kernels above their memory roof: an `out=` tensor read as an input, and a Triton kernel
that gathers from an embedding table charged with the whole table."""
import pytest

from traceflops import op_cost


def test_out_tensor_is_written_not_read():
    # aten::mul.out(self [4,2798,2798] fp32, other: a 0-dim double, *, out fp32): read self, write out
    n = 4 * 2798 * 2798
    c = op_cost("aten::mul", [[4, 2798, 2798], [], [4, 2798, 2798]], ["float", "double", "float"], [])
    assert c.bytes == n * 4 + 8 + n * 4
    # the functional form with a same-shape tensor `other` still reads it
    assert op_cost("aten::mul", [[4, 8], [4, 8]], ["float", "float"], []).bytes == 3 * 32 * 4
    # add(self, other, alpha, out): the out tensor comes after alpha
    c = op_cost("aten::add", [[4, 8], [4, 8], [], [4, 8]], ["float", "float", "Scalar", "c10::BFloat16"], ["", "", "1", ""])
    assert c.bytes == 2 * 32 * 4 + 32 * 2
    # addcmul(self, t1, t2, value): three tensors read, none is an out
    assert op_cost("aten::addcmul", [[4, 8]] * 3 + [[]], ["float"] * 3 + ["Scalar"], []).bytes == 4 * 32 * 4


def test_triton_gather_counts_the_rows_it_touches():
    """Inductor's fused embedding + layer norm over [4, 512] tokens of a [32768, 1024] table: xnumel 2048 rows of
    rnumel 1024, so at most 2048 x 1024 table elements are read, not 32768 x 1024."""
    dims = [[4, 512], [32768, 1024], [1024], [1024], [4, 512, 1024], [], []]
    types = ["long int", "c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "Scalar", "Scalar"]
    c = op_cost("triton_red_fused_embedding_native_layer_norm_0", dims, types, ["", "", "", "", "", "2048", "1024"])
    assert c.bytes == 2048 * 8 + 2048 * 1024 * 2 + 1024 * 2 * 2 + 2048 * 1024 * 2
    # without the numels nothing caps the table
    c = op_cost("triton_red_fused_embedding_native_layer_norm_0", dims, types, [""] * 7)
    assert c.bytes == 2048 * 8 + 32768 * 1024 * 2 + 1024 * 2 * 2 + 2048 * 1024 * 2
    # a template's trailing ints are grid sizes, not an iteration space
    c = op_cost("triton_tem_fused_mm_0", [[64, 32], [32, 16], [64, 16], [], []],
                ["float", "float", "float", "Scalar", "Scalar"], ["", "", "", "2", "1"])
    assert c.bytes == (64 * 32 + 32 * 16 + 64 * 16) * 4


@pytest.mark.parametrize("n", [1, 1000])
def test_a_table_smaller_than_the_space_is_read_whole(n):
    c = op_cost("triton_poi_fused_add_0", [[n], [n], [n], []], ["float"] * 3 + ["Scalar"], ["", "", "", str(n)])
    assert c.bytes == 3 * n * 4

"""kernels/fbgemm.py: TBE lookups, sparse permutes, jagged tensors and rowwise quantization.

fbgemm is not installed here: every op is built from its fbgemm-gpu-cpu 1.9.0 schema
(/work/research/fbgemm_gpu_cpu_1.9.0_defs.txt, positions in ops.md §E1) as Kineto records it, and the
expected numbers are hand counts of what the op reads and writes (int64 = 8 bytes, int32 = 4, uint8 = 1).
"""
import pytest

from traceflops import op_cost

NOT_RECORDED = "inputs not recorded or not understood"
L, T, B = 100, 2, 4  # indices, tables, batch: offsets hold T*B + 1 entries


def test_tbe_pt2_lookup_lower_bound():
    # _function_pt2: 0 placeholder, 1 weights Tensor[], 2 D_offsets [T+1], 3 total_D, 4 max_D, 5 hash_size_cumsum,
    # 6 total_hash_size_bits, 7 indices, 8 offsets, 9 pooling_mode, 10 indice_weights?, ...
    dims = [[0], [[5000], [0], [0]], [T + 1], [], [], [T + 1], [], [L], [T * B + 1], [], []]
    types = ["float", "TensorList", "int", "Scalar", "Scalar", "long int", "Scalar", "long int", "long int", "Scalar", ""]
    conc = ["", "", "", "64", "32", "", "12", "", "", "0", ""]
    c = op_cost("fbgemm::split_embedding_codegen_lookup_rowwise_adagrad_function_pt2", dims, types, conc)
    # indices + offsets read, >= 1 byte gathered per index (the weights' dtype is a list's: unknown), >= 1 byte
    # per element of the [B, total_D] output
    assert c.flops is None and c.bytes == L * 8 + (T * B + 1) * 8 + L * 1 + B * 64
    assert c.bytes_source == "lower_bound" and c.family == "embedding" and "not recorded" in c.note
    # total_D not recorded (torch <= 2.0): one output byte per table
    c = op_cost("fbgemm::split_embedding_codegen_lookup_sgd_function_pt2", dims, types, [])
    assert c.bytes == L * 8 + (T * B + 1) * 8 + L + B * T


def test_tbe_int_nbit_lookup_reads_per_sample_weights():
    # 0 dev_weights u8, 1 uvm_weights, 2 placements, 3 weights_offsets, 4 weights_tys, 5 D_offsets, 6 total_D,
    # 7-11 max_*_D, 12 indices, 13 offsets, 14 pooling_mode, 15 indice_weights?
    dims = [[5000], [0], [T], [T], [T], [T + 1]] + [[]] * 6 + [[L], [T * B + 1], [], [L]]
    types = ["unsigned char", "unsigned char", "int", "long int", "unsigned char", "int"] + ["Scalar"] * 6 + \
        ["int", "int", "Scalar", "float"]
    conc = [""] * 6 + ["64", "0", "0", "32", "0", "0", "", "", "0", ""]
    c = op_cost("fbgemm::int_nbit_split_embedding_codegen_lookup_function", dims, types, conc)
    assert c.bytes == L * 4 + (T * B + 1) * 4 + L * 4 + L * 1 + B * 64
    # float indices are no index vector: not a TBE call this formula understands
    types[12] = "float"
    assert op_cost("fbgemm::int_nbit_split_embedding_codegen_lookup_function", dims, types, conc).note == NOT_RECORDED


def test_permutes():
    c = op_cost("fbgemm::permute_1D_sparse_data", [[T], [T * B], [L], [L], []],
                ["int", "int", "long int", "float", "Scalar"], ["", "", "", "", ""])
    # read the permutation; read and write lengths, values and weights
    assert c.flops == 0 and c.bytes == T * 4 + 2 * (T * B * 4 + L * 8 + L * 4) and c.family == "sparse"
    assert op_cost("fbgemm::permute_2D_sparse_data", [[T], [], []], ["int", "", ""], []).note == NOT_RECORDED
    c = op_cost("fbgemm::permute_pooled_embs", [[B, 48], [4], [3], [4], [3]], ["float"] + ["long int"] * 4, [""] * 5)
    assert c.flops == 0 and c.bytes == 2 * B * 48 * 4 + (4 + 3 + 4 + 3) * 8
    assert op_cost("fbgemm::permute_pooled_embs", [[], [4]], ["", "long int"], []).note == NOT_RECORDED


@pytest.mark.parametrize("name,out", [("fbgemm::asynchronous_complete_cumsum", 11),
                                      ("fbgemm::asynchronous_exclusive_cumsum", 10),
                                      ("fbgemm::asynchronous_inclusive_cumsum", 10)])
def test_cumsums(name, out):
    # t_in [10] int64: the complete cumsum writes N + 1 (a leading 0), the others N
    c = op_cost(name, [[10]], ["long int"], [""])
    assert c.flops == 10 and c.bytes == (10 + out) * 8
    assert op_cost(name, [[10]], [], []).note == NOT_RECORDED


def test_jagged_dense_conversions():
    # jagged_to_padded_dense(values [L, D], offsets Tensor[] ([B+1]), max_lengths, padding_value): out [B, 20, D]
    c = op_cost("fbgemm::jagged_to_padded_dense", [[L, 16], [[B + 1]], [], []],
                ["float", "TensorList", "ScalarList", "Scalar"], ["", "", "[20]", "0."])
    assert c.bytes == L * 16 * 4 + (B + 1) * 8 + B * 20 * 16 * 4
    # the list not recorded (torch 1.8-2.0 write [] for a TensorList)
    assert op_cost("fbgemm::jagged_to_padded_dense", [[L, 16], [], [], []],
                   ["float", "TensorList", "ScalarList", "Scalar"], ["", "", "[20]", "0."]).note == NOT_RECORDED
    # jagged_2d_to_dense(values [L, D], offsets [B+1], max_sequence_length): out [B, 20, D]
    c = op_cost("fbgemm::jagged_2d_to_dense", [[L, 16], [B + 1], []], ["float", "long int", "Scalar"], ["", "", "20"])
    assert c.bytes == L * 16 * 4 + (B + 1) * 8 + B * 20 * 16 * 4
    c = op_cost("fbgemm::jagged_1d_to_dense", [[L], [B + 1], [], []], ["long int", "long int", "Scalar", "Scalar"],
                ["", "", "20", "0"])
    assert c.bytes == L * 8 + (B + 1) * 8 + B * 20 * 8
    assert op_cost("fbgemm::jagged_2d_to_dense", [[L, 16], [B + 1], []], ["float", "long int", "Scalar"],
                   []).note == NOT_RECORDED
    # dense_to_jagged(dense [B, 20, D], x_offsets Tensor[], total_L): reads and writes total_L rows
    c = op_cost("fbgemm::dense_to_jagged", [[B, 20, 16], [[B + 1]], []], ["float", "TensorList", "Scalar"], ["", "", "70"])
    assert c.bytes == 2 * 70 * 16 * 4 + (B + 1) * 8
    assert op_cost("fbgemm::dense_to_jagged", [[B, 20, 16], [[B + 1]], []], ["float", "TensorList", ""],
                   ["", "", ""]).note == NOT_RECORDED  # total_L None: the jagged size is a tensor value


def test_rowwise_quantization():
    c = op_cost("fbgemm::FloatToFused8BitRowwiseQuantized", [[32, 64]], ["float"], [""])
    # reads fp32 [32, 64], writes uint8 [32, 64 + 8] (a fp32 scale and bias per row); 3 per element
    assert c.flops == 3 * 2048 and c.bytes == 2048 * 4 + 32 * 72 and c.family == "elementwise"
    c = op_cost("fbgemm::HalfToFused8BitRowwiseQuantized", [[32, 64]], ["c10::Half"], [""])
    assert c.bytes == 2048 * 2 + 32 * 72
    assert op_cost("fbgemm::FloatToFused8BitRowwiseQuantized", [[]], ["float"], [""]).note == NOT_RECORDED
    # back: reads uint8 [32, 72], writes [32, 64]
    c = op_cost("fbgemm::Fused8BitRowwiseQuantizedToFloat", [[32, 72]], ["unsigned char"], [""])
    assert c.flops == 2 * 2048 and c.bytes == 32 * 72 + 2048 * 4
    assert op_cost("fbgemm::Fused8BitRowwiseQuantizedToHalf", [[32, 72]], ["unsigned char"], [""]).bytes == 32 * 72 + 2048 * 2
    # ToFloatOrHalf(input, output_dtype SparseType: 0 fp32, 1 fp16, 5 bf16, ...)
    for code, size in (("0", 4), ("1", 2), ("5", 2)):
        c = op_cost("fbgemm::Fused8BitRowwiseQuantizedToFloatOrHalf", [[32, 72], [], [], []],
                    ["unsigned char", "Scalar", "Scalar", "Scalar"], ["", code, "True", "True"])
        assert c.bytes == 32 * 72 + 2048 * size, code
    assert op_cost("fbgemm::Fused8BitRowwiseQuantizedToFloat", [[32, 4]], ["unsigned char"], [""]).note == NOT_RECORDED

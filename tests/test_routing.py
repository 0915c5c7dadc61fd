"""MoE routing ops of triton_kernels (TopK, SortTokens): bytes by hand from the recorded inputs."""
from traceflops.kernels import op_cost


def test_topk_bytes_by_hand():
    # router logits [8192, 32] bf16, k=4, softmax, dim 1, bitmatrix: as recorded in the vLLM gpt-oss capture
    c = op_cost("TopK", [[8192, 32], [], [], [], [], [], []],
                ["c10::BFloat16", "Scalar", "Scalar", "Scalar", "Scalar", "", ""], ["", "4", "True", "1", "True", "", ""])
    logits, values_ids, bitmatrix = 8192 * 32 * 2, 8192 * 4 * (2 + 2), 8192 * 1 * 4
    assert c.flops == 0 and c.bytes == logits + values_ids + bitmatrix and c.family == "routing"
    no_bm = op_cost("TopK", [[8192, 32], [], [], [], [], [], []],
                    ["c10::BFloat16", "Scalar", "Scalar", "Scalar", "Scalar", "", ""], ["", "4", "True", "1", "False", "", ""])
    assert no_bm.bytes == logits + values_ids


def test_sort_tokens_bytes_by_hand():
    c = op_cost("SortTokens", [[8192, 4], [8192, 4], []], ["c10::BFloat16", "short int", "Scalar"], ["", "", "32"])
    n = 8192 * 4
    assert c.flops == 0 and c.bytes == n * (2 + 2) + n * (2 + 4 + 4) + 32 * 4


def test_routing_needs_its_inputs():
    for c in (op_cost("TopK", [[], [], [], [], [], [], []], ["", "Scalar"] + [""] * 5, ["", "4"] + [""] * 5),
              op_cost("SortTokens", [[8192, 4], [8192, 2], []], ["c10::BFloat16", "short int", "Scalar"], ["", "", "32"])):
        assert c.flops is None and c.bytes is None and c.note == "inputs not recorded or not understood"

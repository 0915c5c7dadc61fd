"""Serving-engine custom ops whose cost follows from their recorded inputs."""
from traceflops.kernels import op_cost


def test_vllm_rotary_embedding_by_hand():
    # T=10 tokens, 8 query heads and 2 KV heads of size 64, rotating all 64 dims (cache row = 64 values)
    c = op_cost("_C::rotary_embedding", [[10], [10, 512], [10, 128], [], [4096, 64], []],
                ["long int", "c10::BFloat16", "c10::BFloat16", "Scalar", "c10::BFloat16", "Scalar"],
                ["", "", "", "64", "", "True"])
    assert c.flops == 3 * 10 * (8 + 2) * 64
    qk = (10 * 512 + 10 * 128) * 2
    assert c.bytes == 2 * qk + 10 * 8 + 10 * 64 * 2
    assert c.dtype == "bf16"


def test_rotary_without_shapes_is_unknown_not_guessed():
    c = op_cost("_C::rotary_embedding", [[], [], [], [], [], []], [], [])
    assert c is None or (c.flops is None and c.bytes is None)

"""Issue 17: serving attention costed from the step annotation's Σsq·sk instead of guessed sequence lengths."""
import numpy as np
import pytest

import traceflops
from traceflops.cost.serving_attention import NOTE, phase_pairs
from traceflops.kernels.attention import attended_pairs

from .conftest import SHARED, needs_shared

PIECEWISE = "tracelens/inference__vllm_prefilldecode_piecewise__graph_execution.json.gz"


def _row(side, reqs):
    """A steps-table row for one phase made of requests (sq new tokens, sk keys after the step)."""
    return {f"{side}_requests": len(reqs), f"{side}_tokens": sum(q for q, _ in reqs),
            f"{side}_context_tokens": sum(k for _, k in reqs), f"{side}_sqsq": sum(q * q for q, _ in reqs),
            f"{side}_sqsk": sum(q * k for q, k in reqs)}


@pytest.mark.parametrize("seed", range(5))
def test_pairs_from_sums_equal_the_per_request_count(seed):
    rng = np.random.default_rng(seed)
    reqs = [(int(q), int(q + c)) for q, c in zip(rng.integers(1, 300, 7), rng.integers(0, 2000, 7))]
    truth = sum(attended_pairs(q, k, causal=True, bottom_right=True) for q, k in reqs)
    assert phase_pairs(_row("prefill", reqs), "prefill") == truth


def test_decode_needs_only_the_context_sum():
    reqs = [(1, 100), (1, 5), (1, 4000)]
    row = _row("decode", reqs)
    row["decode_sqsq"] = row["decode_sqsk"] = None  # a format that records only Σsk
    assert phase_pairs(row, "decode") == 4105
    row = _row("prefill", [(10, 50), (20, 30)])
    row["prefill_sqsq"] = row["prefill_sqsk"] = None  # two requests and only the sums: not knowable
    assert phase_pairs(row, "prefill") is None


@needs_shared
def test_vllm_unified_attention_from_the_step():
    """execute_8192_context_9(sq8155sk8430sqsq7475785sqsk7671310)_generation_37(sq37sk34489sqsq37sqsk34489):
    one unified_attention call per layer over all 8192 rows, q [8192, 64, 64]."""
    a = traceflops.analyze(SHARED / PIECEWISE)
    ops = a.ops[a.ops["name"] == "vllm::unified_attention_with_output"]
    pairs = (7671310 - (7475785 - 8155) / 2) + (34489 - (37 - 37) / 2)
    assert len(ops) == 24
    assert ops["flops"].tolist() == [2 * 64 * (64 + 64) * pairs] * 24
    assert set(ops["flops_source"]) == {"step_annotation"}
    att = a.kernels[a.kernels["op"] == "vllm::unified_attention_with_output"]
    assert att["roof_flag"].isna().all() and (att["pct_of_ceiling"] < 100).all()  # no longer above the roof
    assert a.summary["roofline"]["suspect"] == 0
    assert NOTE  # the note on the op says where the pairs came from and what is not counted


def test_an_op_covering_no_phase_keeps_its_estimate(tmp_path):
    """A unified_attention call over 5 rows in a step of 8 prefill + 2 decode tokens matches no phase."""
    import json
    name = "execute_10_context_1(sq8sk8sqsq64sqsk64)_generation_2(sq2sk40sqsq2sqsk40)"
    ev = [{"ph": "X", "cat": "user_annotation", "name": name, "pid": 1, "tid": 1, "ts": 0, "dur": 100},
          {"ph": "X", "cat": "cpu_op", "name": "vllm::unified_attention_with_output", "pid": 1, "tid": 1, "ts": 10,
           "dur": 50, "args": {"Input Dims": [[5, 4, 16], [5, 2, 16], [5, 2, 16], [5, 4, 16]],
                               "Input type": ["c10::BFloat16"] * 4}},
          {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 20, "dur": 5,
           "args": {"correlation": 3}},
          {"ph": "X", "cat": "kernel", "name": "kernel_unified_attention_2d", "pid": 0, "tid": 7, "ts": 30, "dur": 10,
           "args": {"correlation": 3, "device": 0, "stream": 7}}]
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"traceEvents": ev}))
    o = traceflops.analyze(p).ops.set_index("name").loc["vllm::unified_attention_with_output"]
    assert o["flops_source"] == "estimate"
    ev[1]["args"]["Input Dims"] = [[10, 4, 16], [10, 2, 16], [10, 2, 16], [10, 4, 16]]
    p.write_text(json.dumps({"traceEvents": ev}))
    o = traceflops.analyze(p).ops.set_index("name").loc["vllm::unified_attention_with_output"]
    assert o["flops_source"] == "step_annotation"
    assert o["flops"] == 2 * 4 * 32 * ((64 - (64 - 8) / 2) + 40)

"""Per-step model cost: MFU and MBU from the steps table and a HF config; GPUs counted once; speculative decoding;
the config check (layers from the kernels); `traceflops analyze TRACE --model CONFIG`; the report section."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from traceflops import analyze
from traceflops.cli import main
from traceflops.metrics.serving import gpu_count
from traceflops.modelflops import measured_speculative

from .conftest import SHARED, needs_shared
from .test_steps_table import _ann, _kernel, _launch, _write, serving_trace

DATA = Path(__file__).parent / "data" / "models"
TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16"}


def tiny_prefill_flops(tokens, keys, logits):
    """2 layers: qkv 64->(4+2*2)*16, o 64->64, gate_up 64->256, down 128->64; QK and PV over 4 heads of 16."""
    per_tok = 2 * 64 * 128 + 2 * 64 * 64 + 2 * 64 * 256 + 2 * 128 * 64
    return 2 * (tokens * per_tok + 2 * 2 * 4 * 16 * keys) + logits * 2 * 64 * 100


def test_mfu_and_mbu_per_step_by_hand(tmp_path):
    a = analyze(serving_trace(tmp_path), device="h100-sxm")
    m = a.model_steps(TINY)
    t = a.steps
    f0 = tiny_prefill_flops(100, 100 * 101 / 2, 1)  # one 100-token prompt, one logits row
    assert t.loc[0, "model_flops"] == f0
    assert t.loc[1, "model_flops"] != t.loc[1, "model_flops"]  # the native format has no context lengths
    assert "context lengths not recorded" in t.loc[1, "model_note"]
    peak_f, peak_b = a.summary["device"]["peak_tflops"]["bf16"], a.summary["device"]["peak_tbps"]
    assert m["peak_tflops"] == peak_f and m["gpus"] == 1
    assert t.loc[0, "mfu"] == pytest.approx(f0 / (45e-6 * peak_f * 1e12))
    assert t.loc[0, "busy_mfu"] == pytest.approx(f0 / (30e-6 * peak_f * 1e12))
    assert t.loc[0, "mbu"] == pytest.approx(t.loc[0, "model_bytes"] / (45e-6 * peak_b * 1e12))
    s = a.summary["serving"]
    assert s["mfu"]["max"] == pytest.approx(t.loc[0, "mfu"]) and s["overall"]["steps"] == 2
    assert [r["phase"] for r in s["by_phase"]] == ["decode", "prefill"]
    assert s["by_phase"][0]["mfu"] is None and s["by_phase"][1]["mfu"] == pytest.approx(t.loc[0, "mfu"])


def test_tp_divides_by_gpus_once(tmp_path):
    a = analyze(serving_trace(tmp_path), device="h100-sxm")
    one = a.model_steps(TINY)
    mfu1 = a.steps.loc[0, "mfu"]
    m = a.model_steps(TINY, tp=8, ep=8)
    assert (m["gpus"], one["gpus"]) == (8, 1)
    assert a.steps.loc[0, "mfu"] == pytest.approx(mfu1 / 8)  # 8 GPUs, not 64


def test_gpu_count_from_distributed_info():
    pgs = {"world_size": 16, "pg_config": [{"pg_size": 8, "backend_config": "cuda:nccl"}, {"pg_size": 1}]}
    assert gpu_count(pgs)[0] == 8
    assert gpu_count({"world_size": 4})[0] == 4
    assert gpu_count({})[0] == 1
    assert gpu_count(pgs, tp=4)[0] == 4 and gpu_count(pgs, tp=2, ep=4)[0] == 4
    with pytest.raises(ValueError):
        gpu_count({}, tp=0)


def _spec_trace(tmp_path):
    """A vLLM speculative decode step: 4 requests, 1 + 2 draft tokens each, 1000 cached tokens each."""
    name = "execute_12_context_0(sq0sk0sqsq0sqsk0)_generation_4(sq12sk4012sqsq36sqsk12036)"
    return _write(tmp_path, [_ann(name, 0, 100, 1), _launch(10, 1), _kernel(200, 50, 1)])


def test_speculative_step_with_draft_and_accepted(tmp_path):
    a = analyze(_spec_trace(tmp_path), device="h100-sxm")
    assert a.steps.loc[0, "speculative"]
    draft = {**TINY, "num_hidden_layers": 1}
    m = a.model_steps(TINY, draft=draft, accepted=1)
    sp = m["speculative"]
    assert sp["verify_steps"] == 1 and sp["draft_tokens_per_request"] == 2
    # target: 12 positions; keys = Σq·k − Σq²/2 + Σq/2 = 12036 − 18 + 6; logits on every position
    target = tiny_prefill_flops(12, 12036 - 18 + 6, 12)
    # draft (1 layer): 8 positions (2 per request), context ~ Σsk: keys = 2*4012 - 4*4/2 + 8/2
    draft_f = (tiny_prefill_flops(8, 2 * 4012 - 8 + 4, 8) - 8 * 2 * 64 * 100) / 2 + 8 * 2 * 64 * 100
    assert sp["target_flops"] == pytest.approx(target) and sp["draft_flops"] == pytest.approx(draft_f)
    assert a.steps.loc[0, "model_flops"] == pytest.approx(target + draft_f)
    assert sp["emitted_tokens"] == 4 * 2
    wasted = target * (2 - 1) / 3 + draft_f * (2 - 1) / 2
    assert sp["wasted_share"] == pytest.approx(wasted / (target + draft_f))
    assert sp["flops_per_accepted_token"] == pytest.approx((target + draft_f) / 8)
    with pytest.raises(ValueError):
        a.model_steps(TINY, draft=draft, accepted=3)  # more than the 2 draft tokens


def test_measured_speculative_without_counts():
    out = measured_speculative([{"step": 0, "requests": 4, "width": 2.0, "target_flops": 1.0, "draft_flops": None}])
    assert "pass --accepted" in out["note"]
    assert "no speculative steps" in measured_speculative([])["note"]


def test_model_without_steps_needs_tokens(tmp_path):
    p = _write(tmp_path, [_ann("my_region", 0, 100, 1), _launch(10, 1), _kernel(50, 5, 1)])
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(TINY))
    r = CliRunner().invoke(main, ["analyze", str(p), "--model", str(cfg), "-o", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 2 and "--tokens" in r.output and len(r.output.strip().splitlines()) == 1


def test_cli_model_alone_uses_the_steps(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(TINY))
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["analyze", str(serving_trace(tmp_path)), "--model", str(cfg), "--device", "h100-sxm",
                                  "--tp", "2", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["serving"]["model"]["gpus"] == 2 and s["serving"]["per_step"][0]["mfu"] > 0
    assert "model_reconciliation" not in s
    assert "fig-steps" in (out / "report.html").read_text()
    bad = CliRunner().invoke(main, ["analyze", str(serving_trace(tmp_path)), "--model", str(cfg), "--tp", "0",
                                    "-o", str(out), "-q"])
    assert bad.exit_code == 2


CONFIGS = {  # trace -> config that matches it (docs/serving.md, "Does the config match the trace?")
    "inference__sglang_decode__sglang_Qwen3-8B_decode.json.gz": "Qwen__Qwen3-8B",
    "inference__sglang_prefilldecode__sglang_Qwen3-8B_prefilldecode.json.gz": "Qwen__Qwen3-8B",
    "inference__vllm_decode_full__graph_execution.json.gz": "openai__gpt-oss-20b",
    "inference__vllm_prefilldecode_piecewise__graph_execution.json.gz": "openai__gpt-oss-20b",
    "qwen3_30b_a3b__B300__1782799835.6885648-TP-0-DECODE.trace.json.gz": "Qwen__Qwen3-30B-A3B",
    "qwen3_30b_a3b__MI300__1782859605.7198358-TP-0-DECODE.trace.json.gz": "Qwen__Qwen3-30B-A3B",
    "deepseek_r1__B300__1782843274.7730265-TP-0-DECODE.trace.json.gz": "deepseek-ai__DeepSeek-R1-Distill-Llama-8B",
    "deepseek_r1__MI300__1782841132.2905657-TP-0-DECODE.trace.json.gz": "deepseek-ai__DeepSeek-R1-Distill-Llama-8B",
}


@needs_shared
@pytest.mark.parametrize("name", sorted(CONFIGS), ids=lambda n: n[:40])
def test_shared_traces_with_their_configs(name):
    a = analyze(SHARED / "tracelens" / name)
    m = a.model_steps(str(DATA / f"{CONFIGS[name]}.json"))
    assert m["check"]["layers_match"] is True and m["check"]["warning"] is None
    assert m["check"]["hidden_in_gemm_shapes"] in (True, None)
    r = a.steps.iloc[0]
    assert np.isfinite(r["model_flops"]) and np.isfinite(r["model_bytes"])
    assert 0 < r["mfu"] < 1 and 0 < r["mbu"] < 1  # a physical bound a wrong byte model would break


@needs_shared
def test_published_r1_config_does_not_match_the_deepseek_r1_traces():
    a = analyze(SHARED / "tracelens" / "deepseek_r1__B300__1782843274.7730265-TP-0-DECODE.trace.json.gz")
    m = a.model_steps(str(DATA / "deepseek-ai__DeepSeek-R1.json"))
    assert (m["check"]["layers_config"], m["check"]["layers_from_kernels"], m["check"]["layers_match"]) == (61, 32, False)
    assert m["check"]["warning"] in a.summary["warnings"]
    assert a.steps.iloc[0]["mbu"] > 1  # 671B of weights cannot be read in one 5.5 ms step: the wrong model

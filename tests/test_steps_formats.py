"""Serving-engine step annotation formats, one test per format on real strings: the shared traces' own names,
the examples in TraceLens' annotation_utils.py comments and the engines' f-strings (docs/serving.md)."""
import gzip
import json

import pytest

from traceflops.metrics.step_formats import FORMATS, parse_step_annotation, step_phase

from .conftest import SHARED, needs_shared


def p(name):
    r = parse_step_annotation(name)
    assert r is not None, name
    return r


def test_vllm_detailed_from_the_piecewise_trace():
    r = p("execute_8192_context_9(sq8155sk8430sqsq7475785sqsk7671310)_generation_37(sq37sk34489sqsq37sqsk34489)")
    assert r["format"] == "vllm_detailed"
    assert (r["tokens"], r["prefill_requests"], r["prefill_tokens"], r["prefill_context_tokens"]) == (8192, 9, 8155, 8430)
    assert (r["prefill_sqsq"], r["prefill_sqsk"]) == (7475785, 7671310)
    assert (r["decode_requests"], r["decode_tokens"], r["decode_context_tokens"]) == (37, 37, 34489)
    assert (r["decode_sqsq"], r["decode_sqsk"], r["requests"]) == (37, 34489, 46)
    assert step_phase(r) == "mixed"


def test_vllm_detailed_tracelens_example_and_decode_trace():
    r = p("execute_6147_context_2(sq6144sk7144sqsq20971520sqsk23019520)_generation_3(sq3sk6144sqsq3sqsk6144)")
    assert r["tokens"] == 6147 == r["prefill_tokens"] + r["decode_tokens"]
    r = p("execute_16_context_0(sq0sk0sqsq0sqsk0)_generation_16(sq16sk8209sqsq16sqsk8209)")
    assert (r["prefill_requests"], r["decode_requests"], r["decode_context_tokens"]) == (0, 16, 8209)
    assert step_phase(r) == "decode"


@pytest.mark.parametrize("name,expect", [
    ("execute_context_2(14721)_generation_0(0)", (2, 14721, 0, 0)),
    ("execute_context_0(0)_generation_64(64)", (0, 0, 64, 64)),
    ("execute_context_2(6144)_generation_3(3)", (2, 6144, 3, 3)),
])
def test_vllm_context_generation(name, expect):
    r = p(name)
    assert r["format"] == "vllm_context_generation"
    assert (r["prefill_requests"], r["prefill_tokens"], r["decode_requests"], r["decode_tokens"]) == expect
    # the native format has no KV lengths (a phase without requests has none to record)
    assert r["prefill_context_tokens"] == (None if r["prefill_requests"] else 0)
    assert r["decode_context_tokens"] == (None if r["decode_requests"] else 0)


def test_vllm_context_generation_speculative_widths():
    r = p("execute_context_0(0)_generation_4(12)")  # 4 requests, 1 + 2 drafts each
    assert r["decode_tokens"] == 12 and r["decode_sqsq"] is None  # widths may differ: Σsq² unknown


def test_vllm_new_cached():
    r = p("execute_new_2_cached_62")  # vllm 0.12-0.13 f"execute_new_{num_new}_cached_{num_cached}"
    assert r["format"] == "vllm_new_cached" and r["requests"] == 64
    assert r["prefill_requests"] is None and r["decode_requests"] is None and step_phase(r) is None
    r = p("execute_new_3_cached_0")
    assert (r["prefill_requests"], r["decode_requests"], step_phase(r)) == (3, 0, "prefill")


def test_vllm_capture():
    r = p("capture_8192_PIECEWISE")
    assert (r["format"], r["mode"], r["tokens"], step_phase(r)) == ("vllm_capture", "PIECEWISE", 8192, "capture")
    assert p("capture_512_FULL")["mode"] == "FULL"


@pytest.mark.parametrize("name,mode,pr,pt,dr,dt", [
    ("step[EXTEND bs=15 toks=15360]", "EXTEND", 15, 15360, 0, 0),
    ("step[DECODE bs=16]", "DECODE", 0, 0, 16, 16),
    ("step[decode bs=4]", "DECODE", 0, 0, 4, 4),  # the lower-case form of the PR description
    ("step[prefill bs=2 toks=100]", "PREFILL", 2, 100, 0, 0),
    ("step[VERIFY bs=8]", "VERIFY", 0, 0, 8, None),
    ("step[TARGET_VERIFY bs=8]", "TARGET_VERIFY", 0, 0, 8, None),
    ("step[DRAFT bs=8]", "DRAFT", 0, 0, 8, None),
    ("step[DRAFT_EXTEND_V2 bs=4]", "DRAFT_EXTEND_V2", 4, None, 0, 0),
    ("step[IDLE bs=0]", "IDLE", 0, 0, 0, 0),
])
def test_sglang_native(name, mode, pr, pt, dr, dt):
    r = p(name)
    assert r["format"] == "sglang_step" and r["mode"] == mode
    assert (r["prefill_requests"], r["prefill_tokens"], r["decode_requests"], r["decode_tokens"]) == (pr, pt, dr, dt)


def test_sglang_mixed_native_has_no_split():
    r = p("step[MIXED bs=2]")
    assert r["requests"] == 2 and r["prefill_requests"] is None and step_phase(r) is None


def test_sglang_detailed_examples():
    r = p("step[EXTEND bs=2 toks=14721 c_sq=14721 c_sqsq=108745533 c_sqsk=108745533 c_sk=14721]")
    assert r["format"] == "sglang_step_detailed"
    assert (r["prefill_requests"], r["prefill_tokens"], r["prefill_context_tokens"], r["prefill_sqsq"]) == \
        (2, 14721, 14721, 108745533)
    assert r["decode_requests"] == 0 and r["decode_tokens"] == 0
    r = p("step[DECODE bs=64 g_sq=128 g_sqsq=256 g_sqsk=262144 g_sk=131072]")  # MTP: 2 tokens per request
    assert (r["decode_requests"], r["decode_tokens"], r["decode_sqsq"], r["decode_sqsk"]) == (64, 128, 256, 262144)
    r = p("step[MIXED bs=2 c=1 g=1 c_sq=5 c_sk=8 c_sqsq=25 c_sqsk=40 g_sq=1 g_sk=12 g_sqsq=1 g_sqsk=12]")
    assert (r["prefill_requests"], r["prefill_tokens"], r["prefill_context_tokens"]) == (1, 5, 8)
    assert (r["decode_requests"], r["decode_tokens"], r["decode_context_tokens"]) == (1, 1, 12)
    assert step_phase(r) == "mixed" and r["tokens"] == 6


def test_sglang_detailed_phase_follows_key_prefix_and_forward_id():
    # TraceLens' 0.5.17 patch writes TARGET_VERIFY with c_ keys; upstream >= 0.5.19 with g_ keys
    r = p("step[TARGET_VERIFY bs=4 c_sq=16 c_sqsq=64 c_sqsk=4096 c_sk=1024]")
    assert (r["prefill_requests"], r["prefill_tokens"], r["decode_requests"]) == (4, 16, 0)
    r = p("step[VERIFY bs=4 g_sq=16 g_sqsq=64 g_sqsk=4096 g_sk=1024 forward_id=17]")
    assert (r["decode_requests"], r["decode_tokens"], r["forward_id"]) == (4, 16, 17)


def test_sglang_draft_loop():
    r = p("step[DRAFT_LOOP raw_bs=5 bs=8 topk=1]")
    assert (r["format"], r["mode"], r["decode_requests"], r["decode_tokens"]) == ("sglang_draft_loop", "DRAFT_LOOP", 5, None)


def test_atom():
    r = p("prefill[bs=2 tok=14721 ctx=[7803, 6918]]")
    assert (r["format"], r["prefill_requests"], r["prefill_tokens"], r["decode_requests"]) == ("atom", 2, 14721, 0)
    r = p("decode[bs=64 tok=64 d=64]")
    assert (r["decode_requests"], r["decode_tokens"], step_phase(r)) == (64, 64, "decode")
    r = p("decode[bs=117/128 tok=117 d=117]")  # real batch 117 of a padded graph batch of 128
    assert r["decode_requests"] == 117 and "real/padded" in r["format_note"]
    r = p("prefill[bs=7 tok=9000 ctx=[1000, 2000, 1500, 500, 1000]...+2]")  # ctx truncated after 5 entries
    assert r["prefill_requests"] == 7 and r["prefill_tokens"] == 9000


def test_atom_detailed_and_mixed():
    r = p("decode[bs=32 tok=128 d=32 spec=3 sqsq=512 sqsk=262144 sk=65536]")
    assert r["format"] == "atom_detailed"
    assert (r["decode_requests"], r["decode_tokens"], r["decode_sqsq"], r["decode_sqsk"], r["decode_context_tokens"]) == \
        (32, 128, 512, 262144, 65536)
    r = p("decode[bs=128 tok=384 p=2 d=126 tbo=1]")
    assert (r["prefill_requests"], r["decode_requests"], r["decode_tokens"], r["prefill_tokens"]) == (2, 126, 126, 258)
    assert step_phase(r) == "mixed"


@pytest.mark.parametrize("name,expect", [
    ("[Executor] _forward_step 60000: 0 ctx reqs, 0 ctx tokens, 32 gen reqs", (0, 0, 32)),
    ("[Executor] _forward_step 12: 2 ctx reqs, 5 gen reqs", (2, None, 5)),
    ("_forward_step: 1 ctx reqs, 3 gen reqs", (1, None, 3)),
    ("executeStep: 1 ctx reqs, 2 gen reqs", (1, None, 2)),
])
def test_trtllm(name, expect):
    r = p(name)
    assert r["format"] == "trtllm_forward_step"
    assert (r["prefill_requests"], r["prefill_tokens"], r["decode_requests"]) == expect


def test_xdit():
    r = p("execute_diffusion_1_256x256")
    assert (r["format"], r["requests"], r["format_note"]) == ("xdit_diffusion", 1, "diffusion step, 256x256")
    assert "not recorded" in p("execute_diffusion_1_0x0")["format_note"]


@pytest.mark.parametrize("name", ["ProfilerStep#3", "## Call CompiledFxGraph fb3en3abc ##", "model_inference",
                                  "execute_model", "step", "step[]", "decode", "gpu_model_runner: forward", None, 3,
                                  "execute_context_1(2)_generation_3", "x" * 5000])
def test_not_steps(name):
    assert parse_step_annotation(name) is None


def test_every_format_has_a_real_example_that_parses_to_it():
    for fmt, (_, example) in FORMATS.items():
        assert p(example)["format"] == fmt


@needs_shared
def test_every_step_annotation_in_the_shared_serving_traces_parses():
    """Each serving trace's step annotations parse, and the detailed sums obey their identities (docs/serving.md):
    Σsq² ≥ Σsq; decode with one token per request has Σsq² = Σsq = requests and Σsq·sk = Σsk."""
    names = set()
    for path in sorted((SHARED / "tracelens").glob("*")):
        if not any(s in path.name for s in ("inference__", "DECODE")):
            continue
        with gzip.open(path, "rt") if path.name.endswith(".gz") else open(path) as f:
            ev = json.load(f)
        ev = ev["traceEvents"] if isinstance(ev, dict) else ev
        names |= {e["name"] for e in ev if e.get("cat") in ("user_annotation", "gpu_user_annotation")
                  and not e["name"].startswith(("## Call", "ProfilerStep", "model_inference"))}
    assert len(names) >= 10
    for n in names:
        r = p(n)
        for side in ("prefill", "decode"):
            sq, sqsq = r[f"{side}_tokens"], r[f"{side}_sqsq"]
            if sq is not None and sqsq is not None:
                assert sqsq >= sq
        if r["format"] == "vllm_detailed" and r["decode_requests"] == r["decode_tokens"]:
            assert r["decode_sqsq"] == r["decode_tokens"] and r["decode_sqsk"] == r["decode_context_tokens"]

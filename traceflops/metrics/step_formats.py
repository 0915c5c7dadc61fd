"""Serving-engine step annotations: one engine step's batch, read from the name of its record_function span.

Each format is one regex plus one function that turns its groups into the same fields (`FIELDS`); a field
the format does not record is None; the one assumption (one token per request of a plain decode label) is
stated in `format_note`. Provenance of every format (engine source by version,
real example strings) is in docs/serving.md.

    sq = query (new) tokens of a request in this step, sk = its KV length after the step (new tokens included),
    Σsq², Σsq·sk: summed over the phase's requests (vLLM detailed / SGLang detailed / ATOM detailed).
"""
import re

FIELDS = ("format", "mode", "requests", "prefill_requests", "prefill_tokens", "prefill_context_tokens",
          "prefill_sqsq", "prefill_sqsk", "decode_requests", "decode_tokens", "decode_context_tokens",
          "decode_sqsq", "decode_sqsk", "tokens", "forward_id", "format_note")

# format -> (engine and versions, a real example string); docs/serving.md and the tests read this table.
FORMATS = {
    "vllm_new_cached": ("vLLM 0.12-0.13 (gpu_worker.annotate_profile)", "execute_new_2_cached_62"),
    "vllm_context_generation": ("vLLM >= 0.14 (compute_iteration_details)", "execute_context_2(6144)_generation_3(3)"),
    "vllm_detailed": ("vLLM >= 0.26 with detailed_trace_annotation; TraceLens patches for vLLM 0.14-0.24 and "
                      "its SGLang scheduler patch",
                      "execute_8192_context_9(sq8155sk8430sqsq7475785sqsk7671310)"
                      "_generation_37(sq37sk34489sqsq37sqsk34489)"),
    "vllm_capture": ("vLLM >= 0.26 capture_torch_profiler_dir; TraceLens patches", "capture_8192_PIECEWISE"),
    "sglang_step": ("SGLang >= 0.5.11 (ModelRunner.forward span; VERIFY/DRAFT labels >= 0.5.20)",
                    "step[EXTEND bs=15 toks=15360]"),
    "sglang_step_detailed": ("SGLang >= 0.5.19 detailed_annotations (forward_id >= 0.5.23)",
                             "step[MIXED bs=2 c=1 g=1 c_sq=5 c_sk=8 c_sqsq=25 c_sqsk=40 g_sq=1 g_sk=12 g_sqsq=1 "
                             "g_sqsk=12]"),
    "sglang_draft_loop": ("SGLang >= 0.5.13 frozen-KV MTP draft graph", "step[DRAFT_LOOP raw_bs=5 bs=8 topk=1]"),
    "atom": ("ROCm/ATOM (record_function on every forward)", "decode[bs=117/128 tok=117 d=117]"),
    "atom_detailed": ("ROCm/ATOM ATOM_ENABLE_DETAILED_ANNOTATION=1 (PR #477)",
                      "decode[bs=32 tok=128 d=32 spec=3 sqsq=512 sqsk=262144 sk=65536]"),
    "trtllm_forward_step": ("TensorRT-LLM PyTorch executor (an NVTX range: in a Kineto trace only if recorded "
                            "as a record_function)", "[Executor] _forward_step 60000: 0 ctx reqs, 0 ctx tokens, "
                                                     "32 gen reqs"),
    "xdit_diffusion": ("xDiT (observed in traces; source not found)", "execute_diffusion_1_256x256"),
}

_N = r"(\d+)"
_AGG = r"\(sq(\d+)sk(\d+)sqsq(\d+)sqsk(\d+)\)"
_VLLM_DETAILED = re.compile(rf"^execute_{_N}_context_{_N}{_AGG}_generation_{_N}{_AGG}$")
_VLLM_NATIVE = re.compile(rf"^execute_context_{_N}\({_N}\)_generation_{_N}\({_N}\)$")
_VLLM_NEW_CACHED = re.compile(rf"^execute_new_{_N}_cached_{_N}$")
_CAPTURE = re.compile(rf"^capture_{_N}_([A-Za-z_]+)$")
_SGLANG = re.compile(r"^step\[([A-Za-z][A-Za-z0-9_]*)((?:\s+[A-Za-z_]+=[^\s\]]+)*)\s*\]$")
_ATOM = re.compile(r"^(prefill|decode)\[(.*)\]$")
_ATOM_KV = re.compile(r"(\w+)=(\[[^\]]*\](?:\.\.\.\+\d+|…\+\d+)?|[^\s\]]+)")
_TRTLLM = re.compile(r"^(?:\[Executor\] )?(?:_forward_step|executeStep)(?: (\d+))?: (\d+) ctx reqs, "
                     r"(?:(\d+) ctx tokens, )?(\d+) gen reqs$")
_XDIT = re.compile(rf"^execute_diffusion_{_N}_{_N}x{_N}$")

# SGLang ForwardMode names (and stage labels) that process new prompt tokens; the rest generate.
_SGLANG_EXTEND = {"EXTEND", "PREFILL", "SPLIT_PREFILL", "DLLM_EXTEND", "DRAFT_EXTEND", "DRAFT_EXTEND_V2", "PREBUILT"}
_SGLANG_GENERATE = {"DECODE", "TARGET_VERIFY", "VERIFY", "DRAFT"}
ONE_TOKEN = "one new token per decode request assumed (a multi-token width is recorded only by detailed formats)"


def _row(fmt, **kw):
    r = dict.fromkeys(FIELDS)
    r["format"] = fmt
    r.update(kw)
    for side in ("prefill", "decode"):  # a phase with no requests has no tokens or context either
        if r[f"{side}_requests"] == 0:
            for f in ("tokens", "context_tokens", "sqsq", "sqsk"):
                if r[f"{side}_{f}"] is None:
                    r[f"{side}_{f}"] = 0
    if r["requests"] is None and r["prefill_requests"] is not None and r["decode_requests"] is not None:
        r["requests"] = r["prefill_requests"] + r["decode_requests"]
    if r["tokens"] is None and r["prefill_tokens"] is not None and r["decode_tokens"] is not None:
        r["tokens"] = r["prefill_tokens"] + r["decode_tokens"]
    return r


def _vllm_detailed(m):
    t, rc, csq, csk, csqsq, csqsk, rg, gsq, gsk, gsqsq, gsqsk = (int(x) for x in m.groups())
    return _row("vllm_detailed", tokens=t, prefill_requests=rc, prefill_tokens=csq, prefill_context_tokens=csk,
                prefill_sqsq=csqsq, prefill_sqsk=csqsk, decode_requests=rg, decode_tokens=gsq,
                decode_context_tokens=gsk, decode_sqsq=gsqsq, decode_sqsk=gsqsk)


def _vllm_native(m):
    rc, tc, rg, tg = (int(x) for x in m.groups())
    # A generation request schedules 1 token plus its draft tokens: Tg > Rg only under speculative decoding.
    return _row("vllm_context_generation", prefill_requests=rc, prefill_tokens=tc, decode_requests=rg,
                decode_tokens=tg, decode_sqsq=tg if tg == rg else None)


def _vllm_new_cached(m):
    new, cached = int(m.group(1)), int(m.group(2))
    # "cached" holds decodes and later chunks of chunked prefills alike: the split is known only when it is 0.
    return _row("vllm_new_cached", requests=new + cached, prefill_requests=new if cached == 0 else None,
                decode_requests=0 if cached == 0 else None,
                format_note="new requests start their prefill; cached ones decode or continue a chunked prefill; "
                            "no token counts")


def _capture(m):
    return _row("vllm_capture", mode=m.group(2).upper(), tokens=int(m.group(1)),
                format_note="CUDA-graph capture of a padded dummy batch, not a served step")


def _ints(kv):
    return {k.lower(): int(v) for k, v in kv.items() if v.isdigit()}


def _sglang(m):
    mode = m.group(1).upper()
    kv = _ints(dict(re.findall(r"([A-Za-z_]+)=([^\s\]]+)", m.group(2))))
    bs = kv.get("bs")
    common = {"mode": mode, "forward_id": kv.get("forward_id")}
    if mode == "DRAFT_LOOP":  # raw_bs real requests in a graph padded to bs; draft widths are not recorded
        return _row("sglang_draft_loop", requests=kv.get("raw_bs", bs), prefill_requests=0,
                    decode_requests=kv.get("raw_bs", bs), **common,
                    format_note=f"frozen-KV MTP draft loop, graph batch {bs}, topk {kv.get('topk')}")
    c_keys, g_keys = any(k.startswith("c_") for k in kv), any(k.startswith("g_") for k in kv)
    if c_keys or g_keys:  # detailed suffix: the phase follows the key prefix (TraceLens' patch puts VERIFY in c_)
        if "c" in kv or "g" in kv:
            rc, rg = kv.get("c", 0), kv.get("g", 0)
        else:
            rc, rg = (bs, 0) if c_keys and not g_keys else (0, bs) if g_keys and not c_keys else (None, None)
        side = {}
        for p, name in (("c", "prefill"), ("g", "decode")):
            for f, col in (("sq", "tokens"), ("sk", "context_tokens"), ("sqsq", "sqsq"), ("sqsk", "sqsk")):
                side[f"{name}_{col}"] = kv.get(f"{p}_{f}", 0 if (rc if p == "c" else rg) == 0 else None)
        return _row("sglang_step_detailed", requests=bs, prefill_requests=rc, decode_requests=rg, **side, **common)
    if mode == "IDLE":
        return _row("sglang_step", requests=0, prefill_requests=0, decode_requests=0, **common)
    if mode in _SGLANG_EXTEND:
        return _row("sglang_step", prefill_requests=bs, prefill_tokens=kv.get("toks"), decode_requests=0, **common)
    if mode == "DECODE":
        return _row("sglang_step", prefill_requests=0, decode_requests=bs, decode_tokens=bs, decode_sqsq=bs, **common,
                    format_note=ONE_TOKEN)
    if mode in _SGLANG_GENERATE:  # verify / draft widths are not in the native label
        return _row("sglang_step", prefill_requests=0, decode_requests=bs, **common)
    return _row("sglang_step", requests=bs, **common)  # MIXED and unknown modes: the split is not recorded


def _atom_count(v):
    d = re.match(r"\d+", v or "")
    return int(d.group()) if d else None


def _atom(m):
    phase, kv = m.group(1), dict(_ATOM_KV.findall(m.group(2)))
    bs, tok = _atom_count(kv.get("bs")), _atom_count(kv.get("tok"))
    detailed = "sqsq" in kv
    agg = {f: _atom_count(kv.get(f)) for f in ("sk", "sqsq", "sqsk")}
    note = f"bs {kv['bs']}: real/padded" if "/" in (kv.get("bs") or "") else None
    fmt = "atom_detailed" if detailed else "atom"
    if phase == "prefill":
        return _row(fmt, mode="prefill", prefill_requests=bs, prefill_tokens=tok, decode_requests=0,
                    prefill_context_tokens=agg["sk"], prefill_sqsq=agg["sqsq"], prefill_sqsk=agg["sqsk"],
                    format_note=note)
    p, d, spec = _atom_count(kv.get("p")) or 0, _atom_count(kv.get("d")), _atom_count(kv.get("spec")) or 0
    d = bs - p if d is None and bs is not None else d
    if p == 0:
        return _row(fmt, mode="decode", prefill_requests=0, decode_requests=d, decode_tokens=tok,
                    decode_context_tokens=agg["sk"], decode_sqsq=agg["sqsq"], decode_sqsk=agg["sqsk"],
                    format_note=note)
    # A mixed ATOM step records totals only: decode requests take 1 + spec tokens each, prefill the rest.
    dt = d * (1 + spec) if d is not None else None
    return _row(fmt, mode="decode", requests=bs, tokens=tok, prefill_requests=p, decode_requests=d,
                decode_tokens=dt, prefill_tokens=tok - dt if tok is not None and dt is not None else None,
                format_note="mixed step: totals only (sk/sqsq/sqsk not split by phase)")


def _trtllm(m):
    _, rc, tc, rg = m.groups()
    return _row("trtllm_forward_step", prefill_requests=int(rc), prefill_tokens=int(tc) if tc is not None else None,
                decode_requests=int(rg), decode_tokens=int(rg), decode_sqsq=int(rg), format_note=ONE_TOKEN)


def _xdit(m):
    b, h, w = (int(x) for x in m.groups())
    return _row("xdit_diffusion", mode="diffusion", requests=b,
                format_note=f"diffusion step, {h}x{w}" if h and w else "diffusion step (resolution not recorded)")


_RULES = ((_VLLM_DETAILED, _vllm_detailed), (_VLLM_NATIVE, _vllm_native), (_VLLM_NEW_CACHED, _vllm_new_cached),
          (_CAPTURE, _capture), (_XDIT, _xdit), (_SGLANG, _sglang), (_ATOM, _atom), (_TRTLLM, _trtllm))


def parse_step_annotation(name):
    """The FIELDS dict of a step annotation, or None when `name` is not one."""
    if not isinstance(name, str) or len(name) > 4096:
        return None
    name = name.strip()
    for rx, fn in _RULES:
        m = rx.match(name)
        if m:
            return fn(m)
    return None


def step_phase(r):
    """prefill, decode, mixed, idle or None (not recorded) from a parsed annotation."""
    if r is None:
        return None
    if r["format"] == "vllm_capture":
        return "capture"
    pr, dr = r["prefill_requests"], r["decode_requests"]
    if pr is None or dr is None:
        return "decode" if dr else "prefill" if pr else None
    return "mixed" if pr and dr else "prefill" if pr else "decode" if dr else "idle"

"""Model-guided kernel attribution (--model): shapeless kernels take the costs of the model component they compute.

Synthetic traces of a 2-layer llama-shaped model, counted by hand: a decode step replayed from a CUDA graph, with
its checks (layer count, GEMMs per layer, grid × tile vs N, time per byte), the fused/split alternatives, the
record order of ROCm replays, tensor parallelism, profiler-step windows with --tokens, and the CLI."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from traceflops import analyze
from traceflops.cli import main
from traceflops.cost.model_match import layer_groups
from traceflops.cost.model_roles import grid_fits
from traceflops.modelflops import parse_config
from traceflops.modelflops.components import Batch, step_components
from traceflops.modelflops.precision import precision

TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
DECODE = "execute_4_context_0(sq0sk0sqsq0sqsk0)_generation_4(sq4sk200sqsq4sqsk200)"
T, H, QKV, I, V = 4, 64, (4 + 2 * 2) * 16, 128, 100  # tokens, hidden, qkv N, intermediate, vocab

# (name, grid) per kernel of one forward, as SGLang on a Blackwell GPU launches them (nvjet tiles: N first)
EMBED = [("at::native::indexSelectSmallIndex<c10::BFloat16>", [4, 1, 1]), ("RMSNormKernel<bf16>", [4, 1, 1])]
LAYER = [("nvjet_sm100_tst_64x16_64x16_4x1_v_bz_TNT", [2, 1, 1]),       # qkv: 128 / 64
         ("fused_rope_kernel<true,16>", [4, 1, 1]), ("store_kvcache<bf16>", [4, 1, 1]),
         ("fmhaSm100fKernel_QkvBfloat16OBfloat16H16PagedKvCausal", [1, 2, 4]),
         ("nvjet_sm100_tst_32x64_64x16_4x1_v_bz_TNN", [2, 1, 1]),       # o: 64 / 32
         ("FusedAddRMSNormKernel<bf16>", [4, 1, 1]),
         ("nvjet_sm100_tst_64x16_64x16_4x1_v_bz_TNT", [4, 1, 1]),       # gate_up: 256 / 64
         ("act_and_mul_kernel<bf16>", [4, 1, 1]),
         ("nvjet_sm100_tst_64x16_64x16_2x1_v_bz_splitK_TNT", [2, 1, 1]),  # down: 64 / 64, split-K 2
         ("cublasLt::splitKreduce_kernel<32,16>", [1, 1, 1]),
         ("FusedAddRMSNormKernel<bf16>", [4, 1, 1])]
HEAD = [("nvjet_sm100_tst_128x16_64x12_2x1_v_bz_TNT", [1, 1, 1])]     # lm_head: 100 / 128


def forward(layers=2, layer=None):
    return EMBED + (layer or LAYER) * layers + HEAD


def trace(tmp_path, kernels, annotation=DECODE, graph=True, shuffle_ts=False, profiler_step=False, name="t.json"):
    """One step annotation around one graph launch (or one eager launch per kernel) of `kernels`."""
    ev = [{"ph": "X", "cat": "user_annotation", "name": annotation, "pid": 1, "tid": 1, "ts": 0, "dur": 500,
           "args": {"External id": 1}}] if annotation else []
    if profiler_step:
        ev.append({"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#3", "pid": 1, "tid": 1, "ts": 0,
                   "dur": 500, "args": {"External id": 2}})
    ts = 1000.0
    for i, (n, grid) in enumerate(kernels):
        corr = 7 if graph else 100 + i
        if not graph or i == 0:
            ev.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaGraphLaunch" if graph else "cudaLaunchKernel",
                       "pid": 1, "tid": 1, "ts": 10 + i, "dur": 1, "args": {"correlation": corr}})
        dur = 10.0 if n.startswith("nvjet") else 2.0
        start = ts if not shuffle_ts or i % 3 else ts + 5000.0  # ROCm: some replayed kernels stamped out of order
        ev.append({"ph": "X", "cat": "kernel", "name": n, "pid": 0, "tid": 7, "ts": start, "dur": dur,
                   "args": {"correlation": corr, "device": 0, "stream": 7, "grid": grid, "block": [128, 1, 1]}})
        ts += dur + 1
    p = tmp_path / name
    p.write_text(json.dumps({"traceEvents": ev}))
    return p


def hand():
    """FLOPs per component of the decode step by hand (2 per multiply-accumulate)."""
    keys = 200 - 4 / 2 + 4 / 2  # Σsq·sk − Σsq²/2 + Σsq/2: every decode query attends its whole context
    return {"qkv": 2 * T * QKV * H, "o": 2 * T * H * H, "gate_up": 2 * T * 2 * I * H, "down": 2 * T * H * I,
            "lm_head": 2 * T * V * H, "attention": 2 * 4 * (16 + 16) * keys}


def test_decode_replay_by_hand(tmp_path):
    a = analyze(trace(tmp_path, forward()), model=TINY, device="b200")
    k = a.kernels
    m = k[k["link"] == "model"]
    want = hand()
    comp = m["model_component"].str.split("[").str[0].str.split(".").str[-1]
    for c, f in want.items():
        got = m.loc[comp == c, "flops"].to_numpy()
        assert len(got) == (1 if c == "lm_head" else 2) and np.all(got == f), c
    gemm = m[comp.isin(["qkv", "o", "gate_up", "down", "lm_head"])]
    assert (gemm["flops_source"] == "model").all() and (gemm["model_confidence"] == 1.0).all()  # every grid fits
    # weights once + the GEMM's input and output, bf16: the qkv GEMM of one layer
    qkv = m[comp == "qkv"].iloc[0]
    assert qkv["bytes"] == QKV * H * 2 + (T * H + T * QKV) * 2
    # bytes-only kernels: norms, RoPE, the KV store, the activation, the embedding gather; no FLOPs counted
    moves = m[m["flops"].isna()]
    assert set(moves["model_component"].str.split("[").str[0]) == {"embedding", "norm", "add+norm", "rope",
                                                                   "kv_store", "act"}
    assert moves.loc[moves["model_component"].str.startswith("act"), "bytes"].iloc[0] == 1.5 * T * 2 * I * 2
    # the split-K reduction stays without cost, and says why
    red = k[k["name"].str.startswith("cublasLt")]
    assert red["flops"].isna().all() and red["flops_reason"].str.contains("split-K").all()
    info = a.summary["model_attribution"]
    assert (info["windows_attributed"], info["forwards"], info["periods"], info["grid_checks"]) == (
        1, 1, {"unchecked": 1}, {"fits": 9})  # two layers: one segment between attentions, no period to check
    # the kernels add up to the step's analytic FLOPs (the same components, one per kernel)
    assert np.nansum(m["flops"]) == pytest.approx(a.steps.loc[0, "model_flops"], rel=1e-12)
    assert a.summary["serving"]["per_step"][0]["mfu"] > 0


def test_without_model_nothing_changes(tmp_path):
    a = analyze(trace(tmp_path, forward()))
    k = a.kernels
    assert a.summary["model_attribution"] is None
    assert k["model_component"].isna().all() and not (k["link"] == "model").any()
    assert k.loc[k["name"].str.startswith("nvjet"), "flops"].isna().all()


def test_grid_that_does_not_fit_is_left_alone(tmp_path):
    layer = list(LAYER)
    layer[0] = (layer[0][0], [7, 1, 1])  # 7 tiles of 64 cannot be a 128-column qkv
    a = analyze(trace(tmp_path, forward(layer=layer)), model=TINY)
    k = a.kernels
    qkv = k[(k["name"] == LAYER[0][0]) & (k["grid"] == "[7,1,1]")]
    assert len(qkv) == 2 and qkv["flops"].isna().all()
    assert qkv["flops_reason"].str.contains(r"L\d\.qkv\[4x128x64\] does not fit the launch grid").all()
    assert (k["model_component"].str.startswith("L1.o").sum()) == 1  # the rest of the layer is still placed


def test_layer_count_must_match(tmp_path):
    a = analyze(trace(tmp_path, forward()), model={**TINY, "num_hidden_layers": 3})
    k = a.kernels
    assert not (k["link"] == "model").any()
    assert k.loc[k["name"].str.startswith("nvjet"), "flops_reason"].str.contains(
        "2 attention kernels in the window, not a multiple of the config's 3 layers").all()


def test_gemm_count_per_layer_must_match(tmp_path):
    layer0 = [x for x in LAYER if not x[0].startswith("nvjet_sm100_tst_32x64")]  # layer 0 without its o GEMM
    a = analyze(trace(tmp_path, EMBED + layer0 + LAYER + HEAD), model=TINY)
    k = a.kernels
    seg = k[k["flops_reason"].fillna("").str.contains(
        "3 GEMM kernels between attention 0 and 1; the config implies 4 or 5 or 6 or 7")]
    assert len(seg) == 3  # layer 0's gate_up and down, layer 1's qkv: not placed
    comp = k["model_component"].dropna().str.split("[").str[0]
    assert {"L0.qkv", "L0.attention", "L1.attention", "L1.o", "L1.down", "lm_head"} <= set(comp)  # the rest is


def test_split_projections_of_eager_transformers(tmp_path):
    """HF eager runs q, k, v and gate, up as separate GEMMs: the split alternative is taken."""
    q = ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize64x16x64", [1, 1, 1])
    layer = [q, q, q, ("pytorch_flash::flash_fwd_kernel<bf16>", [1, 4, 4]), q, q, q, q]
    a = analyze(trace(tmp_path, EMBED[:1] + layer * 2 + [q], graph=False), model=TINY)
    comp = a.kernels["model_component"].dropna().str.split("[").str[0].tolist()
    assert comp[:9] == ["embedding", "L0.q", "L0.k", "L0.v", "L0.attention", "L0.o", "L0.gate", "L0.up", "L0.down"]
    k = a.kernels[a.kernels["model_component"].fillna("").str.startswith("L0.")]
    f = dict(zip(k["model_component"].str.split("[").str[0], k["flops"]))
    assert f["L0.q"] == 2 * T * 64 * H and f["L0.k"] == f["L0.v"] == 2 * T * 32 * H
    assert f["L0.gate"] == f["L0.up"] == 2 * T * I * H


def test_rocm_replay_in_record_order(tmp_path):
    """One stream runs in launch order: replayed kernels stamped out of order keep their record order."""
    a = analyze(trace(tmp_path, forward(), shuffle_ts=True), model=TINY)
    m = a.kernels[a.kernels["link"] == "model"]
    assert m["model_component"].str.startswith("L1.qkv").sum() == 1
    assert np.nansum(m["flops"]) == pytest.approx(a.steps.loc[0, "model_flops"], rel=1e-12)


def test_time_per_byte_rejects_a_component(tmp_path):
    """Weight-bound decode GEMMs stream at one rate; a component 4x off is not what the alignment says."""
    big = {**TINY, "hidden_size": 2048, "intermediate_size": 4096, "head_dim": 256, "vocab_size": 32000}
    layer = [(n, None) for n, _ in LAYER]
    p = trace(tmp_path, EMBED + layer * 2 + [(HEAD[0][0], None)])
    ev = json.loads(p.read_text())
    for e in ev["traceEvents"]:  # the o GEMMs take 40x the time per byte of the others
        if e["cat"] == "kernel" and "32x64" in e["name"]:
            e["dur"] = 400.0
        elif e["cat"] == "kernel" and e["name"].startswith("nvjet"):
            e["dur"] = 5.0
    p.write_text(json.dumps(ev))
    a = analyze(p, model=big)
    k = a.kernels
    o = k[k["name"].str.contains("32x64")]
    assert o["flops"].isna().all() and o["flops_reason"].str.contains("time per weight byte").all()
    assert k["model_component"].fillna("").str.contains("gate_up").sum() == 2


def test_profiler_step_window_with_tokens(tmp_path):
    """No serving annotation: the ProfilerStep is the window and --tokens/--seq the batch (a 4-token prompt)."""
    p = trace(tmp_path, forward(), annotation=None, profiler_step=True, graph=False)
    a = analyze(p, model=TINY, tokens=4, seq=4)
    m = a.kernels[a.kernels["link"] == "model"]
    att = m[m["model_component"].str.contains("attention")]
    assert att["flops"].tolist() == [2 * 4 * 32 * (4 * 5 / 2)] * 2  # causal: 1+2+3+4 pairs
    head = m[m["model_component"].str.startswith("lm_head")]
    assert head["flops"].iloc[0] == 2 * 1 * V * H  # one prompt: one logits row
    assert a.summary["model_attribution"]["window_kind"] == "profiler step"
    r = a.summary["model_reconciliation"]
    assert r["tokens"] == 4 and r["trace_total"] == 0  # the config is not compared with its own costs


def test_no_batch_says_so(tmp_path):
    a = analyze(trace(tmp_path, forward(), annotation=None, graph=False), model=TINY)
    k = a.kernels
    assert not (k["link"] == "model").any()
    assert k.loc[k["name"].str.startswith("nvjet"), "flops_reason"].str.contains("no --tokens").all()


def test_tensor_parallel_shards_columns_and_rows():
    spec, prec = parse_config(TINY), precision(TINY)
    work = step_components(spec, Batch.decode([49] * 4), prec)["layers"][0]
    pre, post = layer_groups(work, 0, spec.layers[0].attn, 2.0, tp=2)
    qkv, o, gate_up, down = pre[0][0][0], post[0][0][0], post[1][0][0], post[1][0][1]
    assert (qkv.n, qkv.k) == (2 * 16 + 2 * 16, 64)  # 2 of 4 q heads, 1 of 2 kv heads
    assert (o.n, o.k, gate_up.n, down.k) == (64, 32, 128, 64)
    assert qkv.flops == 2 * 4 * 64 * 64 and down.flops == 2 * 4 * 64 * 64


@pytest.mark.parametrize("tiles,grid,threads,m,n,split,want", [
    ((64, 16), [96, 1, 1], 256, 16, 6144, False, "fits"),           # nvjet decode qkv: 6144 / 64
    ((64, 16), [128, 1, 1], 256, 16, 4096, True, "fits"),           # split-K 2 of 4096 / 64 (named splitK)
    ((64, 16), [128, 1, 1], 256, 16, 4096, False, "mismatch"),      # ... but only when the name says split-K
    ((256, 192), [491520, 1, 1], 256, 15360, 6144, False, "fits"),  # ROCm: grid in threads, 1920 tiles × 256
    ((128, 128), [30, 4, 1], 128, 8944, 2816, False, "persistent"),  # sm90 warp-specialized: fewer CTAs than tiles
    ((64, 16), [97, 1, 1], 128, 16, 6144, False, "mismatch"),
    ((64, 16), [96, 1, 1], 256, 16, 4096, False, "mismatch"),       # the qkv kernel (6144 / 64) in o's slot
    (None, [96, 1, 1], 256, 16, 6144, False, "unchecked"),
    ((64, 16), None, None, 16, 6144, False, "unchecked"),
])
def test_grid_fits(tiles, grid, threads, m, n, split, want):
    assert grid_fits(tiles, grid, threads, m, n, split) == want


def test_cli_model_flags(tmp_path):
    p = trace(tmp_path, forward())
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(TINY))
    r = CliRunner().invoke(main, ["analyze", str(p), "--model", str(cfg), "-o", str(tmp_path / "out"), "-q",
                                  "--no-report"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["model_attribution"]["kernels_attributed"] > 0 and s["serving"]["model"]["layers"] == 2
    r = CliRunner().invoke(main, ["analyze", str(p), "--model", str(cfg), "--seq", "4"])
    assert r.exit_code == 2 and "--seq needs --tokens" in r.output

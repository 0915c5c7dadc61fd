"""`traceflops model CONFIG.json`: analytic params and per-token FLOPs of an HF model config."""
from __future__ import annotations

import json

import click

from ..modelflops import ConfigError, load_config, model_flops, speculative
from .errors import fail


def _b(n: float) -> str:
    return f"{n / 1e9:.3f} B"


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def _gf(x: float) -> str:
    return f"{x / 1e9:12.3f}"


def _render(r: dict, spec: dict | None) -> str:
    ly, ap, fpt = r["layers"], r["approx"], r["flops_per_token"]
    out = [f"model_type {r['model_type']}: {ly['n_layers']} layers, attention {ly['attention']}, "
           f"{ly['sliding_layers']} sliding-window layers"
           + (f" (window {ly['sliding_window']})" if ly["sliding_window"] else "")
           + f", {ly['moe_layers']} MoE layers",
           f"params   total {_b(r['total_params'])}   active {_b(r['active_params'])}"
           f"   | without input embedding: total {_b(r['total_params_without_embedding'])}"
           f"   active {_b(r['active_params_without_embedding'])}",
           "",
           f"{'GFLOPs / token':<22}{'prefill':>12}{'decode':>12}" + (f"{'train':>12}" if "train" in fpt else ""),
           f"{'':<22}{'L=' + str(r['seq']):>12}{'C=' + str(r['context']):>12}"
           + (f"{'L=' + str(r['seq']):>12}" if "train" in fpt else "")]
    cols = [c for c in ("prefill", "decode", "train") if c in fpt]
    for fam in r["breakdown"]["prefill"]:
        vals = [r["breakdown"][c][fam] for c in cols]
        if any(vals):
            out.append(f"  {fam:<20}" + "".join(_gf(v) for v in vals))
    out.append(f"  {'total (exact)':<20}" + "".join(_gf(fpt[c]) for c in cols))
    out.append(f"  {'attention share':<20}"
               + "".join(f"{r['breakdown'][c]['attention_scores'] / fpt[c] * 100:11.1f}%" for c in cols))
    out += ["",
            f"N = {_b(ap['N'])} ({ap['N_convention']})",
            f"  2N = {ap['2N']['value'] / 1e9:.3f} GFLOPs/token: {_pct(ap['2N']['rel_error_prefill'])} vs prefill, "
            f"{_pct(ap['2N']['rel_error_decode'])} vs decode",
            f"  6N = {ap['6N']['value'] / 1e9:.3f} GFLOPs/token: {_pct(ap['6N']['rel_error_train'])} vs train "
            f"(3 x prefill forward)"]
    if spec:
        p = spec["flops_per_accepted_token"]
        out += ["",
                f"speculative decoding: k={spec['k']}, acceptance={spec['acceptance']}, context={spec['context']}: "
                f"{spec['expected_tokens_per_step']:.3f} tokens/step",
                f"  GFLOPs per accepted token: target {p['target'] / 1e9:.3f}, draft {p['draft'] / 1e9:.3f}, "
                f"total {p['total'] / 1e9:.3f} (of which wasted on rejected tokens {p['wasted'] / 1e9:.3f})",
                f"  vs plain target decode {spec['baseline_decode_flops_per_token'] / 1e9:.3f}: "
                f"x{spec['flops_ratio_vs_plain_decode']:.3f}"]
        r = {**r, "notes": r["notes"] + spec["notes"]}
    if r["notes"]:
        out += [""] + [f"note: {n}" for n in r["notes"]]
    return "\n".join(out)


@click.command("model")
@click.argument("config", type=str)
@click.option("--seq", "seq", type=int, default=4096, show_default=True, metavar="L",
              help="Prefill length: FLOPs/token averaged over L causal tokens.")
@click.option("--context", "context", type=int, default=4096, show_default=True, metavar="C",
              help="Decode: one new token attending C cached tokens + itself.")
@click.option("--train", is_flag=True, help="Also report a training step per token (3 x forward).")
@click.option("--draft", "draft", type=str, default=None, metavar="CONFIG",
              help="Draft model config.json for speculative decoding.")
@click.option("--k", "k", type=int, default=None, help="Draft tokens per speculation step.")
@click.option("--acceptance", "acceptance", type=float, default=None, metavar="A",
              help="Per-token acceptance probability in [0, 1].")
@click.option("--mla-absorbed", is_flag=True, help="MLA (DeepSeek) decode with absorbed weights.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def model(config, seq, context, train, draft, k, acceptance, mla_absorbed, as_json):
    """Parameters, active parameters and exact per-token FLOPs of an HF CONFIG.json."""
    if seq < 1:
        fail(f"--seq must be >= 1, got {seq}")
    if context < 0:
        fail(f"--context must be >= 0, got {context}")
    if draft is None and (k is not None or acceptance is not None):
        fail("--k/--acceptance need --draft CONFIG")
    if draft is not None and (k is None or acceptance is None):
        fail("--draft needs both --k K and --acceptance A")
    try:
        cfg = load_config(config)
        r = model_flops(cfg, seq=seq, context=context, train=train, mla_absorbed_decode=mla_absorbed)
        spec = None
        if draft is not None:
            spec = speculative(cfg, load_config(draft), k, acceptance, context,
                               mla_absorbed_decode=mla_absorbed)
    except (ConfigError, ValueError, TypeError) as e:
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    if as_json:
        if spec is not None:
            r["speculative"] = spec
        click.echo(json.dumps(r))
    else:
        click.echo(_render(r, spec))

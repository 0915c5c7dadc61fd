"""A tiny Llama built in torch, profiled on CPU: analytic FLOPs and trace FLOPs agree term by term."""
import json

import pytest

torch = pytest.importorskip("torch")

from traceflops import analyze  # noqa: E402
from traceflops.metrics.reconcile import reconcile  # noqa: E402

CFG = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 16, "vocab_size": 100,
       "tie_word_embeddings": False, "rms_norm_eps": 1e-5}


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        d, f = CFG["hidden_size"], CFG["intermediate_size"]
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d, bias=False) for _ in range(4))
        self.gate, self.up, self.down = torch.nn.Linear(d, f, bias=False), torch.nn.Linear(d, f, bias=False), torch.nn.Linear(f, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        h = CFG["num_attention_heads"]
        q, k, v = (p(x).view(b, t, h, d // h).transpose(1, 2) for p in (self.q, self.k, self.v))
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.down(torch.nn.functional.silu(self.gate(x)) * self.up(x))


def test_tiny_llama_prefill_matches_trace(tmp_path):
    from torch.profiler import ProfilerActivity, profile
    torch.manual_seed(0)
    emb = torch.nn.Embedding(CFG["vocab_size"], CFG["hidden_size"])
    layers = torch.nn.ModuleList(Layer() for _ in range(CFG["num_hidden_layers"]))
    head = torch.nn.Linear(CFG["hidden_size"], CFG["vocab_size"], bias=False)
    ids = torch.randint(0, 100, (1, 32))
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        x = emb(ids)
        for layer in layers:
            x = layer(x)
        head(x)
    prof.export_chrome_trace(str(tmp_path / "llama.json"))
    (tmp_path / "config.json").write_text(json.dumps(CFG))
    r = reconcile(analyze(tmp_path / "llama.json"), str(tmp_path / "config.json"), tokens=32)
    by = {row["family"]: row for row in r["by_family"]}
    assert by["gemm"]["trace_flops"] == pytest.approx(by["gemm"]["analytic_flops"], rel=1e-12)
    # causal attention counted exactly on both sides: sum over queries of (i+1) keys
    assert by["attention"]["trace_flops"] == pytest.approx(by["attention"]["analytic_flops"], rel=1e-12)
    assert by["attention"]["analytic_flops"] == 2 * 4 * 4 * 16 * (32 * 33 / 2)  # layers·4·H·D·pairs

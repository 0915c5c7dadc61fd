"""Issue 17, redaction: secrets recorded in a trace never reach an output, and our own keys (token counts,
`author`, `tokenizer`, ...) are never redacted."""
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from traceflops.cli import main
from traceflops.outputs.redact import REDACTED, is_secret_key, redact, redact_metadata

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "traceflops" / "sample_data" / "h100_bert_small.json.gz"
SGLANG = sorted((REPO / "sample_traces").glob("inference__sglang_prefilldecode__*.json.gz"))

SECRETS = {
    "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz012345",
    "WANDB_API_KEY": "0123456789abcdef0123456789abcdef01234567",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "DB_PASSWORD": "correct horse battery staple",
    "OPENAI_API_KEY": "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
}
LOWER = {"password": "hunter2hunter2hunter2", "auth_token": "plain-auth-value-9876", "api_key": "plain-api-value-5432"}
IN_TEXT = "xyzzy-plugh-secret-4711"  # a value only the free-text rules can find
KERNEL_TOKEN = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def secret_trace(tmp_path, name="secret.json"):
    with gzip.open(BUNDLED, "rt", encoding="utf-8") as f:
        d = json.load(f)
    d["metadata"] = {"system": {"env": dict(SECRETS), "cmdline": f"python serve.py HF_TOKEN={IN_TEXT} --port 80"}}
    d["HF_TOKEN"] = SECRETS["HF_TOKEN"]
    d["distributedInfo"] = {"rank": 0, "world_size": 1, "backend": "nccl", **LOWER}
    k = max((e for e in d["traceEvents"] if e.get("cat") == "kernel"), key=lambda e: e["dur"])
    k["name"] = "gemm_kernel_" + KERNEL_TOKEN  # a credential-looking value inside a name
    k.setdefault("args", {})["auth_token"] = LOWER["auth_token"]
    p = tmp_path / name
    p.write_text(json.dumps(d), encoding="utf-8")
    return p


def all_secret_values():
    return list(SECRETS.values()) + list(LOWER.values()) + [IN_TEXT]


def read_any(path):
    data = Path(path).read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8", "replace")


def test_own_keys_are_never_redacted():
    ours = ["prefill_tokens", "decode_tokens", "tokens", "tokens_per_s", "flops_per_token", "max_num_batched_tokens",
            "author", "authority", "tokenizer", "key", "keys", "monkey", "work_key", "phase_requests"]
    for k in ours:
        assert not is_secret_key(k), k
    d = {"mfu": {"phase_requests": {"prefill_requests": 2, "prefill_tokens": 8192, "decode_tokens": 64}},
         "model_reconciliation": {"tokens": 8256, "notes": ["tokenizer-free"]}, "author": "me", "authority": "x"}
    assert redact(d) == d


def test_env_style_and_credential_names_are_redacted():
    for k in ["HF_TOKEN", "GITHUB_TOKEN", "WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "WANDB_KEY",
              "MY_CREDENTIAL", "AUTH_HEADER", "api_key", "apiKey", "access_token", "client_secret", "password"]:
        assert is_secret_key(k), k
    assert redact({"env": {"PATH": "/usr/bin", "session_token": "abc", "wandb_key": "k"}}) == \
        {"env": {"PATH": "/usr/bin", "session_token": REDACTED, "wandb_key": REDACTED}}
    # in trace metadata every key with a word `token`/`auth` or a trailing `key` is a credential
    assert redact_metadata({"x": {"upload_token": "t", "tokens": 3, "my_key": "k"}}) == \
        {"x": {"upload_token": REDACTED, "tokens": 3, "my_key": REDACTED}}


def test_free_text_credentials():
    s = redact("HF_TOKEN=abc123 MAX_TOKENS=4096 --api-key s3cr3t --max-tokens 5 https://bob:pw@host/x "
               "Bearer abcdefghijklmnopqrstuvwxyz Token embeddings")
    assert "abc123" not in s and "s3cr3t" not in s and ":pw@" not in s and "abcdefghijklmnop" not in s
    assert "MAX_TOKENS=4096" in s and "--max-tokens 5" in s and "Token embeddings" in s


@pytest.mark.skipif(not SGLANG, reason="sglang sample trace not present")
def test_serving_summary_has_numeric_token_counts(tmp_path):
    res = CliRunner().invoke(main, ["analyze", str(SGLANG[0]), "-o", str(tmp_path), "--no-report", "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "summary.json").read_text())
    pr = s["mfu"]["phase_requests"]
    assert {"prefill_tokens", "decode_tokens"} <= set(pr)
    assert all(isinstance(v, int) for v in pr.values()), pr
    assert pr["prefill_tokens"] > 0
    assert REDACTED not in (tmp_path / "summary.json").read_text()


def test_secrets_never_reach_any_output(tmp_path):
    p = secret_trace(tmp_path)
    run = CliRunner()
    res = run.invoke(main, ["analyze", str(p), "-o", str(tmp_path / "a"), "-q"])
    assert res.exit_code == 0, res.output
    res2 = run.invoke(main, ["annotate", str(p), "-o", str(tmp_path / "ann.json.gz")])
    assert res2.exit_code == 0, res2.output
    res3 = run.invoke(main, ["compare", str(p), str(p), "-o", str(tmp_path / "c"), "--format", "json", "--format", "md",
                             "--format", "html"])
    assert res3.exit_code == 0, res3.output
    outputs = {"summary": tmp_path / "a" / "summary.json", "report": tmp_path / "a" / "report.html",
               "annotate": tmp_path / "ann.json.gz", "compare.json": tmp_path / "c" / "compare.json",
               "compare.md": tmp_path / "c" / "compare.md", "compare.html": tmp_path / "c" / "compare.html"}
    texts = {k: read_any(v) for k, v in outputs.items()}
    texts["cli"] = res.output + res2.output + res3.output
    for where, text in texts.items():
        for v in all_secret_values():
            assert v not in text, f"secret {v[:6]}... in {where}"
        if where != "annotate":  # annotate copies the trace's own event names; everything else shows redacted text
            assert KERNEL_TOKEN not in text, f"kernel-name token in {where}"
    ann = json.loads(texts["annotate"])
    assert ann["distributedInfo"]["rank"] == 0 and ann["distributedInfo"]["password"] == REDACTED
    assert ann["metadata"]["system"]["env"]["HF_TOKEN"] == REDACTED
    assert json.loads(texts["summary"])["totals"]["gpu_events"] == 61  # still a useful summary

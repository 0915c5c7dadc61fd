"""Issue #8 security: secrets never reach summary.json; committed traces hold no unredacted secrets; trace
content is never eval'd, exec'd or unpickled. (The HTML report has its own browser test elsewhere.)"""
import gzip
import json
import re

import pytest

from tests.robust_helpers import BUNDLED, COMMITTED, REPO, analyze_cli, assert_ok, raw_bytes

SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|(^|_)KEY$)", re.I)
SAFE_VALUES = {"", "<redacted>", "[redacted]", "redacted", "***", None}
SECRETS = {
    "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwx",
    "WANDB_API_KEY": "0123456789abcdef0123456789abcdef01234567",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "DB_PASSWORD": "correct horse battery staple",
    "GITHUB_TOKEN": "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
}


def _with_secrets(raw):
    doc = json.loads(raw)
    doc["metadata"] = {"system": {"env": dict(SECRETS)}}
    doc["HF_TOKEN"] = SECRETS["HF_TOKEN"]
    doc["distributedInfo"] = {"rank": 0, "world_size": 1, "backend": "nccl", "password": SECRETS["DB_PASSWORD"]}
    evs = doc["traceEvents"]
    k = next(e for e in evs if e.get("cat") == "kernel")
    k["name"] = "kernel_" + SECRETS["GITHUB_TOKEN"]  # a secret-looking value inside a name
    return doc


@pytest.mark.parametrize("form", ["plain", "gzip", "damaged"])
def test_secrets_in_metadata_never_reach_summary(tmp_path, form):
    doc = _with_secrets(raw_bytes(BUNDLED))
    data = json.dumps(doc, indent=1).encode()
    if form == "damaged":  # salvage path: unescaped quote in a name, and no closing bracket
        data = data.replace(b'"name": "kernel_', b'"name": "ker"nel_', 1)[:-40]
    p = tmp_path / ("s.json.gz" if form == "gzip" else "s.json")
    p.write_bytes(gzip.compress(data) if form == "gzip" else data)
    res = analyze_cli(p, tmp_path / "o")
    assert_ok(res, form)
    text = (tmp_path / "o" / "summary.json").read_text()
    for v in SECRETS.values():
        assert v not in text, f"secret {v[:6]}... in summary.json"
        assert v not in res.stderr and v not in res.stdout
    assert json.loads(text)["totals"]["gpu_events"] == 61  # the summary is still useful


def test_redaction_does_not_eat_ordinary_keys():
    """'key' (the device catalog key), 'keys', 'monkey', 'tokens_per_s' are not secrets."""
    from traceflops.outputs.redact import redact
    d = {"key": "h100_sxm", "monkey": 1, "keys": [1], "HF_TOKEN": "x", "api_key": "y", "WANDB_KEY": "z",
         "note": "token hf_abcdefghijklmnopqrstuvwx here"}
    r = redact(d)
    assert r["key"] == "h100_sxm" and r["monkey"] == 1 and r["keys"] == [1]
    assert r["HF_TOKEN"] == r["api_key"] == r["WANDB_KEY"] == "[redacted]"
    assert "hf_abc" not in r["note"]


def test_summary_device_key_survives(tmp_path):
    assert_ok(analyze_cli(BUNDLED, tmp_path / "o"))
    dev = json.loads((tmp_path / "o" / "summary.json").read_text())["device"]
    assert dev["key"] and dev["key"] != "[redacted]"


def _secret_leaks(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and SECRET_NAME.search(k) and not isinstance(v, (dict, list, bool, int, float)) \
                    and v not in SAFE_VALUES:
                yield f"{path}/{k}"
            yield from _secret_leaks(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:100000]):
            yield from _secret_leaks(v, f"{path}[{i}]")


def test_scanner_catches_a_planted_secret():
    assert list(_secret_leaks({"metadata": {"env": {"HF_TOKEN": "hf_x"}}})) == ["/metadata/env/HF_TOKEN"]
    assert list(_secret_leaks({"env": {"HF_TOKEN": "[redacted]", "KEY": ""}})) == []


@pytest.mark.parametrize("trace", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_traces_hold_no_unredacted_secrets(trace):
    raw = raw_bytes(trace)
    try:
        doc = json.loads(raw)
    except ValueError:
        pytest.fail(f"{trace} is not valid JSON")
    header = {k: v for k, v in doc.items() if k != "traceEvents"} if isinstance(doc, dict) else {}
    leaks = list(_secret_leaks(header))
    evs = doc["traceEvents"] if isinstance(doc, dict) else doc
    leaks += [f"traceEvents[{i}]{x}" for i, e in enumerate(evs) if isinstance(e, dict) and "args" in e
              for x in _secret_leaks(e["args"], "/args")]
    assert not leaks, f"{trace.name}: unredacted secret-like keys: {leaks[:5]}"
    from traceflops.outputs.redact import SECRET_VALUE
    m = SECRET_VALUE.search(raw.decode("utf-8", "replace"))
    assert m is None, f"{trace.name}: secret-looking value {m.group(0)[:8]}..."


SOURCES = sorted(p for p in (REPO / "traceflops").rglob("*.py"))


# The one pickle use: forked decoding workers send their tables to the parent through a private
# os.pipe(). The stream is written by our own forked process from decoded values, never read from a file or
# from trace bytes, so a trace cannot put pickle opcodes in it.
PICKLE_IPC = REPO / "traceflops" / "ingest" / "forks.py"


def test_pickle_only_over_a_private_pipe():
    code = PICKLE_IPC.read_text(encoding="utf-8")
    loads = re.findall(r"pickle\.(\w+)\((\w+)", code)
    assert loads == [("dump", "result"), ("load", "f")], loads
    assert "os.pipe()" in code and "open(child.fd" in code


def test_no_eval_exec_or_pickle_on_trace_content():
    bad = []
    for p in SOURCES:
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if p == PICKLE_IPC and re.search(r"\bpickle\b", code) and not re.search(r"\b(eval|exec|dill|marshal)\b", code):
                continue  # see PICKLE_IPC
            if re.search(r"(?<![\w.])(eval|exec)\s*\(", code) or re.search(r"\b(pickle|cPickle|dill|marshal)\b", code) \
                    or re.search(r"\b(yaml\.load|yaml\.unsafe_load)\s*\(", code) and "SafeLoader" not in code \
                    or re.search(r"\bread_pickle\b|allow_pickle\s*=\s*True|shell\s*=\s*True", code):
                bad.append(f"{p.relative_to(REPO)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)
    assert SOURCES, "package sources not found"


def test_scanner_would_catch_eval(tmp_path):
    code = "x = eval(data)"
    assert re.search(r"(?<![\w.])(eval|exec)\s*\(", code)
    assert not re.search(r"(?<![\w.])(eval|exec)\s*\(", "model.eval()")

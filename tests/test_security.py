"""Issue #8 security: secrets never reach summary.json; committed traces hold no unredacted secrets; trace
content is never eval'd, exec'd or unpickled. (The HTML report has its own browser test elsewhere.)"""
import gzip
import io
import json
import re
import tokenize

import pytest

from tests.robust_helpers import BUNDLED, COMMITTED, REPO, analyze_cli, assert_ok, raw_bytes
from traceflops.outputs.redact import SECRET_VALUE, redact_metadata

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


PLACEHOLDERS = {"<redacted>", "redacted", "***"}  # values the recording tool had already redacted


def _secret_leaks(obj, path=""):
    """Paths of `obj` (trace metadata or event args) that traceflops' own redactor for them
    (traceflops.outputs.redact.redact_metadata) would change, other than a value another tool had already redacted."""
    yield from _changed(obj, redact_metadata(obj), path)


def _changed(a, b, path):
    if isinstance(a, dict):
        for k, v in a.items():
            yield from _changed(v, b[k], f"{path}/{k}")
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _changed(x, y, f"{path}[{i}]")
    elif a is not b and a != b and a not in PLACEHOLDERS:
        yield path


def test_scanner_catches_a_planted_secret():
    assert list(_secret_leaks({"metadata": {"env": {"HF_TOKEN": "hf_x"}}})) == ["/metadata/env/HF_TOKEN"]
    assert list(_secret_leaks({"env": {"HF_TOKEN": "[redacted]", "KEY": "", "GH_TOKEN": "<redacted>"},
                               "key": "h100-sxm"})) == []
    assert list(_secret_leaks({"args": [{"note": "see " + SECRETS["GITHUB_TOKEN"]}]})) == ["/args[0]/note"]
    assert list(_secret_leaks({"env": {"MY_CREDENTIAL": "c", "AUTH_HEADER": "Bearer x"}})) == [
        "/env/MY_CREDENTIAL", "/env/AUTH_HEADER"]
    assert list(_secret_leaks({"tokenizer": "gpt2", "max_position_embeddings": 8, "ts": float("nan")})) == []


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


UNSAFE = [re.compile(r"(?<![\w.])(eval|exec)\s*\("), re.compile(r"\b(pickle|cPickle|dill|marshal)\b"),
          re.compile(r"\bread_pickle\b|allow_pickle\s*=\s*True|shell\s*=\s*True")]
YAML_LOAD = re.compile(r"\b(yaml\.load|yaml\.unsafe_load)\s*\(")


def _code_lines(text):
    """The source's lines with every comment and string literal (docstrings too) blanked: only code is left."""
    rows = [list(line) for line in text.splitlines()]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):  # not a whole module: drop comments only
        return [line.split("#", 1)[0] for line in text.splitlines()]
    for tok in tokens:
        if tok.type in (tokenize.STRING, tokenize.COMMENT):
            (r0, c0), (r1, c1) = tok.start, tok.end
            for r in range(r0, r1 + 1):
                row = rows[r - 1]
                for c in range(c0 if r == r0 else 0, c1 if r == r1 else len(row)):
                    row[c] = " "
    return ["".join(r) for r in rows]


def _unsafe_lines(text, pickle_ipc=False):
    """(line number, line) of code that could run or unpickle what it reads; `pickle_ipc` lets pickle through
    (see PICKLE_IPC) but still not eval, exec, dill or marshal. Words in comments and strings are not code."""
    out = []
    lines = text.splitlines()
    for i, code in enumerate(_code_lines(text), 1):
        line = lines[i - 1]
        if pickle_ipc and re.search(r"\bpickle\b", code) and not re.search(r"\b(eval|exec|dill|marshal)\b", code):
            continue
        if any(p.search(code) for p in UNSAFE) or YAML_LOAD.search(code) and "SafeLoader" not in code:
            out.append((i, line.strip()))
    return out


def test_no_eval_exec_or_pickle_on_trace_content():
    bad = [f"{p.relative_to(REPO)}:{i}: {line}" for p in SOURCES
           for i, line in _unsafe_lines(p.read_text(encoding="utf-8"), pickle_ipc=p == PICKLE_IPC)]
    assert not bad, "\n".join(bad)
    assert SOURCES, "package sources not found"


@pytest.mark.parametrize("code", ["x = eval(data)", "exec(code)", "obj = pickle.loads(b)", "import marshal",
                                  "cfg = yaml.load(f)", "df = pd.read_pickle(p)", "np.load(p, allow_pickle=True)",
                                  "subprocess.run(cmd, shell=True)", "import dill"])
def test_scanner_would_catch(code):
    assert _unsafe_lines(f"import os\n{code}\n") == [(2, code)]


@pytest.mark.parametrize("code", ["model.eval()", "cfg = yaml.load(f, Loader=yaml.SafeLoader)", "x = 1  # eval(x)",
                                  "evaluate(x)", "executor.submit(fn)", '"""a pickle holding the code"""',
                                  "msg = 'never eval(data)'", "ops = pickletools.genops(data)"])
def test_scanner_lets_safe_code_through(code):
    assert _unsafe_lines(code) == []


def test_scanner_lets_only_pickle_through_the_ipc_file():
    text = "pickle.dump(result, f)\nresult = pickle.load(f)\nx = eval(s)\n"
    assert _unsafe_lines(text, pickle_ipc=True) == [(3, "x = eval(s)")]
    assert [i for i, _ in _unsafe_lines(text)] == [1, 2, 3]

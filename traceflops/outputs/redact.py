"""Redaction: credentials recorded in a trace (an `env` block, a token in a name) never reach an output.

Secrets live in two places: the trace's metadata (header keys, `env`/`metadata` blocks, event args) and
free-text values that look like credentials. So:

* every string value anywhere is searched for credential-looking text (`hf_…`, `ghp_…`, `sk-…`, AWS key
  ids, JWTs, `Bearer …`, `HF_TOKEN=…` assignments, `user:password@` in URLs) and that part is replaced;
* a value is replaced whole when its key names a credential: an env-style name (`HF_TOKEN`, `WANDB_API_KEY`,
  `AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`, `*_KEY`), a credential compound (`api_key`, `access_token`,
  `client_secret`, `password`), or, inside a metadata block (`redact_metadata`, or under an `env` /
  `environment` / `metadata` key), any key with a word `token`, `auth` or a trailing `key`.

Keys are matched word by word (`prefill_tokens`, `flops_per_token`, `tokenizer`, `author`, `authority`,
`key`, `keys`, `monkey` are words of their own), so the outputs' own keys are never redacted.
"""
import re

REDACTED = "[redacted]"

# credential-looking values (tokens of the big hosts, AWS access key ids, Slack tokens, JWTs)
SECRET_VALUE = re.compile(r"(hf_[A-Za-z0-9]{20,}|ghp_[A-Za-z0-9]{20,}|gh[ousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|"
                          r"AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})")
_SECRET_WORDS = r"TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIALS?|AUTH|AUTHORIZATION|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|COOKIE"
# free text: `HF_TOKEN=abc` / `--api-key abc` / `Authorization: Bearer abc` / `https://user:pass@host`
_IN_TEXT = [
    (re.compile(r"\b((?:[A-Z][A-Z0-9]*_)*(?:" + _SECRET_WORDS + r")(?:_[A-Z0-9]+)*\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;]+)"),
     r"\1" + REDACTED),
    (re.compile(r"((?:^|(?<=\s))--?(?:[a-z0-9]+-)*(?:token|api-key|apikey|password|passwd|secret|auth)(?:=|\s+))([^\s-]\S*)", re.I),
     r"\1" + REDACTED),
    (re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}"), "Bearer " + REDACTED),
    (re.compile(r"(://[^\s/:@]+:)[^\s/@]+@"), r"\1" + REDACTED + "@"),
]

_ALWAYS = {"password", "passwd", "pwd", "secret", "secrets", "credential", "credentials", "authorization", "apikey",
           "cookie", "passphrase"}
_QUALIFIERS = {"api", "access", "secret", "private", "auth", "refresh", "id", "hf", "github", "gh", "gitlab", "bearer",
               "session", "oauth", "bot", "slack", "wandb", "openai", "client", "personal", "npm", "pypi", "hub"}
_ALONE = {"token", "auth", "apitoken"}
META_BLOCKS = {"env", "environ", "environment", "env_vars", "envs", "environment_variables", "metadata",
               "trace_metadata", "secrets", "credentials", "headers"}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _words(key):
    return [w.lower() for w in _WORD.findall(key)]


def is_secret_key(key, in_metadata=False):
    """True for a key that names a credential (see the module docstring)."""
    if not isinstance(key, str) or not key:
        return False
    w = _words(key)
    if not w:
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", key) and len(w) > 1:  # env-style name: HF_TOKEN, WANDB_KEY, DB_PASSWORD
        if any(x in _ALWAYS or x in ("token", "auth") for x in w) or w[-1] == "key":
            return True
    if len(w) == 1:
        return w[0] in _ALWAYS or w[0] in _ALONE
    if any(x in _ALWAYS or x == "auth" for x in w):
        return True
    if w[-1] in ("key", "token") and w[-2] in _QUALIFIERS:
        return True
    if in_metadata:
        return "token" in w or w[-1] == "key"
    return False


def redact_text(s):
    """`s` with credential-looking parts replaced (free text: a kernel name, a page, a markdown comment)."""
    if SECRET_VALUE.search(s):
        s = SECRET_VALUE.sub(REDACTED, s)
    for pattern, repl in _IN_TEXT:
        if pattern.search(s):
            s = pattern.sub(repl, s)
    return s


def _walk(obj, in_metadata):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if is_secret_key(k, in_metadata) and v not in (None, "", REDACTED):
                out[k] = REDACTED
            else:
                out[k] = _walk(v, in_metadata or (isinstance(k, str) and k.lower() in META_BLOCKS))
        return out
    if isinstance(obj, list):
        return [_walk(v, in_metadata) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def redact(obj):
    """A copy of `obj` (an output: summary, compare, warnings) with credentials replaced; the outputs' own keys
    are kept, metadata blocks inside it are redacted as by `redact_metadata`."""
    return _walk(obj, False)


def redact_metadata(obj):
    """A copy of `obj` (a trace's header, metadata or event args) with credentials replaced: every key is read as
    trace metadata."""
    return _walk(obj, True)

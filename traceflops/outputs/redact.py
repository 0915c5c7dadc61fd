"""Redaction of secret-like metadata: tokens in an `env` block must never reach an output."""
import re

SECRET_KEY = re.compile(r"((?<!PRE)TOKEN(?!IZER)|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|(^|_)KEY$)", re.I)
SECRET_VALUE = re.compile(r"(hf_[A-Za-z0-9]{20,}|ghp_[A-Za-z0-9]{20,}|gh[ousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|"
                          r"AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})")
REDACTED = "[redacted]"


def is_secret_key(key):
    # A bare "key"/"Key" is an identifier (summary.json's device catalog key), not a secret; env-style "KEY" is.
    if key in ("key", "Key"):
        return False
    return isinstance(key, str) and bool(SECRET_KEY.search(key))


def redact(obj):
    """A copy of `obj` with values under secret-like keys, and secret-looking strings, replaced."""
    if isinstance(obj, dict):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "", REDACTED) else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, str) and SECRET_VALUE.search(obj):
        return SECRET_VALUE.sub(REDACTED, obj)
    return obj

"""A user device file (`--device-file`, YAML or JSON): new devices, or overrides and measured
(`max_achievable`) ceilings for catalog devices.

    devices:
      - key: h100-sxm                 # an existing key: override fields, add measured ceilings
        max_achievable: {bf16: 720, tbps: 2.9}
      - key: my-gpu                   # a new key: at least one peak or hbm_tbps
        name: My GPU
        peak_tflops: {bf16: 400, fp32: 50}
        hbm_tbps: 1.2
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import replace

from .spec import ACHIEVABLE_KEYS, PEAK_KEYS, DeviceSpec

_FILE_FIELDS = {"key", "name", "vendor", "arch", "compute_capability", "sms", "memory_gb",
                "peak_tflops", "peak_tbps", "hbm_tbps", "l2_mb", "host_gbps", "aliases", "source",
                "max_achievable", *PEAK_KEYS}


def _file_num(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{where}: expected a positive number, got {v!r}")
    return float(v)


def _read_entries(p: str) -> list:
    try:
        with open(p, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise ValueError(f"device file {p}: cannot read: {e.strerror or e}") from None
    try:
        if p.lower().endswith(".json"):
            doc = json.loads(text)
        else:
            try:
                import yaml
            except ImportError:  # pragma: no cover - pyyaml is a test dependency
                raise ValueError(f"device file {p}: YAML needs pyyaml (or give a .json file)") from None
            doc = yaml.safe_load(text)
    except ValueError as e:
        if str(e).startswith("device file"):
            raise
        raise ValueError(f"device file {p}: not valid JSON: {str(e).splitlines()[0]}") from None
    except Exception as e:  # yaml.YAMLError
        raise ValueError(f"device file {p}: not valid YAML: {' '.join(str(e).split())[:200]}") from None
    entries = doc.get("devices") if isinstance(doc, dict) else doc
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"device file {p}: expected a non-empty list under 'devices:'")
    return entries


def _peaks(e, where):
    peaks = {}
    raw_peaks = dict(e.get("peak_tflops") or {})
    raw_peaks.update({k: e[k] for k in PEAK_KEYS if k in e})
    for k, v in raw_peaks.items():
        if k not in PEAK_KEYS:
            raise ValueError(f"{where}: unknown peak {k!r} (use {', '.join(PEAK_KEYS)})")
        peaks[k] = _file_num(v, f"{where}.{k}")
    return peaks


def _achievable(e, where):
    ach = {}
    raw_ach = e.get("max_achievable") or {}
    if not isinstance(raw_ach, dict):
        raise ValueError(f"{where}: max_achievable must be a mapping")
    for k, v in raw_ach.items():
        if k not in ACHIEVABLE_KEYS:
            raise ValueError(f"{where}: unknown max_achievable key {k!r} (use {', '.join(ACHIEVABLE_KEYS)})")
        ach[k] = _file_num(v, f"{where}.max_achievable.{k}")
    return ach


def _entry_spec(catalog, e, where, p):
    """The DeviceSpec one file entry describes: the catalog's, overridden, or a new one."""
    key = e["key"].strip()
    peaks, ach = _peaks(e, where), _achievable(e, where)
    tbps = e.get("peak_tbps", e.get("hbm_tbps"))
    tbps = None if tbps is None else _file_num(tbps, f"{where}.hbm_tbps")
    num = {k: _file_num(e[k], f"{where}.{k}") for k in ("sms", "memory_gb", "l2_mb", "host_gbps") if k in e}
    aliases = e.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [aliases]
    src = f"user device file {p}" + (f": {e['source']}" if e.get("source") else "")
    if key in catalog:
        old = catalog[key]
        return replace(
            old, peak_tflops={**old.peak_tflops, **peaks},
            max_achievable={**old.max_achievable, **ach},
            peak_tbps=tbps if tbps is not None else old.peak_tbps,
            sms=int(num["sms"]) if "sms" in num else old.sms,
            memory_gb=num.get("memory_gb", old.memory_gb), l2_mb=num.get("l2_mb", old.l2_mb),
            host_gbps=num.get("host_gbps", old.host_gbps),
            aliases=old.aliases + tuple(str(a) for a in aliases),
            source=old.source if not (peaks or tbps or num) else f"{old.source}; overridden by {src}",
        )
    if not peaks and tbps is None:
        raise ValueError(f"{where}: a new device needs at least one peak or hbm_tbps")
    return DeviceSpec(
        key=key, name=str(e.get("name") or key), vendor=str(e.get("vendor") or "unknown"),
        arch=e.get("arch"), sms=int(num["sms"]) if "sms" in num else None,
        memory_gb=num.get("memory_gb"), peak_tflops=peaks, peak_tbps=tbps,
        l2_mb=num.get("l2_mb"), host_gbps=num.get("host_gbps"), source=src, max_achievable=ach,
        compute_capability=str(e["compute_capability"]) if e.get("compute_capability") else None,
        aliases=tuple(str(a) for a in aliases),
    )


def apply_device_file(catalog: dict[str, DeviceSpec], path: str | os.PathLike) -> None:
    """Add or override the file's devices in `catalog` (in place); one-line ValueError on bad input."""
    p = os.fspath(path)
    for i, e in enumerate(_read_entries(p)):
        where = f"device file {p}: devices[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("key"), str) or not e["key"].strip():
            raise ValueError(f"{where}: each entry needs a string 'key'")
        unknown = set(e) - _FILE_FIELDS
        if unknown:
            raise ValueError(f"{where} ({e['key']}): unknown field(s) {sorted(unknown)}")
        where = f"{where} ({e['key'].strip()})"
        spec = _entry_spec(catalog, e, where, p)
        for k, v in spec.max_achievable.items():
            peak = spec.peak_tbps if k == "tbps" else spec.peak_tflops.get(k)
            if peak is not None and v > peak * 1.05:
                raise ValueError(f"{where}: max_achievable.{k}={v:g} exceeds the peak {peak:g} "
                                 "(units are TFLOP/s and TB/s)")
        catalog[spec.key] = spec

"""GPU device catalog and the matcher from Kineto ``deviceProperties`` to a catalog entry.

The figures live in ``traceflops/data/devices.csv`` (one row per device, dense datasheet peaks in
TFLOP/s -- never the 2:4-sparsity figures -- HBM bandwidth in decimal TB/s, and a ``source`` column);
``devices-sources.md`` next to it explains each decision.  This module only loads that table and
matches trace device names to it.  Pure: stdlib (+ pyyaml, imported lazily for ``--device-file``).

Peak selection (:func:`peak_for`):

* ``tensor_core=True`` (GEMM/conv/attention on tensor or matrix cores): ``fp64`` -> ``fp64_tc``
  (falls back to vector ``fp64`` on parts without FP64 tensor cores, e.g. V100, where DGEMM runs on
  the vector units), ``tf32`` -> ``tf32`` (falls back to ``fp32`` where TF32 does not exist: the math
  then runs as plain FP32), ``fp32`` -> vector ``fp32`` (fp32 only counts as TF32 when the caller says
  ``'tf32'``), ``bf16/fp16/fp8/int8/fp4`` -> that peak, or None where the part lacks it.
* ``tensor_core=False`` (pointwise, reductions, norms): ``fp64`` -> ``fp64``; every other dtype ->
  the vector ``fp32`` peak.  BF16/FP16 pointwise kernels compute in FP32 registers on the vector
  units (loads/stores are narrow, the math is not), so the FP32 rate is the honest ceiling; packed
  half2 math can reach 2x on some parts, which we deliberately do not assume.
"""
from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .device_file import apply_device_file
from .spec import ACHIEVABLE_KEYS, DTYPES, PEAK_KEYS, DeviceSpec  # noqa: F401  (re-exported)

_CSV_COLUMNS = ("key", "name", "vendor", "arch", "compute_capability", "sms", "memory_gb",
                *PEAK_KEYS, "hbm_tbps", "l2_mb", "host_gbps", "host_link", "aliases", "match_warning", "source")
NO_PROPS_WARNING = "unknown device: no deviceProperties in the trace; pass --device"


# ----------------------------------------------------------------------------- loading

def _num(value: str, what: str) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"devices.csv: {what}: not a number: {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"devices.csv: {what}: must be a positive number, got {value!r}")
    return x


@lru_cache(maxsize=1)
def _builtin_rows() -> tuple[dict, ...]:
    text = resources.files("traceflops").joinpath("data/devices.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    missing = set(_CSV_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"devices.csv: missing columns {sorted(missing)}")
    return tuple(dict(row) for row in reader)


def _spec_from_row(row: dict) -> DeviceSpec:
    key = row["key"].strip()
    if None in row or not key:
        raise ValueError(f"devices.csv: malformed row {row.get('key')!r}")
    peaks = {k: v for k in PEAK_KEYS if (v := _num(row[k], f"{key}.{k}")) is not None}
    sms = _num(row["sms"], f"{key}.sms")
    return DeviceSpec(
        key=key, name=row["name"].strip(), vendor=row["vendor"].strip(),
        arch=row["arch"].strip() or None, sms=int(sms) if sms else None,
        memory_gb=_num(row["memory_gb"], f"{key}.memory_gb"), peak_tflops=peaks,
        peak_tbps=_num(row["hbm_tbps"], f"{key}.hbm_tbps"), l2_mb=_num(row["l2_mb"], f"{key}.l2_mb"),
        source=row["source"].strip(), max_achievable={},
        compute_capability=row["compute_capability"].strip() or None,
        aliases=tuple(a.strip() for a in row["aliases"].split("|") if a.strip()),
        match_warning=row["match_warning"].strip() or None,
        host_gbps=_num(row["host_gbps"], f"{key}.host_gbps"), host_link=row["host_link"].strip() or None,
    )


def load_catalog(extra_file: str | os.PathLike | None = None) -> dict[str, DeviceSpec]:
    """The built-in catalog, plus devices / ``max_achievable`` ceilings from a user device file."""
    catalog: dict[str, DeviceSpec] = {}
    for row in _builtin_rows():
        spec = _spec_from_row(row)
        if spec.key in catalog:
            raise ValueError(f"devices.csv: duplicate key {spec.key!r}")
        catalog[spec.key] = spec
    if extra_file is not None:
        apply_device_file(catalog, extra_file)
    return catalog


# ----------------------------------------------------------------------------- matching

_MIG_RE = re.compile(r"\s+MIG(?:\s+(\S+))?\s*$", re.IGNORECASE)
_VF_RE = re.compile(r"\s+VF\s*$", re.IGNORECASE)
_DROP_WORDS = {"nvidia", "tesla", "amd", "instinct", "geforce", "quadro"}
_GENERIC_NAMES = {"", "amd radeon graphics", "radeon graphics", "amd graphics"}
_GFX_RE = re.compile(r"^(gfx[0-9a-f]+)")


def _generic(raw: str) -> bool:
    """A name that says nothing about the part: empty, a bare brand ('AMD Instinct', 'AMD Radeon Graphics'), or a
    gfx target ('gfx942'); ROCm reports these where the marketing name is unavailable (containers, VFs, old
    drivers), so the part is identified from arch, CU count and memory instead."""
    toks = _norm_tokens(raw)
    return (raw.strip().lower() in _GENERIC_NAMES or not toks or toks in {("radeon", "graphics"), ("graphics",)}
            or bool(_GFX_RE.match(raw.strip().lower())))


def _gfx(props: dict) -> str:
    """gfx target from `gcnArchName` ('gfx942:sramecc+:xnack-') or a name that is one; '' if neither."""
    for v in (props.get("gcnArchName"), props.get("name")):
        m = _GFX_RE.match(str(v or "").strip().lower())
        if m:
            return m.group(1)
    return ""


def _norm_tokens(name: str) -> tuple[str, ...]:
    """'NVIDIA A100-SXM4-40GB' -> ('a100', 'sxm4', '40gb'); vendor/brand words dropped."""
    words = re.split(r"[\s\-_/,()]+", name.lower())
    return tuple(w for w in words if w and w not in _DROP_WORDS)


def _mem_distance(total_bytes, spec: DeviceSpec) -> float:
    if not total_bytes or not spec.memory_gb:
        return 0.0
    # marketed GB is sometimes decimal, sometimes GiB-ish: take the closer reading
    return min(abs(math.log(total_bytes / d / spec.memory_gb)) for d in (1e9, 2**30))


def _alias_index(catalog) -> dict[tuple, list[DeviceSpec]]:
    """normalized name tokens -> specs; explicit driver aliases rank before key/name spellings."""
    idx: dict[tuple, list[tuple[int, DeviceSpec]]] = {}
    for s in catalog.values():
        for prio, names in ((0, s.aliases), (1, (s.name, s.key))):
            for a in names:
                lst = idx.setdefault(_norm_tokens(a), [])
                if all(x is not s for _, x in lst):
                    lst.append((prio, s))
    return {k: [s for _, s in sorted(v, key=lambda t: t[0])] for k, v in idx.items()}


def _pick(cands: list[DeviceSpec], props: dict, use_hw: bool) -> DeviceSpec:
    """Disambiguate same-name candidates (e.g. 'MI250X / MI250', GH200 variants) by SMs then memory."""
    if len(cands) == 1:
        return cands[0]
    nsms, mem = props.get("numSms"), props.get("totalGlobalMem")
    if not use_hw or not (nsms or mem):
        return cands[0]  # catalog order: explicit driver alias first, then CSV order
    if nsms:
        cands = [c for c in cands if c.sms == nsms] or cands
    return min(cands, key=lambda c: _mem_distance(mem, c))


def _describe(props: dict) -> str:
    bits = []
    if props.get("computeMajor") is not None:
        bits.append(f"cc {props.get('computeMajor')}.{props.get('computeMinor', 0)}")
    if _gfx(props):
        bits.append(_gfx(props))
    if props.get("numSms"):
        bits.append(f"{props['numSms']} SMs/CUs")
    if props.get("totalGlobalMem"):
        bits.append(f"{props['totalGlobalMem'] / 2**30:.1f} GiB")
    return ", ".join(bits)


def _fingerprint(props: dict, catalog) -> list[DeviceSpec]:
    """Catalog entries with this compute capability (or gfx arch), SM/CU count and memory."""
    major, minor, nsms = props.get("computeMajor"), props.get("computeMinor"), props.get("numSms")
    gfx = _gfx(props)
    if not nsms or (major is None and not gfx):
        return []
    cands = [s for s in catalog.values() if s.sms == nsms]
    if major is not None:
        cc = f"{major}.{minor or 0}"
        cands = [s for s in cands if s.compute_capability == cc]
    if gfx:
        cands = [s for s in cands if (s.arch or "").lower() == gfx]
    mem = props.get("totalGlobalMem")
    if mem and cands:
        best = min(_mem_distance(mem, c) for c in cands)
        cands = [c for c in cands if _mem_distance(mem, c) <= best + 0.05 and _mem_distance(mem, c) < 0.15]
    return cands


def match_device(props: dict | None, catalog) -> tuple[DeviceSpec | None, str | None]:
    """Match one Kineto ``deviceProperties`` entry to a catalog spec; returns (spec, warning)."""
    if not props:
        return None, NO_PROPS_WARNING
    raw = str(props.get("name") or "").strip()
    name, notes = raw, []
    mig = _MIG_RE.search(name)
    if mig:
        name = name[: mig.start()]
    if _VF_RE.search(name):  # AMD SR-IOV virtual function: same silicon as the physical GPU
        name = _VF_RE.sub("", name)
    toks = _norm_tokens(name)
    spec, how = None, None
    if toks:
        by_alias = _alias_index(catalog)
        if toks in by_alias:
            spec = _pick(by_alias[toks], props, use_hw=not mig)
        else:  # longest catalog alias that is a whole-token prefix ('b300' for 'b300 sxm6 xx')
            pref = [a for a in by_alias if a and toks[: len(a)] == a]
            if pref:
                best = max(pref, key=len)
                family = [s for a, lst in by_alias.items() if a[: len(best)] == best for s in lst]
                spec = _pick(list(dict.fromkeys(family)), props, use_hw=not mig)
                how = f"device name {raw!r} is not in the catalog verbatim; matched by name prefix to {spec.name}"
    if spec is None and _generic(raw):
        cands = _fingerprint(props, catalog)
        desc = _describe(props)
        what = "empty device name" if not raw else f"generic device name {raw!r}"
        if not cands:
            return None, (f"unknown device: {what} ({desc}) matches no catalog entry by compute "
                          "capability, SM/CU count and memory; pass --device")
        cands = sorted(cands, key=lambda c: _mem_distance(props.get("totalGlobalMem"), c))
        spec = cands[0]
        how = f"{what}; identified as {spec.name} from {desc}"
        if len(cands) > 1:
            how += f" (also consistent with: {', '.join(c.name for c in cands[1:])})"
    if spec is None:
        desc = _describe(props)
        return None, (f"unknown device {raw!r}" + (f" ({desc})" if desc else "") +
                      ": not in the device catalog; pass --device NAME or add it with --device-file")
    if how:
        notes.append(how)
    if mig:
        notes.append(f"{raw!r} is a MIG instance ({mig.group(1) or 'partition'}): peaks are for the full "
                     f"{spec.name}, the instance has only a fraction of its SMs and bandwidth")
    if spec.match_warning:
        notes.append(spec.match_warning)
    if not mig and spec.sms and props.get("numSms") and props["numSms"] != spec.sms:
        notes.append(f"trace reports {props['numSms']} SMs/CUs for {raw!r} but {spec.name} has {spec.sms}")
    return spec, "; ".join(notes) or None


def find_device(query: str, catalog) -> tuple[DeviceSpec, str | None]:
    """Resolve a --device NAME (key, name, alias or fuzzy like 'h100', 'H100 SXM', 'mi300x')."""
    q = _norm_tokens(str(query))
    qj = "".join(q)
    if not qj:
        raise ValueError("--device: empty device name")
    def flat(a):
        return "".join(_norm_tokens(a))

    for s in catalog.values():  # exact key or name, ignoring case and punctuation
        if qj in (flat(s.key), flat(s.name)):
            return s, None
    # prefix of a key/name ('h100' -> the H100 family), then a driver alias, then all tokens present
    cands = [s for s in catalog.values() if flat(s.key).startswith(qj) or flat(s.name).startswith(qj)]
    if not cands:
        cands = [s for s in catalog.values() if qj in {flat(a) for a in s.aliases}]
    if not cands:
        cands = [s for s in catalog.values()
                 if all(t in set(_norm_tokens(s.key)) | set(_norm_tokens(s.name)) for t in q)]
    if cands:
        sxm = [c for c in cands if "sxm" in c.key]  # prefer the flagship SXM part of a family
        pick = (sxm or cands)[0]
        if len(cands) == 1 or len(sxm) == 1:
            return pick, None
        # several parts and no single flagship: a guess would put the wrong peaks under every number
        raise ValueError(f"--device {query!r} is ambiguous: it matches {', '.join(c.key for c in cands)}; pass one of them")
    close = difflib.get_close_matches(str(query).lower(), list(catalog), n=5, cutoff=0.4)
    hint = f"; close keys: {', '.join(close)}" if close else ""
    raise ValueError(f"unknown device {query!r}{hint} (run 'traceflops devices' for the list)")


def resolve_devices(device_properties: list[dict] | None, used_device_ids: list[int], catalog,
                    override=None) -> tuple[dict[int, DeviceSpec | None], list[str]]:
    """Map each device id that kernels ran on to its spec (see module docstring). `override`: a --device
    query, or its (spec, warning) from `find_device`."""
    warnings: list[str] = []

    def warn(msg):
        if msg and msg not in warnings:
            warnings.append(msg)

    ids = list(dict.fromkeys(used_device_ids))
    props_list = [p for p in (device_properties or []) if isinstance(p, dict)]
    by_id: dict = {}
    for i, p in enumerate(props_list):
        did = p.get("id", i)
        try:
            did = int(did)
        except (TypeError, ValueError):
            pass
        by_id.setdefault(did, p)
    matched = {did: match_device(p, catalog) for did, p in by_id.items()}

    if override is not None:
        spec, w = override if isinstance(override, tuple) else find_device(override, catalog)
        warn(w)
        for did in ids:
            trace_spec = matched.get(did, (None, None))[0]
            if did in by_id and trace_spec is not spec:
                warn(f"--device {spec.key} overrides the trace's device {by_id[did].get('name')!r}")
        return {did: spec for did in ids}, warnings

    if not props_list:
        if ids:  # no GPU event ran on any device: nothing to resolve (a CPU-only trace)
            warn(NO_PROPS_WARNING)
        return {did: None for did in ids}, warnings

    out: dict = {}
    listed_keys = {(s.key if s else None) for s, _ in matched.values()}
    for did in ids:
        if did in matched:
            spec, w = matched[did]
            warn(w)
            out[did] = spec
        elif len(listed_keys) == 1 and None not in listed_keys:
            spec, w = next(iter(matched.values()))
            warn(w)
            warn(f"device {did} is not listed in deviceProperties (listed ids: "
                 f"{', '.join(str(k) for k in by_id)}); all listed GPUs are {spec.name}, assuming the same")
            out[did] = spec
        else:
            for s, w in matched.values():
                warn(w)
            kinds = sorted({str(p.get("name")) for p in props_list})
            warn(f"unknown device for id {did}: not listed in deviceProperties and the listed GPUs "
                 f"({', '.join(kinds)}) are not a single known type; pass --device")
            out[did] = None
    return out, warnings


# ----------------------------------------------------------------------------- peaks

def _resolve_key(table: dict[str, float], dtype: str | None, tensor_core: bool) -> float | None:
    if not isinstance(dtype, str):
        return None
    d = dtype.strip().lower()
    if d not in DTYPES:
        return None
    if not tensor_core:
        return table.get("fp64") if d == "fp64" else table.get("fp32")
    if d == "fp64":
        return table.get("fp64_tc", table.get("fp64"))
    if d == "tf32":
        return table.get("tf32", table.get("fp32"))
    return table.get(d)


def peak_for(spec: DeviceSpec, dtype: str | None, tensor_core: bool) -> float | None:
    """Datasheet dense peak in TFLOP/s (TOPS for int8) for a kernel of this dtype; None if unknown."""
    return _resolve_key(spec.peak_tflops, dtype, tensor_core)


def achievable_for(spec: DeviceSpec, dtype: str | None, tensor_core: bool) -> float | None:
    """User-measured ceiling (``max_achievable``) with the same key rules as :func:`peak_for`."""
    return _resolve_key(spec.max_achievable, dtype, tensor_core)


@dataclass(frozen=True)
class Devices:
    """The device catalog and the user's --device, resolved once for a whole run: every trace of it (a rank
    folder, both sides of a compare) is matched against the same object. `Devices.load` fails early on an
    unknown --device or a bad device file."""
    catalog: dict = field(hash=False)
    override: tuple | None = None  # (spec, warning) of --device

    @classmethod
    def load(cls, device: str | None = None, device_file=None) -> "Devices":
        catalog = load_catalog(device_file)
        return cls(catalog, find_device(device, catalog) if device is not None else None)

    def resolve(self, device_properties, used_device_ids):
        """(device id -> spec or None, warnings) for the devices a trace's kernels ran on."""
        return resolve_devices(device_properties, used_device_ids, self.catalog, override=self.override)


def catalog_table(catalog) -> list[dict]:
    """Rows for ``traceflops devices``."""
    rows = []
    for s in catalog.values():
        p = s.peak_tflops
        rows.append({"key": s.key, "name": s.name, "arch": s.arch, "sms": s.sms, "memory": s.memory_gb,
                     "bf16": p.get("bf16"), "fp16": p.get("fp16"), "fp8": p.get("fp8"),
                     "fp32": p.get("fp32"), "tf32": p.get("tf32"), "fp64": p.get("fp64"),
                     "hbm_tbps": s.peak_tbps})
    return rows

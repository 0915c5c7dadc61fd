"""annotate: the original trace with traceflops' numbers added to each GPU event's args.

Open the result in Perfetto (ui.perfetto.dev) or chrome://tracing and click a kernel to see its FLOPs,
bytes, achieved TFLOP/s, ceiling, % of ceiling, bound and op.  Kernel rows are matched back to events
by their position among GPU events (ingest keeps file order) and each match is checked on
(correlation, duration); when the check fails we fall back to matching on (device, stream,
correlation, duration, name).  Secret-like metadata keys and values are redacted in the output.
"""
import gzip
from pathlib import Path

import msgspec
import orjson

from ..errors import TraceError
from ..ingest.tables import GPU_KINDS  # the same event selection as ingest: one row per GPU event
from ..numbers import finite_or_none
from ..outputs.redact import redact_metadata

ANNOTATED = ("flops", "bytes", "achieved_tflops", "ceiling_tflops", "pct_of_ceiling", "bound", "op")


def _is_gpu(ev):
    cat = ev.get("cat")
    return isinstance(cat, str) and cat.lower() in GPU_KINDS and ev.get("ph") in ("X", None)


def _value(col, v):
    if v is None or v is _NA:
        return None
    if col in ("bound", "op"):
        return v if isinstance(v, str) and v else None
    x = finite_or_none(v)
    if x is None:
        return None
    return int(x) if col in ("flops", "bytes") and x.is_integer() and abs(x) < 2**63 else x


try:
    import pandas as _pd
    _NA = _pd.NA
except Exception:  # pragma: no cover
    _NA = object()


def _check(ev, row):
    args = ev.get("args") if isinstance(ev.get("args"), dict) else {}
    corr = args.get("correlation")
    rc = row.get("correlation")
    if rc is not None and rc is not _NA and corr is not None and finite_or_none(corr) != finite_or_none(rc):
        return False
    d, rd = finite_or_none(ev.get("dur")), finite_or_none(row.get("dur_us"))
    if d is not None and rd is not None and abs(d - rd) > 1e-3 * max(1.0, abs(d)):
        return False
    return True


def _loose_key(ev):
    args = ev.get("args") if isinstance(ev.get("args"), dict) else {}
    return (finite_or_none(args.get("device", ev.get("pid") if isinstance(ev.get("pid"), int) else None)),
            finite_or_none(args.get("stream")), finite_or_none(args.get("correlation")), finite_or_none(ev.get("dur")), ev.get("name"))


def _row_key(row):
    return (finite_or_none(row.get("device")), finite_or_none(row.get("stream")), finite_or_none(row.get("correlation")), finite_or_none(row.get("dur_us")),
            row.get("name"))


def load_events(path, max_bytes=None):
    """(header dict, [event dicts]) of a trace file, with the same gzip/size/salvage handling as ingest."""
    from ..ingest.source import DEFAULT_MAX_BYTES, read_bytes, split_top
    warnings = []
    data = read_bytes(str(path), max_bytes or DEFAULT_MAX_BYTES, warnings)
    header, raw = split_top(data, str(path), warnings)
    events = []
    for r in raw:
        try:
            ev = orjson.loads(bytes(r) if isinstance(r, msgspec.Raw) else r)
        except orjson.JSONDecodeError:
            try:
                ev = msgspec.json.decode(r)
            except msgspec.DecodeError:
                continue
        if isinstance(ev, dict):
            events.append(ev)
    return (header if isinstance(header, dict) else {}), events


def annotate_events(analysis, events):
    """Add ANNOTATED fields to the args of each GPU event in `events` (in place). Returns (matched, total GPU events)."""
    k = analysis.kernels
    cols = [c for c in ("name", "dur_us", "device", "stream", "correlation") + ANNOTATED if c in k.columns]
    rows = k[cols].to_dict("records")
    gpu = [ev for ev in events if _is_gpu(ev)]
    pairs = []
    if len(gpu) == len(rows) and all(_check(ev, row) for ev, row in zip(gpu, rows)):
        pairs = list(zip(gpu, rows))
    else:
        by_key = {}
        for row in rows:
            by_key.setdefault(_row_key(row), []).append(row)
        for ev in gpu:
            lst = by_key.get(_loose_key(ev))
            if lst:
                pairs.append((ev, lst.pop(0)))
    for ev, row in pairs:
        args = ev.get("args")
        if not isinstance(args, dict):
            args = {}
            ev["args"] = args
        for c in ANNOTATED:
            if c not in row:
                continue
            v = _value(c, row[c])
            if v is None:
                continue
            if c in args and c == "bytes":  # memcpy events carry their own "bytes": keep it, add ours beside it
                args["traceflops_bytes"] = v
            else:
                args[c] = v
    return len(pairs), len(gpu)


def annotate(path, out, analysis=None, **analyze_kw):
    """Write `path` with traceflops columns added to each GPU event's args to `out` (.gz → gzip). Returns a dict."""
    from ..pipeline import analyze
    a = analysis if analysis is not None else analyze(path, **analyze_kw)
    header, events = load_events(path, analyze_kw.get("max_bytes"))
    matched, total = annotate_events(a, events)
    header = redact_metadata({k: v for k, v in header.items() if k != "traceEvents"})
    for ev in events:
        if isinstance(ev.get("args"), dict):
            ev["args"] = redact_metadata(ev["args"])
    doc = dict(header)
    doc["traceEvents"] = events
    try:
        payload = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        payload = msgspec.json.encode(doc)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.name.endswith(".gz"):
            with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=6) as gz:
                gz.write(payload)
        else:
            out.write_bytes(payload)
    except OSError as e:
        raise TraceError(f"{out}: cannot write ({e.strerror or e})") from None
    return {"path": out, "gpu_events": total, "annotated": matched, "kernel_rows": len(a.kernels)}

"""Bytes in, raw events out: gzip detection, bounded decompression, and salvage of damaged JSON.

The fast path hands msgspec the whole buffer once and keeps each event as a zero-copy `Raw` slice.
Only when that fails (torch <= 2.13 writes unescaped quotes in names; crashed jobs leave files cut
off mid-write) do we fall back to a per-event salvage that keeps everything around the damage.
"""
import json
import os
import re
import zlib

import msgspec

from ..errors import TraceError
from .schema import TOP_ARRAY, TOP_OBJECT

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_BYTES = 8 << 30  # inflated size; --max-size raises it
BOMB_RATIO = 1000  # real JSON traces compress 5-40x; far beyond that is a decompression bomb


def read_bytes(path, max_bytes=DEFAULT_MAX_BYTES, warnings=None):
    """The file's JSON bytes, gunzipped if it starts with the gzip magic (whatever its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head != GZIP_MAGIC:
                size = os.fstat(f.fileno()).st_size
                if size > max_bytes:
                    raise TraceError(f"{path}: file is {size:,} bytes, over the {max_bytes:,}-byte limit (raise it with --max-size)")
                return f.read()
            return _gunzip(f, path, max_bytes, warnings if warnings is not None else [])
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except PermissionError:
        raise TraceError(f"{path}: permission denied") from None


def _gunzip(f, path, max_bytes, warnings):
    comp_size = max(os.fstat(f.fileno()).st_size, 1)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts, total = [], 0
    while True:
        chunk = f.read(1 << 22)
        if not chunk:
            break
        try:
            out = d.decompress(chunk, max_bytes + 1 - total)
        except zlib.error as e:
            if total == 0:
                raise TraceError(f"{path}: corrupt gzip data ({e})") from None
            warnings.append(f"{path}: corrupt gzip data after {total:,} inflated bytes ({e}); kept what came before")
            break
        parts.append(out)
        total += len(out)
        if total > max_bytes or (total > (256 << 20) and total > BOMB_RATIO * comp_size):
            raise TraceError(f"{path}: gzip inflates past {total:,} bytes from {comp_size:,} (limit {max_bytes:,}; "
                             "a decompression bomb? raise the limit with --max-size)")
        if d.unconsumed_tail:  # output was capped: feed the rest of this chunk before reading more
            while d.unconsumed_tail and total <= max_bytes:
                out = d.decompress(d.unconsumed_tail, max_bytes + 1 - total)
                parts.append(out)
                total += len(out)
            if total > max_bytes:
                raise TraceError(f"{path}: gzip inflates past the {max_bytes:,}-byte limit (raise it with --max-size)")
        if d.eof:
            break
    if not d.eof:
        warnings.append(f"{path}: gzip stream ends early (truncated file); kept the {total:,} bytes inflated")
    return b"".join(parts)


def split_top(data, path, warnings):
    """(header dict, list of raw event byte strings or Raw slices). Raises TraceError when nothing is usable."""
    stripped = data.lstrip()
    if not stripped:
        raise TraceError(f"{path}: empty file")
    if stripped[:1] not in (b"{", b"["):
        raise TraceError(f"{path}: not a JSON trace (starts with {stripped[:12]!r})")
    try:
        if stripped[:1] == b"[":
            return {}, TOP_ARRAY.decode(data)
        top = TOP_OBJECT.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return salvage(data, path, warnings)
    events = top.pop("traceEvents", None)
    header = {}
    for k, raw in top.items():
        try:
            header[k] = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            warnings.append(f"{path}: metadata key {k!r} is not valid JSON; ignored")
    if events is None:
        raise TraceError(f"{path}: JSON object has no 'traceEvents' list (not a Chrome/Kineto trace)")
    try:
        events = TOP_ARRAY.decode(events)
    except msgspec.ValidationError:
        raise TraceError(f"{path}: 'traceEvents' is not a list") from None
    return header, events


# A line holding one `"key": "value",` pair whose value contains raw quotes (torch <= 2.13 does not escape them).
_BAD_QUOTE_LINE = re.compile(r'^(\s*"[^"\n]+":\s*")(.*".*)("\s*,?\s*)$', re.M)
_NEXT_EVENT = re.compile(r'[\n,]\s*\{\s*"(?:ph|name|cat|pid|tid|ts|args)"')
_SKIP = re.compile(r"[\s,]*")
_EVENTS_KEY = re.compile(r'"traceEvents"\s*:\s*\[')


def _escape_line(m):
    inner = m.group(2)
    if '", "' in inner or '":' in inner:  # several keys on one line: not the torch quote bug
        return m.group(0)
    return m.group(1) + inner.replace("\\", "/").replace('"', '\\"') + m.group(3)


def salvage(data, path, warnings):
    """Per-event recovery: keep every event that parses, say what was skipped and where."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace")
        warnings.append(f"{path}: invalid UTF-8 (first at byte {e.start:,}); replaced with U+FFFD")
    repaired, nfix = _BAD_QUOTE_LINE.subn(_escape_line, text)
    if nfix:
        warnings.append(f"{path}: repaired {nfix} line(s) with unescaped quotes (torch <= 2.13 writes these)")
    text = repaired
    m = _EVENTS_KEY.search(text)
    if text.lstrip().startswith("["):
        header, pos = {}, text.index("[") + 1
    elif m is None:
        raise TraceError(f"{path}: invalid JSON and no 'traceEvents' list found")
    else:
        header, pos = _lenient_object(text[: m.start()] + '"traceEvents": []}', path, warnings), m.end()
    dec = json.JSONDecoder()
    events, skipped, n = [], [], len(text)
    while True:
        pos = _SKIP.match(text, pos).end()
        if pos >= n:
            warnings.append(f"{path}: trace is cut off (no closing ']' for traceEvents); kept {len(events):,} events before the cut")
            break
        if text[pos] == "]":
            tail = text[pos + 1:].strip().lstrip(",").strip()
            if tail.startswith('"'):
                header.update(_lenient_object("{" + tail, path, warnings, quiet=True))
            break
        try:
            obj, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            nxt = _NEXT_EVENT.search(text, pos + 1)
            if nxt is None:
                warnings.append(f"{path}: trace is cut off inside an event at char {pos:,}; kept {len(events):,} events before it")
                break
            skipped.append(pos)
            pos = nxt.start() + 1
            continue
        if isinstance(obj, dict):
            events.append(obj)
        pos = end
    if skipped:
        warnings.append(f"{path}: skipped {len(skipped)} unparseable event(s) (first at char {skipped[0]:,})")
    # Back to bytes so the rest of ingest sees one input type; NaN/Infinity become null here.
    return header, [msgspec.json.encode(e) for e in events]


def _lenient_object(text, path, warnings, quiet=False):
    try:
        obj, _ = json.JSONDecoder().raw_decode(text.strip())
        return obj if isinstance(obj, dict) else {}
    except json.JSONDecodeError:
        if not quiet:
            warnings.append(f"{path}: trace metadata header is damaged; device properties may be missing")
        return {}

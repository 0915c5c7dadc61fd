"""Bytes in, raw events out: gzip detection, bounded decompression, and salvage of damaged JSON.

The fast path hands msgspec the whole buffer once and keeps each event as a zero-copy `Raw` slice.
Only when that fails (torch <= 2.13 writes unescaped quotes in names; crashed jobs leave files cut
off mid-write) do we fall back to a per-event salvage that keeps everything around the damage.
"""
import codecs
import io
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
                data = f.read(max_bytes + 1)  # bounded: a pipe or device reports size 0 and may never end
                if len(data) > max_bytes:
                    raise TraceError(f"{path}: input is over the {max_bytes:,}-byte limit (raise it with --max-size)")
                return data
            return _gunzip(f, path, max_bytes, warnings if warnings is not None else [])
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except PermissionError:
        raise TraceError(f"{path}: permission denied") from None
    except io.UnsupportedOperation:  # seek() on a pipe or character device
        raise TraceError(f"{path}: not a regular file (cannot seek)") from None


STEP = 1 << 20  # most bytes one decompress call may produce: bounds what a bomb or a corrupt block can cost
BOMB_MIN = 256 << 20  # below this much output the ratio guard stays quiet (small, very regular files are fine)


def _gunzip(f, path, max_bytes, warnings):
    """Inflate every gzip member (concatenated members are valid gzip) in bounded steps.

    The ratio guard compares output with the compressed bytes consumed *so far*, so a bomb is refused
    after a few hundred MB of output, never after inflating up to the size limit.
    """
    comp_size = max(os.fstat(f.fileno()).st_size, 1)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts, total, read, pending, members = [], 0, 0, b"", 1
    while True:
        if not pending:
            pending = f.read(1 << 16)  # small input steps: a corrupt block loses little of what came before
            if not pending:
                try:  # end of file: whatever inflate still holds (a capped call can leave a few bytes)
                    tail = d.flush()
                except zlib.error:
                    tail = b""
                parts.append(tail)
                total += len(tail)
                break
            read += len(pending)
        try:
            out = d.decompress(pending, min(STEP, max_bytes + 1 - total))
        except zlib.error as e:
            if total == 0:
                raise TraceError(f"{path}: corrupt gzip data ({e})") from None
            warnings.append(f"{path}: corrupt gzip data after {total:,} inflated bytes ({e}); kept what came before")
            return b"".join(parts)
        pending = d.unconsumed_tail
        parts.append(out)
        total += len(out)
        consumed = max(read - len(pending) - len(d.unused_data), 1)
        if total > max_bytes:
            raise TraceError(f"{path}: gzip inflates past the {max_bytes:,}-byte limit (raise it with --max-size)")
        if total > BOMB_MIN and total > BOMB_RATIO * consumed:
            raise TraceError(f"{path}: gzip inflates {total:,} bytes from the first {consumed:,} of {comp_size:,} compressed "
                             f"bytes (over {BOMB_RATIO}x: a decompression bomb?); refused")
        if d.eof:  # end of one member: another may follow (cat a.gz b.gz, pigz, bgzip)
            rest = d.unused_data.lstrip(b"\0")  # some writers pad with zeros
            while len(rest) < 2:
                more = f.read(1 << 20)
                if not more:
                    break
                read += len(more)
                rest = (rest + more).lstrip(b"\0")
            if not rest:
                return b"".join(parts)
            if rest[:2] != GZIP_MAGIC:
                warnings.append(f"{path}: non-gzip bytes after gzip member {members} (after {total:,} inflated bytes); ignored")
                return b"".join(parts)
            d, pending, members = zlib.decompressobj(16 + zlib.MAX_WBITS), rest, members + 1
    if not d.eof:
        if not total:  # nothing to salvage: "empty file" would hide that the file was cut
            raise TraceError(f"{path}: gzip stream ends before any data (truncated file)")
        warnings.append(f"{path}: gzip stream ends early (truncated file); kept the {total:,} bytes inflated")
    return b"".join(parts)


def split_top(data, path, warnings):
    """(header dict, list of raw event byte strings or Raw slices). Raises TraceError when nothing is usable."""
    stripped = data.lstrip()
    if not stripped:
        raise TraceError(f"{path}: empty file")
    if stripped[:1] not in (b"{", b"["):
        raise TraceError(f"{path}: not a JSON trace (starts with {stripped[:12]!r})")
    bad = _first_bad_utf8(data)
    if bad is not None:  # msgspec would raise on it later, one chunk at a time; repair once, here
        warnings.append(f"{path}: invalid UTF-8 (first at byte {bad:,}); replaced with U+FFFD")
        data = data.decode("utf-8", errors="replace").encode("utf-8")
    try:
        if stripped[:1] == b"[":
            return {}, TOP_ARRAY.decode(data)
        top = TOP_OBJECT.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # msgspec raises RecursionError on deep nesting
        return salvage(data, path, warnings)
    events = top.pop("traceEvents", None)
    header = {}
    for k, raw in top.items():
        try:
            header[k] = msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            warnings.append(f"{path}: metadata key {k!r} is not valid JSON; ignored")
    if events is None:
        raise TraceError(f"{path}: JSON object has no 'traceEvents' list (not a Chrome/Kineto trace)")
    try:
        events = TOP_ARRAY.decode(events)
    except msgspec.ValidationError:
        raise TraceError(f"{path}: 'traceEvents' is not a list") from None
    return header, events


def _first_bad_utf8(data):
    """Offset of the first invalid UTF-8 byte, or None. ASCII (almost every trace) costs one fast scan."""
    if data.isascii():
        return None
    dec, view, step = codecs.getincrementaldecoder("utf-8")(), memoryview(data), 1 << 24
    for i in range(0, len(data), step):
        held = len(dec.getstate()[0])  # bytes of a split character carried over from the previous slice
        try:
            dec.decode(view[i:i + step], final=i + step >= len(data))
        except UnicodeDecodeError as e:
            return i - held + e.start
    return None


# A line holding one `"key": "value",` pair whose value contains raw quotes (torch <= 2.13 does not escape them).
_BAD_QUOTE_LINE = re.compile(r'^(\s*"[^"\n]+":\s*")(.*".*)("\s*,?\s*)$', re.M)
_NEXT_EVENT = re.compile(r'[\n,]\s*\{\s*"(?:ph|name|cat|pid|tid|ts|args)"')
_SKIP = re.compile(r"[\s,]*")
_EVENTS_KEY = re.compile(r'"traceEvents"\s*:\s*\[')


def _escape_line(m):
    inner = m.group(2)
    if '", "' in inner or '":' in inner:  # several keys on one line: not the torch quote bug
        return m.group(0)
    try:  # already a valid JSON string (quotes escaped properly): leave it alone
        json.loads('"' + inner + '"')
        return m.group(0)
    except ValueError:
        pass
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
        except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: hostile nesting depth
            nxt = _NEXT_EVENT.search(text, pos + 1)
            if nxt is None:
                if isinstance(e, RecursionError):
                    warnings.append(f"{path}: event at char {pos:,} is nested too deeply to read; skipped it and the rest")
                else:
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
    except (json.JSONDecodeError, RecursionError):
        if not quiet:
            warnings.append(f"{path}: trace metadata header is damaged; device properties may be missing")
        return {}

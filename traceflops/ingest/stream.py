"""Streaming reader for well-formed traces: mmap the file and decode `traceEvents` chunk by chunk.

No copy of the whole file is ever held: the file is memory-mapped, a chunk of ~12 MB of events is
copied out, decoded, routed and columnized, and its pages are then dropped from our RSS
(`madvise(MADV_DONTNEED)`; the page cache keeps them). gzip input is inflated by source.py (bounded,
bomb-checked) and chunked the same way from memory.

Chunk boundaries are found with a byte search for `}` `,` `{`. A wrong cut (inside a string or a nested
object) can never decode: JSON lexed from a true event boundary that stops inside a string or object is
invalid, so every accepted cut is a true one. When no cut works, or anything else is off (damaged JSON,
odd layout), `Fallback` is raised and the caller uses source.py's whole-buffer path with its salvage.

Each chunk is decoded twice, cheaply: first into `Head` structs whose `args` stay raw (`KnownHead`s while
every ph and cat is a known value), then only the args of events some table keeps (a minority: most events
are python stacks and instants) are decoded into `Args`, in one batch.

A large input is split into byte ranges read by forked workers (forks.py). The splits are cut candidates
like any other: the range before a split must decode up to it, else the split lay inside a string, and
the parent reads on alone from its last true event start.
"""
import mmap
import os
import re

import msgspec
from msgspec import Raw

from . import forks
from ..memory import release_heap
from .schema import Args, Head, KnownHead, Optional
from .tables import Router

CHUNK_BYTES = 12 << 20  # per process: 16 MB put two decoding processes ~60 MB higher; 8 MB ran slower (3 A/B runs)
MAX_CUT_TRIES = 64
PARALLEL_MIN_BYTES = 64 << 20  # below this a worker's start and pickling cost more than they save
FIRST_SHARE = 0.52  # measured on a 505 MB trace: a forked worker reads ~10% slower than the parent; both end together

_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_CUT = re.compile(rb'\}\s*,\s*\{')


class Fallback(Exception):
    """The streaming path cannot read this input; use the whole-buffer path."""


KNOWN_HEADS = msgspec.json.Decoder(list[KnownHead])
HEADS = msgspec.json.Decoder(list[Head])
_HEAD_TYPES = (Head, KnownHead)
RAWS = msgspec.json.Decoder(list[Raw])
ONE_HEAD = msgspec.json.Decoder(Head)
ARGS = msgspec.json.Decoder(list[Optional[Args]])
TAIL = msgspec.json.Decoder(dict[str, Raw])
ONE_ARGS = msgspec.json.Decoder(Optional[Args])
_BAD = object()


def read_stream(path, data, router, progress=None, workers=1):
    """Decode the events of `data` (a bytes object, or None to mmap `path`) into `router`, using up to
    `workers` processes (forks.py) on a large input: each reads a byte range, and their tables are merged
    in file order, the same tables as one process reads.

    Returns (header dict, count of events whose fields had impossible types). Raises Fallback."""
    if data is not None:
        return _read(memoryview(data), router, progress, None, workers)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise Fallback("empty")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        try:
            mm.madvise(mmap.MADV_SEQUENTIAL)
        except (AttributeError, OSError):
            pass
        return _read(mm, router, progress, mm, workers)
    finally:
        mm.close()


def _release(mm, upto):
    """Drop the mapped pages before `upto` from our RSS (they stay in the page cache)."""
    if mm is None:
        return
    upto -= upto % mmap.PAGESIZE
    if upto > 0:
        try:
            mm.madvise(mmap.MADV_DONTNEED, 0, upto)
        except (AttributeError, OSError, ValueError):
            pass


def _read(buf, router, progress, mm, workers=1):
    n = len(buf)
    first = _first_byte(buf)
    if first == b"[":
        pos = _skip_ws(buf, 0) + 1
        header, obj_form = {}, False
    elif first == b"{":
        m = _EVENTS_KEY.search(buf)
        if m is None:
            raise Fallback("no traceEvents key")
        try:
            pre = TAIL.decode(bytes(buf[:m.start()]) + b'"traceEvents": []}')
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            raise Fallback("header") from None
        pre.pop("traceEvents", None)
        header, obj_form, pos = dict(pre), True, m.end()
    else:
        raise Fallback("not JSON")
    splits = _split_points(buf, pos, workers)
    if splits:
        bad = _parallel(buf, pos, splits, router, progress, mm, obj_form, header)
    else:
        bad = _span(buf, pos, None, router, _Heads(), progress, mm, obj_form, header)
    if progress is not None:
        progress(n, n)
    _release(mm, n)
    return _decode_header(header), bad


class _WrongSplit(Exception):
    """A range's last chunk did not decode up to its split: the split lay inside a string. Everything up to
    `pos` (a true event start) was read; the ranges after it were read from a wrong start and are dropped."""

    def __init__(self, pos, bad):
        super().__init__(pos)
        self.pos, self.bad = pos, bad


def _split_points(buf, pos, workers):
    """_CUT matches where ranges 2..workers begin (a range starts at match.end() - 1); none when the events
    are too few bytes to be worth splitting. They are only candidates until `_span` decodes up to them."""
    size = len(buf) - pos
    if workers < 2 or size < PARALLEL_MIN_BYTES:
        return []
    first = FIRST_SHARE if workers == 2 else 1 / workers
    rest = (1 - first) / (workers - 1)
    out, at = [], pos
    for i in range(workers - 1):
        m = _CUT.search(buf, max(at, pos + int(size * (first + i * rest))))
        if m is None:
            break
        out.append(m)
        at = m.end()
    return out


def _parallel(buf, pos, splits, router, progress, mm, obj_form, header):
    """Read the first range here and the others in forked workers; merge their tables in file order."""
    spans = list(zip(splits, splits[1:] + [None]))
    children = [forks.fork(_child_span, buf, m.end() - 1, end, mm, obj_form, router.keep_python)
                for m, end in spans]
    if progress is not None:  # the workers read at about our pace: show our range's progress over the whole
        first, scale = pos, (len(buf) - pos) / max(1, splits[0].start() - pos)
        shown = progress

        def progress(p, n):
            shown(min(n, int(first + (p - first) * scale)), n)

    heads = _Heads()

    def read_on(at, bad):  # a split lay inside a string: everything from `at` is read here, alone
        forks.reap(children)
        return bad + _span(buf, at, None, router, heads, progress, mm, obj_form, header)
    try:
        try:
            bad = _span(buf, pos, splits[0], router, heads, progress, mm, obj_form, header)
        except _WrongSplit as w:
            return read_on(w.pos, w.bad)
        release_heap()  # our decoded chunks' freed heap goes back before the workers' pieces arrive
        for (m, end), child in zip(spans, children):
            result = forks.join(child)
            if result is None:  # the worker died (out of memory, killed): read its range here
                try:
                    bad += _span(buf, m.end() - 1, end, router, heads, None, mm, obj_form, header)
                    continue
                except _WrongSplit as w:
                    return read_on(w.pos, bad + w.bad)
            if result[0] == "fallback":  # the range before it ended on this split, so the split was true
                raise Fallback(result[1])
            bad += result[1]
            header.update(result[2])
            router.absorb(result[3])
            if result[0] == "wrong_split":
                return read_on(result[4], bad)
        return bad
    finally:
        forks.reap(children)


def _child_span(buf, pos, end, mm, obj_form, keep_python):
    """A worker's range: read with its own Router, returned as picklable pieces."""
    router = Router(keep_python=keep_python)
    header = {}
    try:
        bad = _span(buf, pos, end, router, _Heads(), None, mm, obj_form, header)
    except Fallback as e:
        return ("fallback", str(e))
    except _WrongSplit as w:
        return ("wrong_split", w.bad, header, router.state(), w.pos)
    release_heap()  # the decoded chunks' heap, while the parent unpickles what we send
    return ("ok", bad, header, router.state())


def _span(buf, pos, end, router, heads, progress, mm, obj_form, header):
    """Route the events from `pos` (an event start) up to the cut `end` (a match of _CUT), or to the end of
    the events when `end` is None. Returns the count of type-damaged events dropped."""
    n = len(buf)
    limit = n if end is None else end.start()
    bad = 0
    while True:
        if limit - pos <= CHUNK_BYTES + (CHUNK_BYTES >> 2):
            if end is None:
                bad += _last(buf, pos, obj_form, header, router, heads)
            else:  # this decodes only if `end` is a true event boundary (see the module docstring)
                evs = heads.decode(_joined(b"[", buf, pos, end.start() + 1, b"]"))
                if evs is None:
                    raise _WrongSplit(pos, bad)
                bad += _route(evs, router)
            break
        got = _cut(buf, pos, limit, heads)
        if got is None:  # no event boundary before the limit: the rest is one last chunk
            limit = pos
            continue
        cut, evs = got
        bad += _route(evs, router)
        pos = cut
        _release(mm, pos)
        if progress is not None:
            progress(pos, n)
    return bad


def _first_byte(buf):
    i = _skip_ws(buf, 0)
    return bytes(buf[i:i + 1])


def _skip_ws(buf, i):
    head = bytes(buf[i:i + 4096])
    return i + len(head) - len(head.lstrip())


def _cut(buf, pos, limit, heads):
    """(next event start, decoded Heads) for the chunk starting at `pos`, cut before `limit`; None when no
    candidate cut lies before `limit`."""
    search_from = pos + CHUNK_BYTES
    for _ in range(MAX_CUT_TRIES):
        m = _CUT.search(buf, search_from, limit)
        if m is None:
            return None
        chunk = _joined(b"[", buf, pos, m.start() + 1, b"]")
        evs = heads.decode(chunk)
        if evs is not None:
            return m.end() - 1, evs
        search_from = m.end() - 1
    raise Fallback("no event boundary")


def _joined(head, buf, start, end, tail=b""):
    """head + buf[start:end] + tail as one bytes object: the slice is a view, so the bytes are copied once
    (slicing the mmap first copied each chunk twice: 0.30 s against 0.18 s of one process's read of 505 MB)."""
    with memoryview(buf)[start:end] as part:
        return b"".join((head, part, tail))


class _Heads:
    """Decodes chunks of one read: as KnownHeads until a chunk holds a ph or cat outside the known ones, then
    as plain Heads for the rest of the read."""

    def __init__(self):
        self.known = True

    def decode(self, chunk):
        """Heads of a chunk, or None if the chunk is not valid JSON (a wrong cut). Type-damaged events are
        decoded one by one (as the whole-buffer path does) and dropped."""
        if self.known:
            try:
                return KNOWN_HEADS.decode(chunk)
            except msgspec.ValidationError:
                self.known = False  # an unknown ph or cat, or a damaged event: decoded again below
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                return None
        return _decode(chunk)


def _decode(chunk):
    try:
        return HEADS.decode(chunk)
    except msgspec.ValidationError:
        pass
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    try:
        raws = RAWS.decode(chunk)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    out = _Damaged()
    for r in raws:
        try:  # args stay raw: an event whose args is no object is kept without them (_route), as in a clean chunk
            out.append(ONE_HEAD.decode(r))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            out.append(None)
    return out


class _Damaged(list):
    """Events of a chunk decoded one by one: None marks an event that could not be decoded."""


def _last(buf, pos, obj_form, header, router, heads):
    try:
        if obj_form:
            top = TAIL.decode(_joined(b'{"traceEvents":[', buf, pos, len(buf)))
            events = top.pop("traceEvents")
            for k, v in top.items():
                header[k] = v
            evs = heads.decode(bytes(events))
        else:
            evs = heads.decode(_joined(b"[", buf, pos, len(buf)))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise Fallback("tail") from None
    if evs is None:
        raise Fallback("tail")
    return _route(evs, router)


def _route(evs, router):
    """Route a chunk's events (Heads with raw args), then decode the args of the kept ones in one batch."""
    bad = evs.count(None) if type(evs) is _Damaged else 0  # HEADS.decode never yields None
    if bad:
        evs = [e for e in evs if e is not None]
    router.add(evs)  # drops python stacks, instants, counters without ever decoding their args
    lists = [router.gpu, router.ops, router.launch, router.gpu_ann, router.flows, router.python, router.meta]
    heads = [e for lst in lists for e in lst if type(e) in _HEAD_TYPES and e.args is not None]
    if heads:
        raws = [e.args for e in heads]  # Raw slices: joined without copying each one
        try:
            args = ARGS.decode(b"".join((b"[", b",".join(raws), b"]")))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # an event whose args is not an object
            args = []
            for r in raws:
                try:
                    args.append(ONE_ARGS.decode(r))
                except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                    args.append(_BAD)
        for e, a in zip(heads, args):
            e.args = a
        nbad = sum(a is _BAD for a in args)
        if nbad:  # keep the event (a kernel must still become a row), without its unusable args
            router.bad_args += nbad
            for e in heads:
                if e.args is _BAD:
                    e.args = None
    router.flush()
    return bad


def _decode_header(raw_header):
    header = {}
    for k, raw in raw_header.items():
        try:
            header[k] = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass
    return header

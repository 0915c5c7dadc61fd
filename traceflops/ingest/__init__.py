"""ingest: trace bytes → typed event tables (`Trace`). Knows the Kineto format and nothing else."""
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pandas as pd

from ..errors import TraceError
from ..memory import release_heap
from .forks import processes
from .meta import TraceMeta
from .schema import EVENT_LIST, ONE_EVENT
from .source import DEFAULT_MAX_BYTES, read_bytes, split_top
from .stream import Fallback, read_stream
from .tables import Router

CHUNK = 20000


@dataclass
class Trace:
    path: str
    name: str
    gpu: pd.DataFrame  # GPU activities: kernels, memcpys, memsets
    ops: pd.DataFrame  # CPU ops and user annotations
    launches: pd.DataFrame  # runtime/driver calls
    gpu_annotations: pd.DataFrame
    flows: pd.DataFrame
    python: pd.DataFrame  # nn.Module / nn.Optimizer python_function spans
    meta: TraceMeta  # top-level metadata, typed: devices by id, distributed info, time base, flags
    processes: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    skipped_categories: dict = field(default_factory=dict)


def trace_name(path):
    name = Path(path).name
    for suffix in (".gz", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or "trace"


def read_trace(path, *, max_bytes=DEFAULT_MAX_BYTES, keep_python=False, progress=None, workers=None):
    """Read a Kineto/Chrome trace (.json or .json.gz, object or bare-array form) into typed tables.

    `workers`: processes decoding a large file (default: forks.processes(); 1 reads in this process).
    The tables are the same whatever the count."""
    path = str(path)
    warnings = []
    router = Router(keep_python=keep_python)
    try:
        header, bad = _streamed(path, max_bytes, router, warnings, progress, workers)
    except (Fallback, UnicodeDecodeError, RecursionError):
        router = Router(keep_python=keep_python)
        header, bad = _whole(path, max_bytes, router, warnings, progress)
    if bad:
        warnings.append(f"{path}: skipped {bad} event(s) whose fields have impossible types")
    if router.bad_args:
        warnings.append(f"{path}: {router.bad_args} event(s) have unusable args (not an object); kept without them")
    t = router.tables()
    release_heap()
    return Trace(
        path=path, name=trace_name(path),
        gpu=t["gpu"], ops=t["ops"], launches=t["launch"], gpu_annotations=t["gpu_ann"], flows=t["flows"],
        python=t["python"], meta=TraceMeta.from_header(header), processes=t["processes"],
        warnings=warnings, skipped_categories=router.counts,
    )


def _streamed(path, max_bytes, router, warnings, progress, workers):
    """Fast, bounded-memory path (stream.py); raises Fallback for anything it cannot read cleanly."""
    import os
    from .source import GZIP_MAGIC
    try:
        with open(path, "rb") as f:
            gz = f.read(2) == GZIP_MAGIC
            size = os.fstat(f.fileno()).st_size
    except OSError:
        raise Fallback("open") from None  # source.py words the error
    if gz:
        w = []
        data = read_bytes(path, max_bytes, w)
        if w:  # truncated or corrupt gzip: the salvage path decides what to keep
            raise Fallback("gzip")
    else:
        if size > max_bytes:
            raise Fallback("size")  # source.py raises the size error
        data = None
    if workers is None:
        workers = processes()
    return read_stream(path, data, router, progress, workers)


def _whole(path, max_bytes, router, warnings, progress):
    data = read_bytes(path, max_bytes, warnings)
    header, events = split_top(data, path, warnings)
    bad = 0
    total = len(events)
    for start in range(0, total, CHUNK):
        chunk = events[start:start + CHUNK]
        try:
            decoded = EVENT_LIST.decode(b"[" + b",".join(chunk) + b"]")
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            decoded, nbad = _one_by_one(chunk)
            bad += nbad
        router.add(decoded)
        router.flush()
        if progress is not None:
            progress(min(start + CHUNK, total), total)
    return header, bad


def _one_by_one(chunk):
    out, bad = [], 0
    for raw in chunk:
        try:
            out.append(ONE_EVENT.decode(raw))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            ev = _without_args(raw)
            if ev is None:
                bad += 1
            else:
                out.append(ev)
    return out, bad


def _without_args(raw):
    """An event whose args are unusable (a list, a string) is kept without them: it still becomes a row."""
    try:
        d = msgspec.json.decode(raw)
        if not isinstance(d, dict) or "args" not in d:
            return None
        d["args"] = None
        return ONE_EVENT.decode(msgspec.json.encode(d))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, TypeError):
        return None


__all__ = ["Trace", "TraceMeta", "read_trace", "trace_name", "TraceError", "DEFAULT_MAX_BYTES"]

"""Decode one large trace on several cores: forked workers each read a byte range of the events.

The file is split at `}` `,` `{` matches near equal byte offsets. A worker routes and columnizes its range
with its own Router and sends the column pieces back through a pipe; the parent reads the first range,
then absorbs the workers' pieces in file order, so the tables are the same as a one-process read. A
split is trusted only once the range before it has decoded up to it (stream.py's cut rule); a worker that
dies is replaced by reading its range in the parent.

fork (not spawn) is what makes this pay: a worker starts in microseconds with the modules imported and
the file mapped. Only Linux is used (fork with Arrow or pandas loaded is not safe on macOS).
"""
import os
import pickle
import signal
import sys

MIN_BYTES = 64 << 20  # below this a worker's start and the pickling cost more than they save
MAX_WORKERS = 4
FIRST_SHARE = 0.46  # the parent also unpickles and merges the workers' pieces: give it a little less
ENV = "TRACEFLOPS_INGEST_WORKERS"


def auto_workers(size):
    """Processes for an input of `size` bytes: 1 unless it is large and spare cores exist.

    TRACEFLOPS_INGEST_WORKERS overrides (1 turns parallel decoding off)."""
    env = os.environ.get(ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    if size < MIN_BYTES or not sys.platform.startswith("linux"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def split_points(buf, pos, workers, cut_re):
    """Regex matches where ranges 2..workers begin (each range starts at match.end() - 1)."""
    size = len(buf) - pos
    if workers < 2 or size < MIN_BYTES:
        return []
    first = FIRST_SHARE if workers == 2 else 1 / workers
    rest = (1 - first) / (workers - 1)
    out, at = [], pos
    for i in range(workers - 1):
        target = max(at, pos + int(size * (first + i * rest)))
        m = cut_re.search(buf, target)
        if m is None:
            break
        out.append(m)
        at = m.end()
    return out


class Child:
    def __init__(self, pid, fd):
        self.pid, self.fd, self.done = pid, fd, False


def fork(fn, *args):
    """Run fn(*args) in a forked process; its picklable result comes back through `join`."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        code = 1
        try:
            os.close(r)
            result = fn(*args)
            with open(w, "wb") as f:
                pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.close(w)
    return Child(pid, r)


def join(child):
    """The worker's result, or None if it died without sending one."""
    try:
        with open(child.fd, "rb") as f:
            result = pickle.load(f)
    except Exception:
        result = None
    _, status = os.waitpid(child.pid, 0)
    child.done = True
    return result if status == 0 else None


def reap(children):
    """Stop and collect workers not joined (the parent gave up early)."""
    for c in children:
        if c.done:
            continue
        try:
            os.kill(c.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.close(c.fd)
        except OSError:
            pass
        try:
            os.waitpid(c.pid, 0)
        except OSError:
            pass
        c.done = True

"""Forked workers: decoding byte ranges of one large trace in parallel (ingest/stream.py).

fork (not spawn) is what makes this pay: a worker starts in milliseconds with the modules imported and
the file mapped. It forks early, while the process is small: pages shared with a large parent are copied
as soon as either side writes to them (refcounts, heap reuse). Only Linux forks (fork with Arrow or
pandas loaded is not safe on macOS); TRACEFLOPS_PROCESSES=1 keeps everything in one process.

A worker's result comes back pickled through a private os.pipe(): written by our own process from
values it computed, never read from a file or from trace bytes.
"""
import os
import pickle
import signal
import sys

MAX_WORKERS = 4
ENV = "TRACEFLOPS_PROCESSES"


def processes():
    """How many processes a run may use: TRACEFLOPS_PROCESSES, else the cores this process may run on
    (at most MAX_WORKERS); 1 where fork is not used."""
    env = os.environ.get(ENV)
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    if not sys.platform.startswith("linux"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class Child:
    def __init__(self, pid, fd):
        self.pid, self.fd, self.done = pid, fd, False


def fork(fn, *args):
    """Run fn(*args) in a forked process; its picklable result comes back through `join`."""
    r, w = os.pipe()
    _widen(w)
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


PIPE_BYTES = 1 << 20


def _widen(fd):
    """A 1 MB pipe instead of 64 KB: a worker's tens of MB of tables then cross in ~16x fewer wake-ups of
    writer and reader (Linux's default limit for an unprivileged process is 1 MB)."""
    try:
        import fcntl  # Linux only, as fork is used only there
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # a lower /proc/sys/fs/pipe-max-size: the default size works, a little slower


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

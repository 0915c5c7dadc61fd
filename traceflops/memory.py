"""Process memory helpers shared by the stages: the cyclic GC paused, freed heap handed back."""
import contextlib
import gc


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: the pipeline allocates millions of short-lived objects and builds
    no reference cycles worth collecting, and the collector's passes over them cost 0.7 s (6%) of a 505 MB
    run (docs/performance.md). Reference counting still frees everything; the previous state is restored."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def release_heap():
    """Hand freed heap back to the OS (glibc keeps it otherwise), lowering the peak RSS of what follows."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass

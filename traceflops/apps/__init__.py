"""apps: tools built on the Python API — annotate (numbers into the trace), the profiler hook, rank folders."""

"""Graph replay: give kernels replayed by a CUDA/HIP graph the op, shapes and costs of the kernel they replay.

capture.py reads what a capture trace recorded into a reference table; align.py matches a replay's kernel
sequence with a reference window; replay.py copies the matched costs onto the replayed kernels.
"""
from .capture import capture_reference_rows, captured_launches, capture_windows, empty_reference
from .replay import attribute_graphs, finish_graphs, graph_kernels

__all__ = ["attribute_graphs", "finish_graphs", "graph_kernels", "captured_launches", "capture_reference_rows",
           "capture_windows", "empty_reference"]

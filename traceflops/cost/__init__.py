"""cost: op costs onto kernels, and how each kernel's cost is known.

attribute.py puts each op's FLOPs and bytes on its kernels (one level of the op tree, recompute apart);
launch_shapes.py costs named kernels from operands recorded next to their launch; graphs/ gives replayed
graph kernels the costs of the kernels they replay; collectives.py reads collective kernels' own args;
compiled.py (+ output_code.py, compiled_files.py, compiled_replay.py) costs torch.compile code from its
Inductor output code (docs/compiled.md).
"""
from .attribute import attribute, mark_recompute, one_level
from .collectives import collective_bytes
from .launch_shapes import cost_from_launch_shapes

__all__ = ["attribute", "mark_recompute", "one_level", "collective_bytes", "cost_from_launch_shapes"]

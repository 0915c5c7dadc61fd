"""metrics: aggregates of the costed kernel table — MFU/HFU, the step-time breakdown, phases, the summary."""
from .breakdown import breakdown
from .mfu import mfu_summary
from .phases import kernel_phases
from .summary import build_summary

__all__ = ["breakdown", "mfu_summary", "kernel_phases", "build_summary"]

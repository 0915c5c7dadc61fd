"""DeviceSpec: one device's datasheet peaks, bandwidth, cache and identification (a row of data/devices.csv)."""
from __future__ import annotations

from dataclasses import dataclass, field

PEAK_KEYS = ("fp64", "fp64_tc", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4")
DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4")
ACHIEVABLE_KEYS = PEAK_KEYS + ("tbps",)


@dataclass(frozen=True)
class DeviceSpec:
    key: str
    name: str
    vendor: str
    arch: str | None
    sms: int | None
    memory_gb: float | None
    peak_tflops: dict[str, float] = field(hash=False)
    peak_tbps: float | None
    l2_mb: float | None  # last-level cache: L2 (NVIDIA, CDNA2) or Infinity Cache/MALL (CDNA3/4)
    source: str
    max_achievable: dict[str, float] = field(default_factory=dict, hash=False)
    # additions beyond the agreed interface (all defaulted):
    compute_capability: str | None = None  # "9.0"; for AMD the HIP major.minor ("9.4" = gfx942)
    aliases: tuple[str, ...] = ()          # exact device-name strings reported by drivers
    match_warning: str | None = None       # caveat emitted whenever a trace is matched to this row
    host_gbps: float | None = None         # host link, GB/s per direction (PCIe gen x16, NVLink-C2C): the roof of HtoD/DtoH copies
    host_link: str | None = None           # what that link is

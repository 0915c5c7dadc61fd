"""roofline: the device catalog (data/devices.csv, one sourced row per device), the matcher from a trace's
deviceProperties to it, and each kernel's ceilings."""
from .catalog import Devices, DeviceSpec, catalog_table, find_device, load_catalog, match_device, peak_for, resolve_devices
from .ceilings import compute_dtype, roofline

__all__ = ["Devices", "DeviceSpec", "catalog_table", "find_device", "load_catalog", "match_device", "peak_for",
           "resolve_devices", "compute_dtype", "roofline"]

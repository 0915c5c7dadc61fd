"""The trace's top-level metadata, typed once: devices by id, distributed info, the time base, profiler flags.

Kineto writes these keys around `traceEvents` in any order and with loose types (kineto-format.md §1);
every later stage reads this object, never the raw header.
"""
from dataclasses import dataclass, field

@dataclass(frozen=True)
class TraceMeta:
    raw: dict = field(default_factory=dict)  # every top-level key but traceEvents, as decoded (allow-list before showing)
    device_properties: tuple = ()  # the deviceProperties entries that are objects, in file order
    distributed: dict = field(default_factory=dict)  # distributedInfo ({} when absent)
    base_time_ns: int | None = None  # baseTimeNanoseconds: ts are relative to it (Kineto >= 2024-04)

    @classmethod
    def from_header(cls, header):
        header = header if isinstance(header, dict) else {}
        props = header.get("deviceProperties")
        dist = header.get("distributedInfo")
        base = header.get("baseTimeNanoseconds")
        return cls(raw=header, device_properties=tuple(p for p in props if isinstance(p, dict)) if isinstance(props, list) else (),
                   distributed=dist if isinstance(dist, dict) else {},
                   base_time_ns=base if isinstance(base, int) and not isinstance(base, bool) else None)

    @property
    def relative_time(self):
        """True for traces whose ts are relative to baseTimeNanoseconds (and whose GPU events carry the linked
        op's External id rather than the correlation id)."""
        return "baseTimeNanoseconds" in self.raw

    @property
    def time_format(self):
        return "relative-ns" if self.relative_time else "absolute-us"

    @property
    def rank(self):
        return self.distributed.get("rank")

    @property
    def world_size(self):
        return self.distributed.get("world_size")

    @property
    def device_properties_by_id(self):
        """deviceProperties entries keyed by their device id (the list position when an entry has none). The first
        entry of an id wins, as in roofline.catalog.resolve_devices: the launch-shape limits and the device's peaks
        then come from the same entry."""
        props = {}
        for i, p in enumerate(self.device_properties):
            try:
                props.setdefault(int(p.get("id", i)), p)
            except (TypeError, ValueError):
                pass
        return props

    def flag(self, name):
        return self.raw.get(name)

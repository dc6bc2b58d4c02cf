"""Machine description of an emulated DAE device and its named presets.

A device is ``cores`` DAE cores, each an access unit (traversal units, memory streams, queues) paired with
an execute unit (a vector core), sharing a last-level cache and DRAM.
"""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class DeviceConfig:
    """One DAE device. Energies are per event, in picojoules."""

    name: str
    clock_ghz: float
    cores: int
    queue_capacity: int
    max_outstanding: int
    vector_bytes: int
    cache_bytes: int
    cache_ways: int
    line_bytes: int
    dram_bandwidth_gbs: float
    dram_latency_ns: float
    cache_latency_cycles: int
    traversal_units: int
    queues: int
    scratchpad_bytes: int
    energy_dram_pj_per_byte: float
    energy_cache_pj_per_access: float
    energy_queue_pj_per_entry: float
    energy_vector_op_pj: float
    energy_static_w: float

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "name" and not value > 0:
                raise ValueError(f"DeviceConfig.{f.name} must be positive, got {value!r}")
        if self.cache_bytes % (self.line_bytes * self.cache_ways):
            raise ValueError("cache_bytes must be a multiple of line_bytes * cache_ways")

    @property
    def vector_lanes_fp32(self) -> int:
        return self.vector_bytes // 4


PRESETS: dict[str, DeviceConfig] = {
    "server": DeviceConfig(
        name="server", clock_ghz=2.0, cores=32, queue_capacity=64, max_outstanding=64, vector_bytes=64,
        cache_bytes=32 * 2**20, cache_ways=16, line_bytes=64, dram_bandwidth_gbs=200.0, dram_latency_ns=90.0,
        cache_latency_cycles=40, traversal_units=8, queues=16, scratchpad_bytes=64 * 2**10,
        energy_dram_pj_per_byte=20.0, energy_cache_pj_per_access=50.0, energy_queue_pj_per_entry=2.0,
        energy_vector_op_pj=10.0, energy_static_w=30.0,
    ),
    "edge": DeviceConfig(
        name="edge", clock_ghz=1.0, cores=1, queue_capacity=16, max_outstanding=16, vector_bytes=16,
        cache_bytes=2**20, cache_ways=8, line_bytes=64, dram_bandwidth_gbs=12.8, dram_latency_ns=120.0,
        cache_latency_cycles=20, traversal_units=4, queues=8, scratchpad_bytes=16 * 2**10,
        energy_dram_pj_per_byte=25.0, energy_cache_pj_per_access=20.0, energy_queue_pj_per_entry=1.0,
        energy_vector_op_pj=3.0, energy_static_w=0.5,
    ),
}


def preset(name: str) -> DeviceConfig:
    """The preset called ``name``; a ``ValueError`` lists the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown DAE device preset {name!r}; known presets: {', '.join(PRESETS)}") from None

"""DRAM as the fast model sees it: a fixed latency and one shared data bus with a bandwidth.

A missing line reaches DRAM after the cache's tag check, waits for the bus, takes
``line_bytes / bytes_per_cycle`` cycles on it, and returns ``dram_latency_ns`` later. Each core sees the
unloaded miss latency; contention for the bus enters the model as the device-wide bandwidth bound.
"""
from __future__ import annotations

from dataclasses import dataclass

from dae_emulator.config import DeviceConfig


@dataclass(frozen=True)
class Dram:
    latency_cycles: float
    transfer_cycles: float      # bus cycles one line occupies
    cache_latency_cycles: float

    @classmethod
    def from_config(cls, config: DeviceConfig) -> Dram:
        bytes_per_cycle = config.dram_bandwidth_gbs / config.clock_ghz
        return cls(
            latency_cycles=config.dram_latency_ns * config.clock_ghz,
            transfer_cycles=config.line_bytes / bytes_per_cycle,
            cache_latency_cycles=float(config.cache_latency_cycles),
        )

    @property
    def miss_latency(self) -> float:
        """Cycles from issue to data for a line that misses the cache, on an idle bus."""
        return self.cache_latency_cycles + self.transfer_cycles + self.latency_cycles

    def bandwidth_cycles(self, lines: int) -> float:
        """Cycles the bus needs to move ``lines`` lines back to back."""
        return lines * self.transfer_cycles

"""What one launch costs on the modeled device: time, traffic per level, stalls, what bounds it, energy.

Both the fast timing model and the cycle-level reference return a ``CostRecord``, so they can be compared
field by field; records of several launches add up to a total with ``+`` (or ``sum``).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, fields

from dae_emulator.energy import EnergyBreakdown


class Bound(enum.Enum):
    """The resource that sets the launch's time: the one kept busy, or latency when none is."""

    MEMORY_BANDWIDTH = "memory bandwidth"    # DRAM transfers of all cores back to back
    MEMORY_LATENCY = "memory latency"        # too few requests in flight to cover the DRAM latency
    ACCESS_ISSUE = "access issue"            # the access unit issuing one line request per cycle
    COMPUTE = "compute"                      # the execute unit running callbacks


# A unit busier than this fraction of the run bounds it; when none is, all of them wait on latency.
BUSY_FRACTION = 0.8


def bound_from_utilization(bus: float, compute: float, issue: float) -> Bound:
    """What bounds a run whose DRAM bus, critical execute unit and access unit were busy these fractions."""
    busy = {Bound.MEMORY_BANDWIDTH: bus, Bound.COMPUTE: compute, Bound.ACCESS_ISSUE: issue}
    busiest = max(busy, key=busy.__getitem__)
    return busiest if busy[busiest] >= BUSY_FRACTION else Bound.MEMORY_LATENCY


@dataclass(frozen=True)
class Stalls:
    """Stall cycles summed over cores.

    ``access_queue_full``: the access unit had work but no free queue entry (execute is behind).
    ``execute_queue_empty``: the execute unit had no ready token (access is behind).
    ``memory_latency``: the access unit had every request slot in flight, or the execute unit waited for
    its own loads (read-modify-write).
    """

    access_queue_full: float = 0.0
    execute_queue_empty: float = 0.0
    memory_latency: float = 0.0

    def __add__(self, other: Stalls) -> Stalls:
        return Stalls(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class CostRecord:
    """Modeled cost of one launch, or the total of several (then ``bound`` is that of the longest)."""

    cycles: float
    seconds: float
    dram_bytes_read: int
    dram_bytes_written: int
    cache_bytes: int                 # bytes of every line the cache served or forwarded (reads and writes)
    cache_hits: int                  # read lookups that hit
    cache_misses: int                # read lookups that went to DRAM
    stalls: Stalls
    bound: Bound
    energy: EnergyBreakdown
    core_cycles: tuple[float, ...]   # busy span of each core

    @property
    def hit_rate(self) -> float:
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else 0.0

    @property
    def energy_joules(self) -> float:
        return self.energy.total

    @property
    def bytes_per_level(self) -> dict[str, int]:
        return {"cache": self.cache_bytes, "dram": self.dram_bytes_read + self.dram_bytes_written}

    def __add__(self, other: CostRecord) -> CostRecord:
        if not isinstance(other, CostRecord):
            return NotImplemented
        width = max(len(self.core_cycles), len(other.core_cycles))   # launches may use different core counts
        mine, theirs = (c + (0.0,) * (width - len(c)) for c in (self.core_cycles, other.core_cycles))
        return CostRecord(
            cycles=self.cycles + other.cycles,
            seconds=self.seconds + other.seconds,
            dram_bytes_read=self.dram_bytes_read + other.dram_bytes_read,
            dram_bytes_written=self.dram_bytes_written + other.dram_bytes_written,
            cache_bytes=self.cache_bytes + other.cache_bytes,
            cache_hits=self.cache_hits + other.cache_hits,
            cache_misses=self.cache_misses + other.cache_misses,
            stalls=self.stalls + other.stalls,
            bound=self.bound if self.cycles >= other.cycles else other.bound,
            energy=self.energy + other.energy,
            core_cycles=tuple(a + b for a, b in zip(mine, theirs)),
        )

    def __radd__(self, other: int) -> CostRecord:
        """Lets ``sum(records)`` start from 0."""
        if other == 0:
            return self
        return NotImplemented

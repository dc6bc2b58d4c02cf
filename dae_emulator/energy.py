"""Energy of a launch from its event counts: dynamic energy per event plus static power over the run time.

Counting events, not modeling circuits, is the level of detail the timing model supports: every count
here is one the timing models already produce, and the per-event energies live in ``DeviceConfig``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from dae_emulator.config import DeviceConfig

_PJ = 1e-12


@dataclass(frozen=True)
class EventCounts:
    """Events of one launch that cost dynamic energy."""

    dram_bytes: int          # read and written
    cache_accesses: int      # line lookups, reads and writes
    queue_entries: int       # tokens plus the vector-sized pieces of their operands, each written and read once
    vector_ops: int
    scalar_ops: int


@dataclass(frozen=True)
class EnergyBreakdown:
    """Joules per source."""

    dram: float = 0.0
    cache: float = 0.0
    queue: float = 0.0
    compute: float = 0.0
    static: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        return EnergyBreakdown(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def energy_of(counts: EventCounts, config: DeviceConfig, seconds: float) -> EnergyBreakdown:
    """Joules spent by ``counts`` events on ``config`` over a run of ``seconds``."""
    return EnergyBreakdown(
        dram=counts.dram_bytes * config.energy_dram_pj_per_byte * _PJ,
        cache=counts.cache_accesses * config.energy_cache_pj_per_access * _PJ,
        queue=counts.queue_entries * config.energy_queue_pj_per_entry * _PJ,
        compute=(counts.vector_ops * config.energy_vector_op_pj + counts.scalar_ops * config.energy_scalar_op_pj)
        * _PJ,
        static=config.energy_static_w * seconds,
    )

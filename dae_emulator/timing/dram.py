"""DRAM in the fast model: a fixed latency behind one data bus shared by all cores.

A missing line reaches DRAM after the cache's tag check, takes ``line_bytes / bytes_per_cycle`` cycles of
bus time, and its data returns ``dram_latency_ns`` after its transfer. The bus is a calendar of fixed-width
time buckets, each holding as many transfers as fit in it: a request takes the first bucket at or after its
arrival with room left. That is a FIFO bus that does not need requests in time order, which the fast model
cannot give (it walks the cores side by side, not cycle by cycle).
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numba
import numpy as np

from dae_emulator.config import DeviceConfig

_MAX_BUCKETS = 1 << 20


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
        """Cycles from issue to data of a line that misses the cache, on an idle bus."""
        return self.cache_latency_cycles + self.transfer_cycles + self.latency_cycles

    def calendar(self, horizon: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Empty bus calendar covering ``horizon`` cycles: (lines per bucket, skip links, width).

        A bucket holds a whole number of transfers: one (exact slots) unless the horizon needs coarser ones.
        A full bucket's skip link is a later bucket to look at, stored plus one: 0 means the bucket itself,
        so a new calendar is all zeros and costs nothing until the bus reaches a bucket (the horizon is a
        loose bound, and most buckets are never touched).
        """
        width = self.transfer_cycles * math.ceil(max(1.0, horizon / _MAX_BUCKETS / self.transfer_cycles))
        buckets = int(horizon / width) + 2
        return np.zeros(buckets, dtype=np.int32), np.zeros(buckets, dtype=np.int64), width


@numba.njit(cache=True, nogil=True, _nrt=False)
def _room_from(skip: np.ndarray, bucket: int) -> int:
    """First bucket at or after ``bucket`` with room (skip links, compressed on the way)."""
    root = bucket
    while skip[root]:
        root = skip[root] - 1
    while skip[bucket] and skip[bucket] - 1 != root:
        skip[bucket], bucket = root + 1, skip[bucket] - 1
    return root


def bucket_capacity(width: float, transfer: float) -> int:
    """Transfers one calendar bucket holds."""
    return round(width / transfer)


@numba.njit(cache=True, nogil=True, _nrt=False)
def bus_transfer(
    fill: np.ndarray, skip: np.ndarray, width: float, transfer: float, capacity: int, arrival: float,
) -> float:
    """Book one line's transfer for a request arriving at ``arrival``; returns when its transfer ends.
    ``capacity``: ``bucket_capacity(width, transfer)``."""
    bucket = _room_from(skip, min(int(arrival / width), fill.size - 1))
    start = max(arrival, bucket * width + fill[bucket] * transfer)
    fill[bucket] += 1
    if fill[bucket] >= capacity and bucket + 1 < fill.size:
        skip[bucket] = bucket + 2     # the next bucket, plus one
    return start + transfer

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
from dae_emulator.timing.arena import zeroed

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

    def bucket_width(self, horizon: float, max_buckets: int = _MAX_BUCKETS) -> float:
        """Cycles of one calendar bucket for a launch of ``horizon`` cycles: a whole number of transfers, one
        (exact slots) unless the horizon needs coarser ones."""
        return self.transfer_cycles * math.ceil(max(1.0, horizon / max_buckets / self.transfer_cycles))

    def calendar(self, horizon: float, width: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """Empty bus calendar covering ``horizon`` cycles: (lines per bucket, full buckets, width), with
        buckets of ``width`` cycles (by default ``bucket_width(horizon)``).

        Full buckets are bits of a bitmap (bit ``b % 64`` of word ``b // 64``), so finding room scans a few
        words of a small array. The last bucket never fills. Both arrays are the thread's scratch (``arena``),
        valid until its next calendar.
        """
        width = width or self.bucket_width(horizon)
        buckets = int(horizon / width) + 2
        return zeroed("bus fill", buckets, np.int32), zeroed("bus full", -(-buckets // 64), np.uint64), width


def _lowest_bit_table() -> np.ndarray:
    """Index of a 64-bit word's lowest set bit from its de Bruijn product (``_lowest_set_bit``)."""
    table = np.zeros(64, dtype=np.int64)
    for i in range(64):
        table[((1 << i) * int(_DE_BRUIJN) % (1 << 64)) >> 58] = i
    return table


_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_LOWEST_BIT = _lowest_bit_table()
_ONE, _ALL = np.uint64(1), np.uint64(0xFFFFFFFFFFFFFFFF)


@numba.njit(cache=True, nogil=True, _nrt=False)
def _lowest_set_bit(bits: np.uint64) -> int:
    return _LOWEST_BIT[((bits & (~bits + _ONE)) * _DE_BRUIJN) >> np.uint64(58)]


@numba.njit(cache=True, nogil=True, _nrt=False)
def _room_from(full: np.ndarray, bucket: int) -> int:
    """First bucket at or after ``bucket`` with room: the first clear bit of ``full`` from there on."""
    word = bucket >> 6
    free = ~full[word] & (_ALL << np.uint64(bucket & 63))
    while free == 0:
        word += 1
        free = ~full[word]
    return (word << 6) + _lowest_set_bit(free)


def bucket_capacity(width: float, transfer: float) -> int:
    """Transfers one calendar bucket holds."""
    return round(width / transfer)


@numba.njit(cache=True, nogil=True, _nrt=False)
def bus_transfer(
    fill: np.ndarray, full: np.ndarray, width: float, transfer: float, capacity: int, arrival: float,
) -> float:
    """Book one line's transfer for a request arriving at ``arrival``; returns when its transfer ends.
    ``capacity``: ``bucket_capacity(width, transfer)``."""
    bucket = _room_from(full, min(int(arrival / width), fill.size - 1))
    start = max(arrival, bucket * width + fill[bucket] * transfer)
    fill[bucket] += 1
    if fill[bucket] >= capacity and bucket + 1 < fill.size:
        full[bucket >> 6] |= _ONE << np.uint64(bucket & 63)
    return start + transfer

"""The shared last-level cache: set-associative, LRU, over line addresses, run over a whole stream at once.

Reads allocate; writes are write-through without allocation (a write to a resident line refreshes it, a
write to any other line goes straight to DRAM). Lookup kernels write their outputs once, so allocating
them would only evict rows that may be reused, and every written byte reaches DRAM exactly once.
The stream is replayed in a compiled loop (numba): LRU state is inherently sequential, and a replay of
millions of lines must take well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from dae_emulator.config import DeviceConfig


@numba.njit(cache=True, nogil=True)
def _replay(lines: np.ndarray, writes: np.ndarray, num_sets: int, ways: int) -> np.ndarray:
    tags = np.full((num_sets, ways), -1, dtype=np.int64)
    last_use = np.zeros((num_sets, ways), dtype=np.int64)   # 0: never used, so invalid ways go first
    hits = np.zeros(lines.size, dtype=np.bool_)
    for i in range(lines.size):
        line = lines[i]
        s = line % num_sets
        victim = 0
        for w in range(ways):
            if tags[s, w] == line:
                hits[i] = True
                victim = w
                break
            if last_use[s, w] < last_use[s, victim]:
                victim = w
        if hits[i] or not writes[i]:
            tags[s, victim] = line
            last_use[s, victim] = i + 1
    return hits


@dataclass(frozen=True)
class SetAssociativeCache:
    """Geometry of the cache; ``replay`` runs a cold cache over a stream of line addresses."""

    num_sets: int
    ways: int

    @classmethod
    def from_config(cls, config: DeviceConfig) -> SetAssociativeCache:
        return cls(config.cache_bytes // (config.line_bytes * config.cache_ways), config.cache_ways)

    def replay(self, lines: np.ndarray, writes: np.ndarray) -> np.ndarray:
        """Whether each access hit, for ``lines`` (int64 line addresses) accessed in order."""
        if lines.size == 0:
            return np.zeros(0, dtype=bool)
        return _replay(
            np.ascontiguousarray(lines, dtype=np.int64), np.ascontiguousarray(writes, dtype=np.bool_),
            self.num_sets, self.ways,
        )

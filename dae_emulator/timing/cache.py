"""The shared last-level cache: set-associative, LRU, over line addresses, run over a whole stream at once.

Reads allocate; writes are write-through without allocation (a write to a resident line refreshes it, a
write to any other line goes straight to DRAM). Lookup kernels write their outputs once, so allocating
them would only evict rows that may be reused, and every written byte reaches DRAM exactly once.
The stream is replayed in a compiled loop (numba): LRU state is inherently sequential, and a replay of
millions of lines must take well under a second.

Sets are independent, and a set that never has more lines allocated than it has ways never evicts: there
an access hits exactly when its line was read before. So one cheap pass over the stream (a table of lines
read so far) decides every access of such sets, and only the accesses of sets that overflow are replayed
through the LRU state. A cache larger than the working set (the common case) needs the cheap pass only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from dae_emulator.config import DeviceConfig


_MAX_SPAN = 1 << 26      # lines the cheap pass may cover with its table (one byte each)


@numba.njit(cache=True, nogil=True)
def _first_reads(lines: np.ndarray, writes: np.ndarray, num_sets: int, ways: int, low: int, span: int):
    """Hits if no set evicts (an access hits when its line was read before), and the sets that overflow."""
    read = np.zeros(span, dtype=np.bool_)
    allocated = np.zeros(num_sets, dtype=np.int64)
    hits = np.empty(lines.size, dtype=np.bool_)
    overflow = False
    for i in range(lines.size):
        k = lines[i] - low
        hits[i] = read[k]
        if not read[k] and not writes[i]:
            read[k] = True
            s = lines[i] % num_sets
            allocated[s] += 1
            overflow |= allocated[s] > ways
    return hits, allocated > ways, overflow


@numba.njit(cache=True, nogil=True)
def _replay(lines: np.ndarray, writes: np.ndarray, num_sets: int, ways: int, only: np.ndarray,
            hits: np.ndarray) -> None:
    """LRU replay of the accesses to the sets where ``only`` is set (all sets if ``only`` is empty),
    writing their ``hits``."""
    everything = only.size == 0
    slot = np.arange(num_sets) if everything else np.cumsum(only.astype(np.int64)) - 1   # set -> state row
    rows = num_sets if everything else int(np.count_nonzero(only))
    tags = np.full((rows, ways), -1, dtype=np.int64)
    last_use = np.zeros((rows, ways), dtype=np.int64)   # 0: never used, so invalid ways go first
    for i in range(lines.size):
        line = lines[i]
        s = line % num_sets
        if not everything and not only[s]:
            continue
        s = slot[s]
        hits[i] = False
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
        lines = np.ascontiguousarray(lines, dtype=np.int64)
        writes = np.ascontiguousarray(writes, dtype=np.bool_)
        low, high = int(lines.min()), int(lines.max())
        if high - low < _MAX_SPAN:
            hits, overflowing, overflow = _first_reads(lines, writes, self.num_sets, self.ways, low, high - low + 1)
            if overflow:
                _replay(lines, writes, self.num_sets, self.ways, overflowing, hits)
            return hits
        hits = np.zeros(lines.size, dtype=np.bool_)
        _replay(lines, writes, self.num_sets, self.ways, np.zeros(0, dtype=np.bool_), hits)
        return hits

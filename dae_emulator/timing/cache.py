"""The shared last-level cache: set-associative, LRU, write-back without write-allocate, over line
addresses, run over a whole stream at once.

A read miss allocates its line; evicting a dirty line writes it to DRAM. A write to a resident line
updates it there and marks it dirty; a write to any other line goes straight to DRAM, allocating nothing:
a lookup kernel writes its outputs once, and allocating them would only evict rows that may be reused. A
scatter's read-modify-write reads its destination line first, so its repeated updates of a resident row
stay in the cache. A launch starts cold and ends clean: the lines still dirty at its end are written
back then. The stream is replayed in a compiled loop (numba): LRU state is inherently sequential, and a
replay of millions of lines must take well under a second.

Sets are independent, and a set that never has more lines allocated than it has ways never evicts: there
an access hits exactly when its line was read before, and the lines written after being read are dirty
at the end. So one cheap pass over the stream (a table of lines read so far) decides every access of such
sets, and only the accesses of sets that overflow are replayed through the LRU state. A cache larger than
the working set (the common case) needs the cheap pass only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from dae_emulator.config import DeviceConfig


_MAX_SPAN = 1 << 26      # lines the cheap pass may cover with its table (one byte each)


@numba.njit(cache=True, nogil=True)
def _first_reads(lines: np.ndarray, writes: np.ndarray, num_sets: int, ways: int, low: int, span: int):
    """If no set evicts: hits (an access hits when its line was read before), writes that go to DRAM (those
    that miss); and the sets that overflow, whether any does, and per set its lines dirty at the end."""
    state = np.zeros(span, dtype=np.uint8)              # 0: never read, 1: clean, 2: dirty
    allocated = np.zeros(num_sets, dtype=np.int64)
    dirty = np.zeros(num_sets, dtype=np.int64)
    hits = np.empty(lines.size, dtype=np.bool_)
    dram_write = np.zeros(lines.size, dtype=np.bool_)
    overflow = False
    for i in range(lines.size):
        k = lines[i] - low
        s = lines[i] % num_sets
        hits[i] = state[k] != 0
        if writes[i]:
            if state[k] == 1:
                state[k] = 2
                dirty[s] += 1
            dram_write[i] = state[k] == 0
        elif state[k] == 0:
            state[k] = 1
            allocated[s] += 1
            overflow |= allocated[s] > ways
    return hits, dram_write, allocated > ways, overflow, dirty


@numba.njit(cache=True, nogil=True)
def _replay(lines: np.ndarray, writes: np.ndarray, num_sets: int, ways: int, only: np.ndarray,
            hits: np.ndarray, dram_write: np.ndarray) -> int:
    """LRU replay of the accesses to the sets where ``only`` is set (all sets if ``only`` is empty),
    writing their ``hits`` and ``dram_write`` (the access sends a line to DRAM: its own write that missed,
    or the dirty line its read evicted); returns how many of these sets' lines are dirty at the end."""
    everything = only.size == 0
    slot = np.arange(num_sets) if everything else np.cumsum(only.astype(np.int64)) - 1   # set -> state row
    rows = num_sets if everything else int(np.count_nonzero(only))
    tags = np.full((rows, ways), -1, dtype=np.int64)
    last_use = np.zeros((rows, ways), dtype=np.int64)   # 0: never used, so invalid ways go first
    dirty = np.zeros((rows, ways), dtype=np.bool_)
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
        if hits[i]:
            dram_write[i] = False
            dirty[s, victim] |= writes[i]
        elif writes[i]:
            dram_write[i] = True
            continue
        else:
            dram_write[i] = tags[s, victim] != -1 and dirty[s, victim]
            tags[s, victim] = line
            dirty[s, victim] = False
        last_use[s, victim] = i + 1
    return int(np.count_nonzero(dirty))


@dataclass(frozen=True)
class CacheReplay:
    """Per access: whether it hit, and whether it sends a line to DRAM (a write that missed, or a read whose
    allocation evicted a dirty line); and the dirty lines written back when the launch ends."""

    hits: np.ndarray
    dram_write: np.ndarray
    dirty_at_end: int


@dataclass(frozen=True)
class SetAssociativeCache:
    """Geometry of the cache; ``replay`` runs a cold cache over a stream of line addresses."""

    num_sets: int
    ways: int

    @classmethod
    def from_config(cls, config: DeviceConfig) -> SetAssociativeCache:
        return cls(config.cache_bytes // (config.line_bytes * config.cache_ways), config.cache_ways)

    def replay(self, lines: np.ndarray, writes: np.ndarray) -> CacheReplay:
        """A cold cache over ``lines`` (int64 line addresses) accessed in order, ``writes`` marking stores."""
        if lines.size == 0:
            return CacheReplay(np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), 0)
        lines = np.ascontiguousarray(lines, dtype=np.int64)
        writes = np.ascontiguousarray(writes, dtype=np.bool_)
        low, high = int(lines.min()), int(lines.max())
        if high - low < _MAX_SPAN:
            hits, dram_write, overflowing, overflow, dirty = _first_reads(lines, writes, self.num_sets, self.ways,
                                                                         low, high - low + 1)
            dirty_at_end = int(dirty[~overflowing].sum())
            if overflow:
                dirty_at_end += _replay(lines, writes, self.num_sets, self.ways, overflowing, hits, dram_write)
            return CacheReplay(hits, dram_write, dirty_at_end)
        hits, dram_write = np.zeros(lines.size, dtype=np.bool_), np.zeros(lines.size, dtype=np.bool_)
        dirty_at_end = _replay(lines, writes, self.num_sets, self.ways, np.zeros(0, dtype=np.bool_), hits, dram_write)
        return CacheReplay(hits, dram_write, dirty_at_end)

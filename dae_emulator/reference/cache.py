"""Reference last-level cache: one ordered dict per set, a fixed hit latency, misses forwarded to DRAM.

Same policy as the fast model's cache, written independently: LRU, write-back without write-allocate. A
read miss allocates its line, evicting the least recently used (sent to DRAM if dirty); a write to a
resident line marks it dirty, a write to any other line goes to DRAM; ``flush`` sends every line still
dirty when the cores are done. A line is allocated when its miss is looked up, so a second read of it
before the data is back counts as a hit, and gets its data when the fill's data arrives (or its own hit
latency later, whichever is later).
"""
from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass

from dae_emulator.config import DeviceConfig
from dae_emulator.reference.block import Request
from dae_emulator.reference.dram import Dram


@dataclass(frozen=True)
class CacheStats:
    read_hits: int
    read_misses: int
    accesses: int


class Cache:
    def __init__(self, config: DeviceConfig, dram: Dram) -> None:
        self.num_sets = config.cache_bytes // (config.line_bytes * config.cache_ways)
        self.ways = config.cache_ways
        self.latency = config.cache_latency_cycles
        self.dram = dram
        self.reset()

    def reset(self) -> None:
        self.sets: list[OrderedDict[int, bool]] = [OrderedDict() for _ in range(self.num_sets)]   # line -> dirty
        self._hits: list[tuple[int, int, Request]] = []   # heap of (ready cycle, order, request)
        self._filling: dict[int, list[tuple[int, Request]]] = {}   # line in flight -> (earliest, request) waiting
        self._order = 0
        self._read_hits = self._read_misses = self._accesses = 0

    def access(self, request: Request, cycle: int) -> None:
        """Look ``request`` up now; its data (if a read) arrives later through ``request.on_data``."""
        self._accesses += 1
        lines = self.sets[request.line % self.num_sets]
        hit = request.line in lines
        if hit:
            lines.move_to_end(request.line)
        if request.is_write:
            if hit:
                lines[request.line] = True
            else:
                self.dram.enqueue(request, cycle + self.latency)
            return
        if hit:
            self._read_hits += 1
            if request.line in self._filling:
                self._filling[request.line].append((cycle + self.latency, request))
            else:
                self._deliver(request, cycle + self.latency)
            return
        self._read_misses += 1
        if len(lines) == self.ways:
            victim, dirty = lines.popitem(last=False)
            if dirty:
                self.dram.enqueue(Request(victim, True), cycle + self.latency)
        lines[request.line] = False
        self._filling[request.line] = []
        requester = request.on_data
        request.on_data = lambda ready, line=request.line, requester=requester: self._filled(line, ready, requester)
        self.dram.enqueue(request, cycle + self.latency)

    def _deliver(self, request: Request, ready: int) -> None:
        heapq.heappush(self._hits, (ready, self._order, request))
        self._order += 1

    def _filled(self, line: int, ready: int, requester) -> None:
        requester(ready)
        for earliest, request in self._filling.pop(line):
            if earliest <= ready:
                request.on_data(ready)
            else:
                self._deliver(request, earliest)

    def flush(self, cycle: int) -> None:
        """Write every dirty line back (the launch ends clean)."""
        for lines in self.sets:
            for line, dirty in lines.items():
                if dirty:
                    self.dram.enqueue(Request(line, True), cycle + self.latency)
                    lines[line] = False

    def advance(self, cycle: int) -> None:
        while self._hits and self._hits[0][0] <= cycle:
            ready, _, request = heapq.heappop(self._hits)
            request.on_data(ready)

    def next_cycle(self, cycle: int) -> int | None:
        return self._hits[0][0] if self._hits else None

    def done(self) -> bool:
        return not self._hits

    def stats(self) -> CacheStats:
        return CacheStats(self._read_hits, self._read_misses, self._accesses)

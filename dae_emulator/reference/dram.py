"""Reference DRAM: requests queue in arrival order for one data bus that moves a fixed number of bytes per
cycle; a read's data returns a fixed latency after its last byte crossed the bus."""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from dae_emulator.config import DeviceConfig
from dae_emulator.reference.block import Request


@dataclass(frozen=True)
class DramStats:
    bytes_read: int
    bytes_written: int
    busy_cycles: int       # cycles the bus moved data


class Dram:
    def __init__(self, config: DeviceConfig) -> None:
        self.line_bytes = config.line_bytes
        self.bytes_per_cycle = config.dram_bandwidth_gbs / config.clock_ghz
        self.latency = round(config.dram_latency_ns * config.clock_ghz)
        self.reset()

    def reset(self) -> None:
        self._waiting: deque[tuple[int, Request]] = deque()     # (arrival cycle, request), arrival order
        self._head_left = float(self.line_bytes)                  # bytes of the head request still to move
        self._returning: list[tuple[int, int, Request]] = []      # heap of (data cycle, order, request)
        self._order = 0
        self._bytes_read = self._bytes_written = self._busy = 0

    def enqueue(self, request: Request, arrival: int) -> None:
        self._waiting.append((arrival, request))

    def advance(self, cycle: int) -> None:
        while self._returning and self._returning[0][0] <= cycle:
            ready, _, request = heapq.heappop(self._returning)
            request.on_data(ready)
        budget = self.bytes_per_cycle
        if self._waiting and self._waiting[0][0] <= cycle:
            self._busy += 1
        while budget > 0 and self._waiting and self._waiting[0][0] <= cycle:
            moved = min(budget, self._head_left)
            budget -= moved
            self._head_left -= moved
            if self._head_left > 1e-9:
                break
            _, request = self._waiting.popleft()
            self._head_left = float(self.line_bytes)
            if request.is_write:
                self._bytes_written += self.line_bytes
            else:
                self._bytes_read += self.line_bytes
                # bytes moved in a cycle are there at its end: the data returns latency cycles after that
                heapq.heappush(self._returning, (cycle + 1 + self.latency, self._order, request))
                self._order += 1

    def next_cycle(self, cycle: int) -> int | None:
        candidates = [self._returning[0][0]] if self._returning else []
        if self._waiting:
            candidates.append(max(self._waiting[0][0], cycle + 1))
        return min(candidates, default=None)

    def done(self) -> bool:
        return not self._waiting and not self._returning

    def stats(self) -> DramStats:
        return DramStats(self._bytes_read, self._bytes_written, self._busy)

"""Reference execute unit: pops tokens in order and runs their callbacks, one instruction per cycle.

After an event's callbacks it issues the event's own accesses (stores, loads of read-modify-writes) one
line per cycle, then waits for its loads: nothing runs ahead of the execute unit to hide them; unless the
device's execute unit is out of order, which runs on and only finishes once they are back.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from dae_emulator.reference.block import Request, StallClock
from dae_emulator.reference.cache import Cache
from dae_emulator.reference.program import Event
from dae_emulator.reference.queue import TokenQueue


class ExecuteStall(enum.Enum):
    QUEUE_EMPTY = "queue empty"
    OWN_LOADS = "own loads"


@dataclass(frozen=True)
class ExecuteUnitStats:
    busy_cycles: int
    queue_empty: int
    own_loads: int
    vector_ops: int
    scalar_ops: int


class ExecuteUnit:
    def __init__(self, events: list[Event], queue: TokenQueue, cache: Cache, waits_for_own_loads: bool = True) -> None:
        self.jobs = [event for event in events if event.tokens or event.execute_lines]
        self.queue, self.cache, self.waits_for_own_loads = queue, cache, waits_for_own_loads
        self.reset()

    def reset(self) -> None:
        self._job = self._popped = self._line = 0
        self._loads_out = 0
        self._busy_until = self._now = 0
        self._busy = self._vector_ops = self._scalar_ops = 0
        self._stalls = StallClock()
        self._stall: ExecuteStall | None = None

    def _arrived(self, cycle: int) -> None:
        self._loads_out -= 1

    def advance(self, cycle: int) -> None:
        self._now = cycle
        if cycle < self._busy_until:
            return
        self._stall = self._step(cycle)
        self._stalls.tick(cycle, self._stall)

    def _step(self, cycle: int) -> ExecuteStall | None:
        while self._job < len(self.jobs):
            job = self.jobs[self._job]
            if self._popped < len(job.tokens):
                token = self.queue.ready_head(cycle)
                if token is None:
                    return ExecuteStall.QUEUE_EMPTY
                self.queue.pop()
                self._popped += 1
                self._work(cycle, token.spec.cycles)
                self._vector_ops += token.spec.vector_ops
                self._scalar_ops += token.spec.scalar_ops
                return None
            if self._line < len(job.execute_lines):
                line, is_write, _ = job.execute_lines[self._line]
                request = Request(line, is_write)
                if not is_write:
                    self._loads_out += 1
                    request.on_data = self._arrived
                self.cache.access(request, cycle)
                self._line += 1
                self._work(cycle, 1)
                return None
            if self._loads_out and self.waits_for_own_loads:
                return ExecuteStall.OWN_LOADS
            self._job, self._popped, self._line = self._job + 1, 0, 0
        return None

    def _work(self, cycle: int, cycles: int) -> None:
        self._busy_until = cycle + cycles
        self._busy += cycles

    def next_cycle(self, cycle: int) -> int | None:
        if cycle < self._busy_until:
            return self._busy_until
        if self._stall is ExecuteStall.QUEUE_EMPTY:
            head = self.queue.entries[0] if self.queue.entries else None
            return max(head.ready, cycle + 1) if head is not None and head.ready is not None else None
        if self._stall is ExecuteStall.OWN_LOADS or self._job == len(self.jobs):
            return None
        return cycle + 1

    def done(self) -> bool:
        return self._job == len(self.jobs) and self._now >= self._busy_until and not self._loads_out

    def stats(self) -> ExecuteUnitStats:
        return ExecuteUnitStats(
            self._busy, self._stalls.get(ExecuteStall.QUEUE_EMPTY), self._stalls.get(ExecuteStall.OWN_LOADS),
            self._vector_ops, self._scalar_ops,
        )

"""Reference access unit: walks its core's events in order, one line request per cycle.

Starting an event reserves a queue entry for each of its tokens (or stalls: queue full); each read needs a
free request slot, at most ``max_outstanding`` in flight (or stalls: memory); writes are posted. An event
without lines still takes one cycle, and an event takes at least one cycle per queue entry it pushes (the
pushes overlap the line issue). The event's tokens become ready when its last read's data arrives.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from dae_emulator.reference.block import Request, StallClock
from dae_emulator.reference.cache import Cache
from dae_emulator.reference.program import Event
from dae_emulator.reference.queue import Token, TokenQueue


class AccessStall(enum.Enum):
    QUEUE_FULL = "queue full"
    OUTSTANDING_FULL = "outstanding full"


@dataclass(frozen=True)
class AccessUnitStats:
    issue_cycles: int
    queue_full: int
    outstanding_full: int


class _InFlight:
    """The tokens of one started event and how many of its reads are still out."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.reads_out = 0
        self.all_issued = False

    def arrived(self, cycle: int) -> None:
        self.reads_out -= 1
        self.release(cycle)

    def release(self, cycle: int) -> None:
        if self.all_issued and self.reads_out == 0:
            for token in self.tokens:
                token.ready = cycle


class AccessUnit:
    def __init__(self, events: list[Event], queue: TokenQueue, cache: Cache, max_outstanding: int) -> None:
        self.events, self.queue, self.cache = events, queue, cache
        self.max_outstanding = max_outstanding
        self.reset()

    def reset(self) -> None:
        self._next = 0
        self._line = 0
        self._spent = 0          # cycles the current event has taken (lines issued or entries pushed)
        self._current: _InFlight | None = None
        self._outstanding = 0
        self._issue_cycles = 0
        self._stalls = StallClock()
        self._stalled = False

    def _data(self, flight: _InFlight, cycle: int) -> None:
        self._outstanding -= 1
        flight.arrived(cycle)

    def _prefetched(self) -> None:
        self._outstanding -= 1

    def advance(self, cycle: int) -> None:
        stall = self._step(cycle)
        self._stalls.tick(cycle, stall)
        self._stalled = stall is not None

    def _step(self, cycle: int) -> AccessStall | None:
        if self._next == len(self.events):
            return None
        event = self.events[self._next]
        if self._current is None:
            if self.queue.free < len(event.tokens):
                return AccessStall.QUEUE_FULL
            self._current = _InFlight([Token(spec) for spec in event.tokens])
            for token in self._current.tokens:
                self.queue.push(token)
        flight = self._current
        if self._line < len(event.access_lines):      # lines first; remaining cycles push queue entries
            line, is_write, prefetch = event.access_lines[self._line]
            if not is_write and self._outstanding == self.max_outstanding:
                return AccessStall.OUTSTANDING_FULL
            request = Request(line, is_write)
            if prefetch:                    # holds a request slot until its data is back; nothing waits for it
                self._outstanding += 1
                request.on_data = lambda arrival: self._prefetched()
            elif not is_write:
                self._outstanding += 1
                flight.reads_out += 1
                request.on_data = lambda arrival, flight=flight: self._data(flight, arrival)
            self.cache.access(request, cycle)
            self._line += 1
        self._issue_cycles += 1
        self._spent += 1
        pushes = sum(token.queue_entries for token in event.tokens)
        if self._line >= len(event.access_lines) and self._spent >= pushes:
            flight.all_issued = True
            flight.release(cycle)
            self._next, self._line, self._current, self._spent = self._next + 1, 0, None, 0
        return None

    def next_cycle(self, cycle: int) -> int | None:
        return None if self._stalled or self.done() else cycle + 1

    def done(self) -> bool:
        return self._next == len(self.events)

    def stats(self) -> AccessUnitStats:
        return AccessUnitStats(
            self._issue_cycles, self._stalls.get(AccessStall.QUEUE_FULL),
            self._stalls.get(AccessStall.OUTSTANDING_FULL),
        )

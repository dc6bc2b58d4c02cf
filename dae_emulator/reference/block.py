"""The interface every hardware block of the reference simulator implements, and the request they pass.

The clock (``machine.Machine``) calls ``advance(cycle)`` on every block, in a fixed order, at every cycle
where some block has something to do; ``next_cycle`` tells it the next such cycle, so stretches where
everyone waits are skipped without changing what happens. A block that is waiting on another returns
``None`` and is woken when that other block acts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol


class Block(Protocol):
    def reset(self) -> None:
        """Back to the state before cycle 0."""

    def advance(self, cycle: int) -> None:
        """Do this cycle's work; ``cycle`` only grows between calls."""

    def next_cycle(self, cycle: int) -> int | None:
        """The next cycle after ``cycle`` where this block acts by itself, or None if it waits on others."""

    def done(self) -> bool:
        """Whether all its work is finished."""

    def stats(self) -> object:
        """Its counters, a frozen dataclass."""


@dataclass
class Request:
    """One cache-line request in flight (mutable: it lives only while the simulation runs)."""

    line: int
    is_write: bool
    on_data: Callable[[int], None] | None = None   # called with the cycle the data arrives (reads)


class StallClock:
    """Charges the cycles a block spends stalled, including cycles the clock skipped while it waited."""

    def __init__(self) -> None:
        self.cycles: dict[object, int] = {}
        self._reason: object | None = None
        self._since = 0

    def tick(self, cycle: int, reason: object | None) -> None:
        """At ``cycle`` the block is stalled for ``reason`` (None: it is working)."""
        if self._reason is not None:
            self.cycles[self._reason] = self.cycles.get(self._reason, 0) + cycle - self._since
        self._reason, self._since = reason, cycle

    def get(self, reason: object) -> int:
        return self.cycles.get(reason, 0)

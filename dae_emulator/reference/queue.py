"""Reference token queue between a core's access and execute units: FIFO, fixed capacity in tokens.

The access unit reserves an entry per token when it starts the event that pushes it; the token becomes
ready when the event's data has arrived, and its entry is freed when the execute unit pops it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dae_emulator.reference.program import TokenSpec


@dataclass
class Token:
    spec: TokenSpec
    ready: int | None = None     # cycle its operands arrived


@dataclass(frozen=True)
class QueueStats:
    pushes: int
    operand_entries: int
    mean_occupancy: float


class TokenQueue:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.reset()

    def reset(self) -> None:
        self.entries: deque[Token] = deque()
        self._pushes = self._operand_entries = 0
        self._occupancy_cycles = 0
        self._last = 0
        self._held = 0       # occupancy at the end of the last cycle seen, held over skipped cycles

    @property
    def free(self) -> int:
        return self.capacity - len(self.entries)

    def push(self, token: Token) -> None:
        assert self.free > 0, "pushed into a full queue"
        self.entries.append(token)
        self._pushes += 1
        self._operand_entries += token.spec.operand_entries

    def ready_head(self, cycle: int) -> Token | None:
        """The head token if its operands have arrived by ``cycle``."""
        if self.entries and self.entries[0].ready is not None and self.entries[0].ready <= cycle:
            return self.entries[0]
        return None

    def pop(self) -> Token:
        return self.entries.popleft()

    def advance(self, cycle: int) -> None:
        self._occupancy_cycles += self._held * (cycle - self._last)
        self._last, self._held = cycle, len(self.entries)

    def next_cycle(self, cycle: int) -> int | None:
        return None        # it never acts by itself

    def done(self) -> bool:
        return not self.entries

    def stats(self) -> QueueStats:
        return QueueStats(self._pushes, self._operand_entries, self._occupancy_cycles / max(self._last, 1))

"""What ember records while it runs: each region's statistics, its recent launches (for the profiler), and
the exchanges of sharded steps. One ``Session`` holds all of it. The process has one from the start; a
``with Session() as s:`` block makes another the current one for what runs inside it (its lowering, its
launches, its exchanges), so that a benchmark or a test can keep its records apart. The backend, the region
op and the collectives write into the current session, ``torch_ember.report()`` reads it and
``torch_ember.reset()`` clears it, all of it at once."""
from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from .runtime.stats import ExchangeLog, LaunchLog, Stats


@dataclass(frozen=True, eq=False)
class Session:
    stats: Stats = field(default_factory=Stats)
    launches: LaunchLog = field(default_factory=LaunchLog)
    exchanges: ExchangeLog = field(default_factory=ExchangeLog)
    _tokens: list = field(default_factory=list, repr=False)

    def reset(self) -> None:
        self.stats.reset()
        self.launches.clear()
        self.exchanges.reset()

    def __enter__(self) -> "Session":
        self._tokens.append(_current.set(self))
        return self

    def __exit__(self, *exc) -> None:
        _current.reset(self._tokens.pop())


_current: contextvars.ContextVar[Session] = contextvars.ContextVar("ember_session", default=Session())


def current_session() -> Session:
    """The session ember records into here and now: the innermost ``with Session()``, else the process's."""
    return _current.get()

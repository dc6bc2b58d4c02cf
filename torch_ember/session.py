"""What the process records while ember runs: each region's statistics, its recent launches (for the
profiler), and the exchanges of sharded steps. One ``Session`` holds all of it; the backend, the region op
and the distributed collectives write into the one the process uses (``SESSION``), ``torch_ember.report()``
reads it and ``torch_ember.reset()`` clears it, all of it at once."""
from __future__ import annotations

from dataclasses import dataclass, field

from .runtime.stats import ExchangeLog, LaunchLog, Stats


@dataclass(frozen=True)
class Session:
    stats: Stats = field(default_factory=Stats)
    launches: LaunchLog = field(default_factory=LaunchLog)
    exchanges: ExchangeLog = field(default_factory=ExchangeLog)

    def reset(self) -> None:
        self.stats.reset()
        self.launches.clear()
        self.exchanges.reset()


SESSION = Session()

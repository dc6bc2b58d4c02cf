"""Per-region statistics behind ``torch_ember.report()``."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class RegionRecord:
    """What one region did over all its launches."""

    name: str
    kind: str
    launches: int = 0
    lookups: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    emulator_seconds: float = 0.0

    def add_launch(self, *, lookups: int, bytes_read: int, bytes_written: int, emulator_seconds: float) -> "RegionRecord":
        return replace(self, launches=self.launches + 1, lookups=self.lookups + lookups,
                       bytes_read=self.bytes_read + bytes_read, bytes_written=self.bytes_written + bytes_written,
                       emulator_seconds=self.emulator_seconds + emulator_seconds)


@dataclass(frozen=True)
class HostOp:
    """A lookup-like op left on the host, and why."""

    op: str
    reason: str


@dataclass(frozen=True)
class Report:
    regions: tuple[RegionRecord, ...]
    host_ops: tuple[HostOp, ...] = field(default=())

    def __str__(self) -> str:
        head = ("region", "kind", "launches", "lookups", "bytes read", "bytes written", "emulator s")
        rows = [(r.name, r.kind, str(r.launches), str(r.lookups), str(r.bytes_read), str(r.bytes_written),
                 f"{r.emulator_seconds:.4f}") for r in self.regions]
        if self.regions:
            rows.append(("total", "", str(sum(r.launches for r in self.regions)),
                         str(sum(r.lookups for r in self.regions)), str(sum(r.bytes_read for r in self.regions)),
                         str(sum(r.bytes_written for r in self.regions)),
                         f"{sum(r.emulator_seconds for r in self.regions):.4f}"))
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if not self.regions:
            lines.append("(no DAE launches yet)")
        if self.host_ops:
            lines.append("")
            lines.append("left on the host:")
            lines += [f"  {h.op}: {h.reason}" for h in self.host_ops]
        return "\n".join(lines)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._regions: dict[str, RegionRecord] = {}
        self._host: dict[tuple[str, str], HostOp] = {}

    def record_launch(self, name: str, kind: str, **counts) -> None:
        with self._lock:
            record = self._regions.get(name) or RegionRecord(name, kind)
            self._regions[name] = record.add_launch(**counts)

    def record_host_op(self, op: str, reason: str) -> None:
        with self._lock:
            self._host[(op, reason)] = HostOp(op, reason)

    def report(self) -> Report:
        with self._lock:
            return Report(tuple(self._regions.values()), tuple(self._host.values()))

    def reset(self) -> None:
        with self._lock:
            self._regions.clear()
            self._host.clear()


STATS = Stats()

"""Per-region statistics behind ``torch_ember.report()``: what the emulator ran and what the modeled DAE
device would take for it."""
from __future__ import annotations

import collections
import enum
import math
import textwrap
import threading
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Protocol

from dae_emulator.config import DeviceConfig
from dae_emulator.cost import CostRecord
from dae_emulator.trace import LaunchTrace


@dataclass(frozen=True)
class RegionRecord:
    """What one region did over all its launches."""

    name: str
    kind: str
    device: str = ""
    peak_dram_gbs: float = 0.0
    launches: int = 0
    lookups: int = 0
    bytes_read: int = 0              # bytes the program's streams and stores read (before any cache)
    bytes_written: int = 0
    emulator_seconds: float = 0.0    # wall time of the emulator itself on this machine
    modeled_seconds: float = 0.0     # what the DAE device would take
    dram_bytes: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    energy_joules: float = 0.0
    bound: str = ""                  # of the longest launch
    longest_launch_seconds: float = 0.0
    execute_ops: float = 0.0         # execute-unit instructions (vector and scalar): the roofline's work
    detailed_launches: int = 0       # launches timed in detail; the others' figures are estimated from them
    modeled_seconds_margin: float = 0.0   # half-width of modeled_seconds' interval (0: every launch timed)
    interval_launches: int = 0       # launches timed in detail on sampled intervals of their stream

    @property
    def hit_rate(self) -> float:
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else 0.0

    @property
    def estimated(self) -> bool:
        """Whether some launches were not timed in detail (``timing="sampled"``): then the figures that add
        up over launches (lookups, bytes, modeled time, DRAM, hits, energy, ops) are estimates, and the
        modeled time lies in [modeled_seconds_low, modeled_seconds_high] at the options' confidence."""
        return self.detailed_launches < self.launches

    @property
    def interval(self) -> bool:
        """Whether modeled_seconds is given with an interval: some launches were not timed in detail, or
        some were timed on sampled intervals of their stream (launches too big to time in full)."""
        return self.estimated or self.modeled_seconds_margin > 0

    @property
    def modeled_seconds_low(self) -> float:
        return max(self.modeled_seconds - self.modeled_seconds_margin, 0.0)

    @property
    def modeled_seconds_high(self) -> float:
        return self.modeled_seconds + self.modeled_seconds_margin

    @property
    def dram_gbs(self) -> float:
        return self.dram_bytes / self.modeled_seconds / 1e9 if self.modeled_seconds else 0.0

    def add_launch(self, *, lookups: int, bytes_read: int, bytes_written: int, emulator_seconds: float,
                   cost: CostRecord, execute_ops: float, cost_margin: float = 0.0) -> "RegionRecord":
        """``cost_margin``: half-width of ``cost.seconds``' interval where the launch was timed on sampled
        intervals (the launches' errors are independent: their margins add in quadrature)."""
        longest = cost.seconds > self.longest_launch_seconds
        return replace(
            self, launches=self.launches + 1, lookups=self.lookups + lookups,
            bytes_read=self.bytes_read + bytes_read, bytes_written=self.bytes_written + bytes_written,
            emulator_seconds=self.emulator_seconds + emulator_seconds,
            modeled_seconds=self.modeled_seconds + cost.seconds,
            dram_bytes=self.dram_bytes + cost.dram_bytes_read + cost.dram_bytes_written,
            cache_hits=self.cache_hits + cost.cache_hits, cache_misses=self.cache_misses + cost.cache_misses,
            energy_joules=self.energy_joules + cost.energy_joules,
            bound=cost.bound.value if longest else self.bound,
            longest_launch_seconds=max(self.longest_launch_seconds, cost.seconds),
            execute_ops=self.execute_ops + execute_ops, detailed_launches=self.detailed_launches + 1,
            modeled_seconds_margin=math.hypot(self.modeled_seconds_margin, cost_margin),
            interval_launches=self.interval_launches + (cost_margin > 0))


def combined(name: str, kind: str, records: "list[RegionRecord] | tuple[RegionRecord, ...]") -> RegionRecord:
    """The records of several regions (or of one region's launch classes) as one; margins add as independent
    errors do."""
    longest = max(records, key=lambda r: r.longest_launch_seconds, default=None)
    devices = {r.device for r in records}
    return RegionRecord(
        name, kind, devices.pop() if len(devices) == 1 else ", ".join(sorted(devices)),
        max((r.peak_dram_gbs for r in records), default=0.0),
        sum(r.launches for r in records), sum(r.lookups for r in records), sum(r.bytes_read for r in records),
        sum(r.bytes_written for r in records), sum(r.emulator_seconds for r in records),
        sum(r.modeled_seconds for r in records), sum(r.dram_bytes for r in records),
        sum(r.cache_hits for r in records), sum(r.cache_misses for r in records),
        sum(r.energy_joules for r in records), longest.bound if longest else "",
        longest.longest_launch_seconds if longest else 0.0, sum(r.execute_ops for r in records),
        sum(r.detailed_launches for r in records), math.sqrt(sum(r.modeled_seconds_margin ** 2 for r in records)),
        sum(r.interval_launches for r in records))


def count_execute_ops(trace: LaunchTrace) -> float:
    """Execute-unit instructions a launch ran: each token's callback, once per push (fractional where
    unrolling shares one dispatch among several tokens)."""
    return sum(record.event.numel() * (record.vector_ops + record.scalar_ops) for record in trace.tokens)


@dataclass(frozen=True)
class HostOp:
    """A lookup-like op left on the host, and why."""

    op: str
    reason: str


@dataclass(frozen=True)
class KernelRecord:
    """A region run as Triton kernels (``options={"regions": "triton"}``) instead of on the DAE device: what
    it really took on this machine's device, not a model. ``seconds`` is GPU time between CUDA events on a
    GPU, and host wall time where the kernels run elsewhere (the Triton interpreter on a CPU)."""

    name: str
    kind: str
    device: str                      # "cuda:0 (NVIDIA H200)", "cpu (Triton interpreter)", ...
    launches: int = 0
    seconds: float = 0.0


class _PendingKernel:
    """One launch whose CUDA events have not been read yet: reading them before the GPU reaches them would
    wait for it, so a launch is read once its end event has completed, or at ``report()``."""

    def __init__(self, name: str, kind: str, device: str, start, end) -> None:
        self.name, self.kind, self.device, self.start, self.end = name, kind, device, start, end

    def seconds(self) -> float:
        self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3


WIDTH = 120      # the compact report's width

# what each column of the report means (the compact form's columns, then the wide form's extra ones)
GLOSSARY = (
    ("region", "the table (or tensor) the region reads or updates, as the model names it: a module's "
               "parameter by its attribute path (tables.3.weight), a compiled function's argument as "
               "function.argument, other data by the module and graph node that make it; a backward region by "
               "the parameter whose gradient it makes, '(backward)' where its op is a forward op's form"),
    ("op", "what the region computes (embedding_bag_sum, embedding_bag_backward_sum, gather_rows, ...; the "
           "compact form writes embedding_bag as bag, embedding as emb and backward as bwd)"),
    ("device", "the modeled DAE device it ran on (the device option)"),
    ("launches", "times it ran; under timing='sampled', in parentheses: those timed in detail"),
    ("lookups", "index elements resolved: one per table row (or element) the region reads or updates through "
                "an index, for every op (a bag's indices, a backward's scatters, a message-passing edge's source "
                "and destination); offsets are not lookups"),
    ("modeled ms", "what the DAE device would take, all launches together; ±: the half-width of its interval at "
                   "the timing_confidence option, where it is estimated (relative in the compact form)"),
    ("DRAM MB", "bytes the device moved to and from DRAM"),
    ("GB/s", "DRAM MB over modeled time (the device's peak in the wide form)"),
    ("hit", "share of the device's cache reads that hit"),
    ("bound", "what limited the region's longest launch: memory bandwidth, memory latency, access issue or "
              "compute (the compact form drops 'memory')"),
    ("bytes read", "(wide) bytes the program's loads asked for, before any cache"),
    ("energy mJ", "(wide) the device's modeled energy"),
    ("emulator s", "(wide) wall time the emulator itself took on this machine"),
)
_COMPACT = ("region", "op", "device", "launches", "lookups", "modeled ms", "DRAM MB", "GB/s", "hit", "bound")
_WIDE = ("region", "op", "device", "launches", "lookups", "bytes read", "modeled ms", "DRAM MB",
         "DRAM GB/s (peak)", "hit rate", "energy mJ", "bound", "emulator s")


def op_and_region(r: RegionRecord) -> tuple[str, str]:
    """A record's name ``op:table`` as (op, region)."""
    op, _, table = r.name.partition(":")
    return (op, table) if table else ("", op)


def _cells(r: RegionRecord, wide: bool) -> tuple[str, ...]:
    launches, modeled = str(r.launches), f"{r.modeled_seconds * 1e3:.4f}"
    if r.estimated:
        launches += f" ({r.detailed_launches}{' timed' if wide else ''})"
    if r.interval:
        modeled += f" ±{r.modeled_seconds_margin * 1e3:.4f}"
    op, region = op_and_region(r)
    if wide:
        return (region, op, r.device, launches, str(r.lookups), str(r.bytes_read), modeled, f"{r.dram_bytes / 1e6:.3f}",
                f"{r.dram_gbs:.1f} ({r.peak_dram_gbs:g})", f"{r.hit_rate:.2f}", f"{r.energy_joules * 1e3:.4f}",
                r.bound, f"{r.emulator_seconds:.3f}")
    if r.interval:      # relative: an absolute half-width of a small region rounds to nothing
        margin = r.modeled_seconds_margin / r.modeled_seconds if r.modeled_seconds else 0.0
        modeled = f"{r.modeled_seconds * 1e3:.4f} ±{100 * margin:.1f}%"
    return (region, _short(op), r.device, launches, str(r.lookups), modeled, f"{r.dram_bytes / 1e6:.2f}",
            f"{r.dram_gbs:.0f}", f"{r.hit_rate:.2f}", r.bound.replace("memory ", ""))


_SHORT = (("embedding_bag", "bag"), ("embedding", "emb"), ("backward", "bwd"))


def _short(op: str) -> str:
    """An op's name in the compact report: ``embedding_bag_backward_sum`` as ``bag_bwd_sum``."""
    for long, short in _SHORT:
        op = op.replace(long, short)
    return op


def _elided(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by dropping its middle (a name's start and end tell it apart)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "~" + text[len(text) - (width - 1 - head):]


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]], width: int | None) -> list[str]:
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns))]
    if width is not None:       # the region column gives way down to 20 characters, then the op to 12, then
        for i, floor in ((0, 20), (1, 12), (0, 12)):    # the region to 12
            widths[i] = min(widths[i], max(width - (sum(widths) - widths[i]) - 2 * (len(widths) - 1), floor))
        rows = [tuple(_elided(c, widths[i]) if i < 2 else c for i, c in enumerate(row)) for row in rows]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [columns, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


@dataclass(frozen=True)
class Report:
    """What the regions did: ``print(report)`` gives a compact table (``report.wide()`` every column,
    ``report.describe()`` what each column means); ``report.records()`` gives one dict per region, which
    ``pandas.DataFrame`` takes, and ``report.regions`` the ``RegionRecord`` dataclasses."""

    regions: tuple[RegionRecord, ...]
    host_ops: tuple[HostOp, ...] = field(default=())
    kernels: tuple[KernelRecord, ...] = field(default=())

    def total(self) -> RegionRecord:
        return combined("total", "", self.regions)

    def records(self) -> list[dict]:
        """One dict per region: its record's fields, its op and region apart, and the derived figures."""
        out = []
        for r in self.regions:
            op, region = op_and_region(r)
            out.append({"region": region, "op": op, **{f.name: getattr(r, f.name) for f in fields(r)},
                        "hit_rate": r.hit_rate, "dram_gbs": r.dram_gbs, "estimated": r.estimated,
                        "modeled_seconds_low": r.modeled_seconds_low, "modeled_seconds_high": r.modeled_seconds_high})
        return out

    def to_dataframe(self):
        """``records()`` as a pandas DataFrame (pandas is not a dependency of torch_ember: install it)."""
        try:
            import pandas
        except ImportError as error:
            raise ImportError("report().to_dataframe() needs pandas (pip install pandas); report().records() "
                              "gives the same rows as dicts") from error
        return pandas.DataFrame(self.records())

    @staticmethod
    def describe() -> str:
        """What each column of the report means."""
        return "\n".join(f"{name}: {meaning}" for name, meaning in GLOSSARY)

    def __str__(self) -> str:
        return self._text(wide=False)

    def wide(self) -> str:
        """The report with every column, however wide."""
        return self._text(wide=True)

    def _text(self, wide: bool) -> str:
        rows = [_cells(r, wide) for r in self.regions]
        if self.regions:
            total = self.total()
            rows.append(_cells(replace(total, bound=""), wide))
        notes = []
        if not self.regions:
            notes.append("(no DAE launches yet)")
        else:
            notes.append("modeled on the emulated DAE device; report().describe() says what each column means, "
                         "report().wide() shows them all")
        if any(r.estimated for r in self.regions):
            notes.append("timing='sampled': where a region has launches not timed in detail, its figures that add "
                         "up over launches are estimated from those timed, and modeled ms is given with its "
                         "interval at the timing_confidence option (timing='full' times every launch)")
        if any(r.interval_launches for r in self.regions):
            notes.append("timing='sampled': launches too big to time in full had their pipelines timed on sampled "
                         "intervals of their stream (traffic and hits exact, modeled ms with its interval)")
        lines = _table(_WIDE if wide else _COMPACT, rows, None if wide else WIDTH)
        lines += notes if wide else [part for note in notes for part in textwrap.wrap(note, WIDTH)]
        if self.kernels:
            lines += ["", "run as Triton kernels (measured, not modeled):"]
            lines += [f"  {k.name} ({k.kind}) on {k.device}: {k.launches} launch(es), {k.seconds * 1e3:.4f} ms"
                      for k in self.kernels]
        if self.host_ops:
            lines += ["", "left on the host, run by PyTorch as eager runs them (expected where the device has no "
                          "lowering; not an error):"] + [f"  {h.op}: {h.reason}" for h in self.host_ops]
        return "\n".join(lines)


class EstimatedRows(Protocol):
    """Records of launches of which only a sample was timed in detail (``runtime.sampling.SampledRegion``)."""

    def rows(self) -> list[RegionRecord]: ...


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._regions: dict[tuple[str, str], RegionRecord] = {}      # by region and device
        self._estimated: dict[tuple[str, str], EstimatedRows] = {}
        self._host: dict[tuple[str, str], HostOp] = {}
        self._kernels: dict[str, KernelRecord] = {}
        self._pending: collections.deque[_PendingKernel] = collections.deque()

    def record_launch(self, name: str, kind: str, device: str, peak_dram_gbs: float, **counts) -> None:
        """A launch of region ``name`` on ``device``: one row per region and device."""
        with self._lock:
            record = self._regions.get((name, device)) or RegionRecord(name, kind, device, peak_dram_gbs)
            self._regions[(name, device)] = record.add_launch(**counts)

    def estimated_rows(self, key: str, device: str, make: "Callable[[], EstimatedRows]") -> EstimatedRows:
        """The source of estimated rows of region ``key`` on ``device``, made by ``make`` the first time."""
        with self._lock:
            if (key, device) not in self._estimated:
                self._estimated[(key, device)] = make()
            return self._estimated[(key, device)]

    def record_host_op(self, op: str, reason: str) -> None:
        with self._lock:
            self._host[(op, reason)] = HostOp(op, reason)

    def record_kernel(self, name: str, kind: str, device: str, *, seconds: float | None = None,
                      cuda_events: tuple | None = None) -> None:
        """A Triton launch: its host ``seconds``, or a (start, end) pair of CUDA events read at report time."""
        with self._lock:
            self._fold_finished()
            if cuda_events is not None:
                self._pending.append(_PendingKernel(name, kind, device, *cuda_events))
            else:
                self._add_kernel(name, kind, device, seconds)

    def _fold_finished(self) -> None:
        """Add the launches whose end event has completed (a query does not wait), so that a long run that
        never asks for a report keeps only the launches still in flight."""
        while self._pending and self._pending[0].end.query():
            launch = self._pending.popleft()
            self._add_kernel(launch.name, launch.kind, launch.device, launch.seconds())

    def _add_kernel(self, name: str, kind: str, device: str, seconds: float) -> None:
        record = self._kernels.get(name) or KernelRecord(name, kind, device)
        self._kernels[name] = replace(record, launches=record.launches + 1, seconds=record.seconds + seconds)

    def report(self) -> Report:
        with self._lock:
            for launch in self._pending:
                self._add_kernel(launch.name, launch.kind, launch.device, launch.seconds())
            self._pending.clear()
            rows: dict[tuple[str, str], list[RegionRecord]] = {key: [r] for key, r in self._regions.items()}
            for source in self._estimated.values():
                for r in source.rows():
                    rows.setdefault((r.name, r.device), []).append(r)
            regions = tuple(rs[0] if len(rs) == 1 else combined(rs[0].name, rs[0].kind, rs) for rs in rows.values())
            return Report(regions, tuple(self._host.values()), tuple(self._kernels.values()))

    def reset(self) -> None:
        with self._lock:
            self._regions.clear()
            self._estimated.clear()
            self._host.clear()
            self._kernels.clear()
            self._pending.clear()



@dataclass(frozen=True)
class Launch:
    """One launch as ``torch_ember.profiler`` places it on a trace."""

    region: str
    device: str
    start_ns: int                    # time.time_ns() inside the launch's ``ember::`` profiler event: the
                                     # CLOCK_REALTIME clock torch.profiler stamps its events with
    host_ns: int                     # host wall time of the launch, emulator included
    modeled_seconds: float
    bound: str
    core_seconds: tuple[float, ...]  # busy span of each core of the device, from the launch's start
    dram_bytes: int
    energy_joules: float
    detailed: bool = True            # timed in detail; else (timing="sampled") its modeled time is estimated
                                     # from its region's sample, and bound, cores, DRAM and energy are unknown
    margin_seconds: float = 0.0      # timed in detail on sampled intervals: half-width of its modeled time's
                                     # interval (its cores' spans are estimates too)

    @staticmethod
    def of(region: str, device: DeviceConfig, start_ns: int, host_ns: int, cost: CostRecord,
           margin_seconds: float = 0.0) -> "Launch":
        hz = device.clock_ghz * 1e9
        return Launch(region, device.name, start_ns, host_ns, cost.seconds, cost.bound.value,
                      tuple(c / hz for c in cost.core_cycles), cost.dram_bytes_read + cost.dram_bytes_written,
                      cost.energy_joules, margin_seconds=margin_seconds)

    @staticmethod
    def estimated(region: str, device: DeviceConfig, start_ns: int, host_ns: int, seconds: float) -> "Launch":
        return Launch(region, device.name, start_ns, host_ns, seconds, "estimated", (), 0, 0.0, detailed=False)


class LaunchLog:
    """The most recent launches of the process, for the profiler to match against its events; bounded so a
    long training run that is never profiled does not grow it without end."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._launches: collections.deque[Launch] = collections.deque(maxlen=capacity)

    def record(self, launch: Launch) -> None:
        with self._lock:
            self._launches.append(launch)

    def snapshot(self) -> tuple[Launch, ...]:
        with self._lock:
            return tuple(self._launches)

    def clear(self) -> None:
        with self._lock:
            self._launches.clear()


class Exchange(enum.Enum):
    """The all-to-alls of a sharded step (``torch_ember.distributed``)."""
    IDS = "ids"                  # lengths and ids (and weights) to the ranks that own the shards
    POOLED = "pooled"            # pooled embeddings back to the ranks that own the samples
    GRADIENTS = "gradients"      # their gradients, the reverse way, in the backward pass


@dataclass(frozen=True)
class ExchangeRecord:
    kind: Exchange
    sent: tuple[int, ...]        # bytes this rank sent to each rank


class ExchangeLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[ExchangeRecord] = []

    def record(self, kind: Exchange, splits: list[int], element_size: int) -> None:
        with self._lock:
            self._records.append(ExchangeRecord(kind, tuple(n * element_size for n in splits)))

    def records(self) -> list[ExchangeRecord]:
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()

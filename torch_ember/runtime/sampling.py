"""Sampled timing (``options={"timing": "sampled"}``): which launches of a region are timed in detail,
and the estimate of the others.

As SMARTS (Wunderlich et al., ISCA 2003) times short systematic samples of a program in detail, a region's
launches are sampled here. Launches are grouped into classes of alike work (``Work.alike``: index elements
within a factor of ``ALIKE_SIZE`` of the class's first launch, distinct index elements within a factor of
``ALIKE_DISTINCT``), so that inputs of another size or another character start a sample of their own. In a
class the first ``MIN_DETAILED`` launches are timed in detail, then about one launch in every ``period``:
the period doubles (up to ``MAX_PERIOD``) each time a detailed launch finds the estimate within the target
error at the stated confidence, and halves each time it does not. The gap to the next detailed launch is
drawn between half and one and a half periods, not fixed: a graph that launches one region twice a step on
different indices (a GCN's ``norm[src]`` and ``norm[dst]``) would otherwise have only one of the two timed,
a systematic sample's known failure on periodic populations. The launches in between run on the host's own
kernel; their modeled cost is estimated with a regression estimator (``dae_emulator.timing.estimator``)
whose auxiliary variable is the launch's index elements, known for every launch. A launch too big to time
whole is itself timed on sampled intervals (``dae_emulator.timing.intervals``) when it is timed in detail.
"""
from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, fields, replace

import torch

from dae_emulator.timing.estimator import Line, projected_relative_margin, regression_total
from .stats import RegionRecord

MIN_DETAILED = 3     # launches of a class timed in detail before any is estimated
MAX_PERIOD = 32      # at most this many launches from one timed in detail to the next
ALIKE_SIZE = 1.5     # launches of a class have index elements within this factor of its first launch's ...
ALIKE_DISTINCT = 1.2  # ... and distinct index elements within this factor

# the fields of a region's record that add up over launches and are estimated for those not timed in detail
_ESTIMATED = ("lookups", "bytes_read", "bytes_written", "modeled_seconds", "dram_bytes", "cache_hits",
              "cache_misses", "energy_joules", "execute_ops")
_COUNTS = {f.name for f in fields(RegionRecord) if f.type == "int"}


def _distinct(index: torch.Tensor) -> int:
    """How many distinct values ``index`` holds: a mark per value where the values are small, else a sort."""
    if index.numel() == 0:
        return 0
    low, high = (int(v) for v in torch.aminmax(index))
    if low >= 0 and high < 4 * index.numel() + (1 << 20):
        seen = torch.zeros(high + 1, dtype=torch.bool, device=index.device)
        seen.index_fill_(0, index.reshape(-1).long(), True)
        return int(torch.count_nonzero(seen))
    return int(torch.unique(index).numel())


@dataclass(frozen=True)
class Work:
    """What a launch asks of the device, measured on its inputs without running it: its index elements
    (every integer input's elements) and how many of those are distinct (summed over the inputs)."""

    elements: int
    distinct: int

    @staticmethod
    def of(inputs: dict[str, torch.Tensor]) -> "Work":
        indices = [t for t in inputs.values() if not t.is_floating_point() and t.dtype is not torch.bool]
        return Work(sum(t.numel() for t in indices), sum(_distinct(t) for t in indices))

    @property
    def size(self) -> float:
        """The regression estimator's auxiliary variable (at least 1: a region without index inputs is
        estimated by the mean of its launches)."""
        return float(max(self.elements, 1))

    def alike(self, other: "Work") -> bool:
        """Whether launches of these two works belong to one class: index elements within a factor of
        ``ALIKE_SIZE`` of each other, distinct ones within a factor of ``ALIKE_DISTINCT``."""
        return (max(self.size, other.size) <= ALIKE_SIZE * min(self.size, other.size)
                and max(self.distinct, other.distinct) <= ALIKE_DISTINCT * max(min(self.distinct, other.distinct), 1))


class SampledUnit:
    """One region's launches of one class: which to time in detail, what those measured (per report row: the
    region's own program and any it ran after it, such as a row scatter's finishing program), and the
    estimate of all of them."""

    def __init__(self, error: float, confidence: float) -> None:
        self.error, self.confidence = error, confidence
        self._lock = threading.Lock()
        self.launches = 0
        self.size_total = 0.0
        self._period = 1
        self._next_detailed = 0
        self._gaps = random.Random(0)          # fixed: a run's sample is the same from one run to the next
        self._sizes: list[float] = []
        self._seconds: list[float] = []        # each detailed launch's modeled seconds, all its rows together
        self._rows: dict[str, list[RegionRecord]] = {}   # per row, each detailed launch's record

    def take(self, work: Work) -> bool:
        """Counts a launch of this class; whether it is to be timed in detail."""
        with self._lock:
            number = self.launches
            self.launches += 1
            self.size_total += work.size
            if number < self._next_detailed:
                return False
            self._next_detailed = number + 1     # until its sample arrives, launches racing it are detailed too
            return True

    def add_sample(self, work: Work, records: tuple[RegionRecord, ...]) -> None:
        """What a launch timed in detail measured (one record per report row it touched)."""
        with self._lock:
            number = len(self._sizes)
            self._sizes.append(work.size)
            self._seconds.append(sum(r.modeled_seconds for r in records))
            for r in records:
                samples = self._rows.setdefault(r.name, [])
                samples += [_nothing(r)] * (number - len(samples)) + [r]
            if len(self._sizes) >= MIN_DETAILED:
                met = projected_relative_margin(self._sizes, self._seconds, self.confidence) <= self.error
                self._period = min(self._period * 2, MAX_PERIOD) if met else max(self._period // 2, 1)
                gap = self._gaps.randint((self._period + 1) // 2, self._period + self._period // 2)
                self._next_detailed = self.launches - 1 + gap

    def per_launch_seconds(self, work: Work) -> float:
        """The modeled seconds of one launch of this size, from the sample's line."""
        with self._lock:
            return max(Line.fit(self._sizes, self._seconds).at(work.size), 0.0) if self._sizes else 0.0

    def rows(self) -> list[RegionRecord]:
        """Each row's record for all the class's launches: measured where every launch was timed in detail,
        else estimated, with the interval of its modeled seconds."""
        with self._lock:
            n = len(self._sizes)
            return [self._row(samples + [_nothing(samples[0])] * (n - len(samples)))
                    for samples in self._rows.values()]

    def _row(self, samples: list[RegionRecord]) -> RegionRecord:
        first = samples[0]
        longest = max(samples, key=lambda r: r.longest_launch_seconds)
        record = RegionRecord(first.name, first.kind, first.device, first.peak_dram_gbs, launches=self.launches,
                              detailed_launches=len(samples), bound=longest.bound,
                              emulator_seconds=sum(r.emulator_seconds for r in samples),
                              longest_launch_seconds=longest.longest_launch_seconds)
        totals = {name: regression_total(self._sizes, [getattr(r, name) for r in samples], self.size_total,
                                         self.launches, self.confidence) for name in _ESTIMATED}
        # two-stage sampling (Cochran, chapters 10-11): the launches' spread, and the error of the launches
        # timed on sampled intervals, which stands for launches / detailed launches of them each
        within = self.launches / len(samples) * sum(r.modeled_seconds_margin ** 2 for r in samples)
        return replace(record, modeled_seconds_margin=math.sqrt(totals["modeled_seconds"].margin ** 2 + within),
                       interval_launches=sum(r.interval_launches for r in samples),
                       **{name: (max(round(e.value), 0) if name in _COUNTS else max(e.value, 0.0))
                          for name, e in totals.items()})


def _nothing(like: RegionRecord) -> RegionRecord:
    """A row's record for a detailed launch that did not touch it."""
    return RegionRecord(like.name, like.kind, like.device, like.peak_dram_gbs)


class SampledRegion:
    """A region's launches under sampled timing, in classes of alike work (``EstimatedRows`` for the report)."""

    def __init__(self, error: float, confidence: float) -> None:
        self.error, self.confidence = error, confidence
        self._lock = threading.Lock()
        self._classes: list[tuple[Work, SampledUnit]] = []

    def unit(self, work: Work) -> SampledUnit:
        """The class of launches alike ``work`` (the first that is, in the order they were made), or a new one."""
        with self._lock:
            for first, unit in self._classes:
                if first.alike(work):
                    return unit
            unit = SampledUnit(self.error, self.confidence)
            self._classes.append((work, unit))
            return unit

    def rows(self) -> list[RegionRecord]:
        with self._lock:
            units = [unit for _, unit in self._classes]
        return [row for unit in units for row in unit.rows()]

"""Interval sampling of one launch: SMARTS (Wunderlich et al., ISCA 2003) inside a launch too big to time
in full.

The cache is replayed over the whole line stream, as in the full model: that is the functional warming,
and it leaves every line's hit or miss, and so the launch's traffic, exact. Only the pipelines (queues,
request slots, callbacks, the DRAM bus: ``pipeline.replay``, most of the model's time) are sampled. The
stream's events, in device order, are cut into units of about ``unit_lines`` lines and at least
``QUEUE_SPANS`` queue depths of events per core. The first unit is timed from the launch's start, as the
full model times it; the last, with the write-backs at the end, after a warm-up; of the units between, one
drawn at random in each stratum of ``step`` units, each timed after ``warm_units`` units of detailed warming
(the pipelines start empty, and fill before the timed interval begins).

A unit's cycles are how far it moves the cores' mean finish. Their total over the units between is
estimated with the regression estimator (``estimator``) on an auxiliary measure known for every unit from
the cache replay: the unit's lower bound, the largest of its DRAM bus time, its busiest access unit's issue
cycles and execute unit's callback cycles, and its misses times the DRAM latency over all cores' request
slots. Each core's finish is then the first and last units' moves of it plus that total times the core's
pace in the sample (``_Pace``), and the launch's cycles are the latest core's. The interval adds to the
estimator's a bound on the warming's bias (``_warming_bias``). The sample doubles (its step halves) until
the interval is within ``error`` at ``confidence``; where that would take more than ``1 / MIN_STEP`` of the
events, the launch is timed in full instead. Stalls and per-core tallies are scaled from the sampled units;
traffic, hits, misses and event counts are exact.
"""
from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

import numba
import numpy as np

from dae_emulator.config import DeviceConfig
from dae_emulator.cost import CostRecord
from dae_emulator.timing.estimator import Estimate, Line, regression_total, t_quantile
from dae_emulator.timing.model import PreparedLaunch, full_cycles, horizon_among, prepare
from dae_emulator.timing.pipeline import Tally
from dae_emulator.trace import LaunchTrace


# A core's access unit runs up to a queue depth of events ahead of its execute unit, so a unit's cycles
# depend on how full the queues are at its boundaries: a unit spans at least this many queue depths per core
# (census sums of units a quarter as long erred by 2%; this long, by under 0.1%).
QUEUE_SPANS = 4
# Sampling pays where it times at most one unit in this many, its warm-ups included; a launch that needs
# more to meet the target error is timed in full.
MIN_STEP = 2
BIAS_PROBES = 4      # sampled units timed again after twice the warming, to bound the warming's bias
# The regression estimator is used where the sample's line explains at least this share of its spread in
# cycles; below it the slope is mostly noise, and on the validation programs such a slope biased the
# estimate by 0.4% at 16 units, so the mean per unit is used instead.
EXPLAINED = 0.5


@dataclass(frozen=True)
class IntervalSampling:
    """How a launch's pipelines are sampled."""

    error: float = 0.02          # target relative half-width of the launch's cycles
    confidence: float = 0.95
    unit_lines: int = 4096       # lines in a timed unit (about)
    warm_units: int = 1          # units of detailed warming before each timed unit
    first_sample: int = 8        # strata (units sampled) at the first check of the interval
    seed: int = 0                # of the draws of a unit in each stratum

    def __post_init__(self) -> None:
        if not 0 < self.error < 1 or not 0 < self.confidence < 1:
            raise ValueError(f"error and confidence must lie in (0, 1), got {self.error} and {self.confidence}")
        if self.unit_lines < 1 or self.warm_units < 0 or self.first_sample < 2:
            raise ValueError("unit_lines must be positive, warm_units non-negative and first_sample at least 2")


@dataclass(frozen=True)
class SampledCost:
    """A launch's cost with its cycles estimated from sampled units (``margin_cycles`` 0: timed in full)."""

    record: CostRecord
    margin_cycles: float       # half-width of the cycles' interval at the sampling's confidence
    units: int                 # units the launch's events were cut into (1: not cut, timed in full)
    timed_units: int           # units timed in detail (warm-ups not counted)

    @property
    def sampled(self) -> bool:
        return self.timed_units < self.units

    @property
    def margin_seconds(self) -> float:
        return self.margin_cycles * self.record.seconds / self.record.cycles if self.record.cycles else 0.0


@numba.njit(cache=True, nogil=True)
def _unit_bounds(events: np.ndarray, unit: int, units: int, core_of_event: np.ndarray, line_start: np.ndarray,
                 access_lines: np.ndarray, execute_lines: np.ndarray, hit: np.ndarray, write: np.ndarray,
                 dram_write: np.ndarray, entries: np.ndarray, token_cycles: np.ndarray, cores: int,
                 transfer: float, miss_latency: float, slots: int) -> np.ndarray:
    """Each unit's lower bound on its cycles (the module docstring's auxiliary measure; the misses' latency
    is taken as spread evenly over the cores). A unit's lines are contiguous in the stream."""
    bound = np.empty(units)
    issue, compute = np.zeros(cores), np.zeros(cores)
    for u in range(units):
        stop = min((u + 1) * unit, events.size)
        issue[:] = 0.0
        compute[:] = 0.0
        for position in range(u * unit, stop):
            event = events[position]
            core = core_of_event[event]
            issue[core] += max(access_lines[event], entries[event], 1)
            compute[core] += token_cycles[event] + execute_lines[event]
        last = events[stop - 1]
        sent = misses = 0
        for line in range(line_start[events[u * unit]], line_start[last] + access_lines[last] + execute_lines[last]):
            missed = not write[line] and not hit[line]
            misses += missed
            sent += missed or dram_write[line]
        bound[u] = max(sent * transfer, misses * miss_latency / (slots * cores), issue.max(), compute.max())
    return bound


@dataclass(frozen=True)
class _Timed:
    """One unit timed: how far it moved each core's finish (``core``), its per-core tallies' moves, and for
    the launch's last unit, how far its last transfer ran past the latest core's finish (``tail``)."""

    core: np.ndarray
    tally: np.ndarray
    tail: float = 0.0

    @property
    def cycles(self) -> float:
        """How far the unit moved the cores' mean finish (the estimator's ``y``: the latest core's move is
        noisier, as which core is latest changes from one boundary to the next)."""
        return float(self.core.mean())


class _Units:
    """The launch's events cut into units, and the units timed so far."""

    def __init__(self, launch: PreparedLaunch, sampling: IntervalSampling, unit: int) -> None:
        self.launch, self.sampling, self.unit = launch, sampling, unit
        self.count = -(-launch.events.size // unit)
        self.bucket_width = launch.bucket_width     # as the full model's: the bus serves alike
        self.timed: dict[int, _Timed] = {}
        self.rewarmed: dict[int, _Timed] = {}

    def span(self, u: int) -> tuple[int, int]:
        return u * self.unit, min((u + 1) * self.unit, self.launch.events.size)

    def time(self, u: int) -> _Timed:
        if u not in self.timed:
            self.timed[u] = self.time_span(u, u + 1, self.sampling.warm_units)
        return self.timed[u]

    def time_rewarmed(self, u: int) -> _Timed:
        """Unit ``u`` timed after twice the detailed warming (to bound the warming's bias)."""
        if u not in self.rewarmed:
            self.rewarmed[u] = self.time_span(u, u + 1, 2 * self.sampling.warm_units)
        return self.rewarmed[u]

    def time_span(self, first: int, stop: int, warm_units: int) -> _Timed:
        """Units ``[first, stop)`` timed together after ``warm_units`` units of detailed warming."""
        launch = self.launch
        start, end = self.span(first)[0], self.span(stop - 1)[1]
        warm_start = max(0, start - warm_units * self.unit)
        last = end == launch.events.size
        events = launch.events[warm_start:end]
        tally, last_data, marked = launch.replay(events, horizon_among(launch, events), self.bucket_width,
                                                 launch.cached.dirty_at_end if last else 0, start - warm_start)
        moved = tally - marked
        tail = max(last_data - tally[:, Tally.FINISH].max(), 0.0) if last else 0.0
        return _Timed(moved[:, Tally.FINISH].copy(), moved, float(tail))


def _unit_events(launch: PreparedLaunch, unit_lines: int) -> int:
    """Events per unit: about ``unit_lines`` lines, and at least ``QUEUE_SPANS`` queue depths of events, the
    same number for every core."""
    cores = launch.config.cores
    lines_per_event = max(launch.stream.line.size, 1) / max(launch.events.size, 1)
    return cores * max(1, round(unit_lines / (cores * lines_per_event)), QUEUE_SPANS * launch.capacity)


def unit_count(trace: LaunchTrace, config: DeviceConfig, sampling: IntervalSampling) -> int:
    """How many units ``estimate_sampled`` cuts ``trace``'s events into on ``config``."""
    launch = prepare(trace, config)
    return _Units(launch, sampling, _unit_events(launch, sampling.unit_lines)).count


def estimate_sampled(trace: LaunchTrace, config: DeviceConfig, sampling: IntervalSampling) -> SampledCost:
    """Modeled cost of running ``trace`` on ``config`` with the pipelines timed on sampled intervals, or in
    full where sampling would not time at most ``1 / MIN_STEP`` of the events (warm-ups included)."""
    launch = prepare(trace, config)
    units = _Units(launch, sampling, _unit_events(launch, sampling.unit_lines))
    between = units.count - 2
    smallest_step = MIN_STEP * (1 + sampling.warm_units)
    step = 1 << int(math.log2(between / sampling.first_sample)) if between >= sampling.first_sample else 0
    if step < smallest_step:
        return SampledCost(launch.record(*full_cycles(launch)), 0.0, 1, 1)
    dram, stream = launch.dram, launch.stream
    bounds = _unit_bounds(launch.events, units.unit, units.count, launch.core_of_event, stream.line_start,
                          stream.access_lines, stream.execute_lines, launch.cached.hits, stream.write,
                          launch.cached.dram_write, launch.entries, launch.token_cycles, config.cores,
                          dram.transfer_cycles, dram.miss_latency, config.max_outstanding)
    draws = random.Random(sampling.seed)
    head_units = step
    head = units.time_span(0, head_units, 0)   # the launch's start, where a cold cache warms, timed whole
    last = units.time(units.count - 1)
    middle = units.count - 1 - head_units
    sample: list[int] = []
    while step >= smallest_step:
        sample = _one_per_stratum(sample, head_units, units.count - 1, step, draws)
        middle_total, model_error = _middle_total(bounds, sample, [units.time(u).cycles for u in sample],
                                                  head_units, sampling.confidence)
        pace = _Pace.of(units, sample)
        ends = head.core + last.core
        total = float((ends + middle_total.value * pace.shrunk).max()) + last.tail
        unshrunk = float((ends + middle_total.value * pace.measured).max()) + last.tail
        margin = (pace.shrunk.max() * (middle_total.margin + model_error + middle * _warming_bias(units, sample))
                  + _last_unit_bias(units) + abs(unshrunk - total)
                  + t_quantile(sampling.confidence, len(sample) - 1) * pace.noise * middle_total.value)
        if margin <= sampling.error * total:
            return _sampled_cost(launch, units, head, head_units, sample, middle_total.value, margin, total)
        step //= 2      # the sample doubles, keeping the units already timed
    return SampledCost(launch.record(*full_cycles(launch)), 0.0, 1, 1)


def _middle_total(bounds: np.ndarray, sample: list[int], ys: list[float], head_units: int,
                  confidence: float) -> tuple[Estimate, float]:
    """The total of the cores' mean moves over the units between the head and the last, and how far the
    ratio estimator on the units' bounds puts it from there (added to the interval: where the sample's units
    are all alike, the estimator's own interval is zero wide, but the bounds, known for every unit, may show
    units unlike them, such as the tail of a cold cache's warming after the head)."""
    xs, x_total, middle = [bounds[u] for u in sample], float(bounds[head_units:-1].sum()), bounds.size - 1 - head_units
    ratio = sum(ys) / sum(xs) * x_total if sum(xs) > 0 else None
    if Line.fit(xs, ys).explained < EXPLAINED:
        xs, x_total = [1.0] * len(sample), float(middle)   # the mean per unit: a weak line's slope biases the total
    total = regression_total(xs, ys, x_total, middle, confidence)
    return total, abs(ratio - total.value) if ratio is not None else 0.0


@dataclass(frozen=True)
class _Pace:
    """Each core's pace in the sample: how far it moved over how far the cores' mean moved. The launch's
    cycles are its latest core's finish; where the cores' work or their share of the bus differs, their
    finishes drift apart over the whole launch (by a tenth on a level-0 bag of the suite), a spread no unit
    alone shows. Part of the paces' spread is noise, and the latest of many noisy paces is biased high (by
    1% on a uniform bag of 32 cores), so the estimate takes the paces shrunk towards 1 by the share of their
    spread that their own noise accounts for (James and Stein's empirical Bayes shrinkage); the interval
    covers the unshrunk ones too, and the noise of the latest."""

    measured: np.ndarray
    shrunk: np.ndarray
    noise: float             # standard error of one core's pace

    @staticmethod
    def of(units: _Units, sample: list[int]) -> "_Pace":
        mean = np.array([units.time(u).cycles for u in sample])
        moved = np.array([units.time(u).core for u in sample])             # units x cores
        if mean.sum() <= 0:
            ones = np.ones(moved.shape[1])
            return _Pace(ones, ones, 0.0)
        pace = moved.sum(axis=0) / mean.sum()
        per_unit = moved[mean > 0] / mean[mean > 0, None]
        noise = per_unit.var(axis=0, ddof=1).mean() / len(per_unit) if len(per_unit) > 1 else math.inf
        spread = pace.var()
        keep = max(0.0, 1.0 - noise / spread) if spread > 0 else 0.0
        return _Pace(pace, 1.0 + keep * (pace - 1.0), math.sqrt(noise))


def _one_per_stratum(chosen: list[int], first: int, stop: int, step: int, draws: random.Random) -> list[int]:
    """One unit in each stratum of ``step`` units of ``[first, stop)``: the ``chosen`` one where a stratum
    holds one (``chosen`` sorted, one per stratum of twice the size), else one drawn at random. Not every
    ``step``-th unit: a systematic sample of a periodic launch (bags of a repeating pattern) can miss all the
    units unlike its own and report an interval of zero width."""
    out = []
    for low in range(first, stop, step):
        high = min(low + step, stop)
        i = bisect.bisect_left(chosen, low)
        out.append(chosen[i] if i < len(chosen) and chosen[i] < high else draws.randrange(low, high))
    return out


def _warming_bias(units: _Units, sample: list[int]) -> float:
    """How far, per unit, the sampled units' cycles may be off from too little warming: the largest change
    of ``BIAS_PROBES`` of them when timed after twice the warming (a bias the sample's spread does not show;
    where the pipelines' memory outlasts the warm-up it can reach a few percent)."""
    probes = sample[:: max(1, len(sample) // BIAS_PROBES)][:BIAS_PROBES]
    return max(abs(units.time_rewarmed(u).cycles - units.time(u).cycles) for u in probes)


def _last_unit_bias(units: _Units) -> float:
    """As ``_warming_bias``, for the last unit: the largest change of a core's finish and of the tail."""
    u = units.count - 1
    once, twice = units.time(u), units.time_rewarmed(u)
    return float(np.abs(twice.core - once.core).max()) + abs(twice.tail - once.tail)


def _sampled_cost(launch: PreparedLaunch, units: _Units, head: _Timed, head_units: int, sample: list[int],
                  middle: float, margin: float, total: float) -> SampledCost:
    """The record: the head's and the last unit's tallies, and the sampled units' scaled to the units between
    as their cycles were."""
    measured = sum(units.time(u).cycles for u in sample)
    scale = middle / measured if measured > 0 else (units.count - 1 - head_units) / len(sample)
    tally = head.tally + units.time(units.count - 1).tally + scale * sum(units.time(u).tally for u in sample)
    return SampledCost(launch.record(total, tally), margin, units.count, head_units + 1 + len(sample))

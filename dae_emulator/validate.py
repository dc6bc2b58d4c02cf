"""Validate the fast timing model against the cycle-level reference on synthetic embedding-bag and
message-passing programs.

Run ``python -m dae_emulator.validate``: one line per program (reference cycles, fast cycles, error), then
the worst error; the exit status is non-zero when the worst error is above the tolerance.

``--intervals`` checks interval sampling (``timing.intervals``) against the fast model timing every event
instead: each program's work is repeated until its launch has ``INTERVAL_UNITS`` units (too big for the
reference; the fast model in full is the yardstick here), then one line per program gives both cycle
counts, the error, the interval's half-width and whether the interval covers the full count; the exit
status is non-zero when the worst error is above ``INTERVAL_TOLERANCE``. The programs
span pooling factors (even and uneven bags), row widths, index locality, queue capacities, request slots,
bandwidth, cache size and core counts (each core taking a block of the work, or tiles of it in turn), and
wide buffered rows where the scratchpad holding the operand queues limits their depth, so that every bound
(latency, bandwidth, issue, compute) is exercised; the message-passing programs' read-modify-writes
exercise the write-back cache, with destinations that fit it and that do not.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import zlib
from dataclasses import dataclass

from tqdm import tqdm

from dae_emulator.config import DeviceConfig, preset
from dae_emulator.reference import simulate
from dae_emulator.synthetic import Locality, bag_queue_depth, embedding_bag_trace, scatter_trace
from dae_emulator.timing import estimate
from dae_emulator.timing.intervals import IntervalSampling, SampledCost, estimate_sampled, unit_count
from dae_emulator.trace import LaunchTrace

TOLERANCE = 0.10
INTERVAL_UNITS = 128          # units each program's launch is scaled to for the interval-sampling check
INTERVAL_TOLERANCE = 0.05     # worst error of interval sampling against the full fast model


@dataclass(frozen=True)
class Program:
    """A synthetic bag program (or, with ``scatter``, message passing: ``num_bags`` destinations receiving
    ``pooling`` messages each) and the device variant it runs on."""

    name: str
    config: DeviceConfig
    num_bags: int
    pooling: int
    dim: int
    num_rows: int
    locality: Locality = Locality.UNIFORM
    row_entry: int = 0          # 0: rows pushed buffered; else elements per queue entry
    scatter: bool = False
    prefetch: bool = False      # message passing: the access unit prefetches the destination rows
    uneven: bool = False        # bag lengths drawn from [0, 2 * pooling] instead of all ``pooling``
    tile: int | None = None     # cores take the bags (edges) in tiles of this many, in turn

    def trace(self) -> LaunchTrace:
        if self.scatter:
            return scatter_trace(
                self.num_bags, self.pooling, self.dim, self.num_rows, self.locality,
                vector_bytes=self.config.vector_bytes, seed=zlib.crc32(self.name.encode()),
                queue_depth=bag_queue_depth(self.dim, 0, self.config.queue_capacity, self.config.scratchpad_bytes),
                prefetch=self.prefetch, tile=self.tile,
            )
        return embedding_bag_trace(
            self.num_bags, self.pooling, self.dim, self.num_rows, self.locality,
            vector_bytes=self.config.vector_bytes, row_entry=self.row_entry, seed=zlib.crc32(self.name.encode()),
            queue_depth=bag_queue_depth(self.dim, self.row_entry, self.config.queue_capacity,
                                        self.config.scratchpad_bytes),
            uneven=self.uneven, tile=self.tile,
        )


def _on(name: str, **changes: object) -> DeviceConfig:
    return dataclasses.replace(preset(name), **changes)


_EDGE, _SERVER = preset("edge"), preset("server")
_BIG = 1 << 20
PROGRAMS: tuple[Program, ...] = (
    Program("edge cold p8 d64", _EDGE, 96, 8, 64, _BIG),
    Program("edge hot table p8 d64", _EDGE, 96, 8, 64, 64),
    Program("edge zipf p16 d32", _EDGE, 64, 16, 32, _BIG, Locality.ZIPF),
    Program("edge sorted p8 d128", _EDGE, 64, 8, 128, _BIG, Locality.SORTED),
    Program("edge q2 p4 d64", _on("edge", queue_capacity=2), 128, 4, 64, _BIG),
    Program("edge q4 p8 d64", _on("edge", queue_capacity=4), 96, 8, 64, _BIG),
    Program("edge q64 mo64 p8 d64", _on("edge", queue_capacity=64, max_outstanding=64), 96, 8, 64, _BIG),
    Program("edge mo4 p8 d16", _on("edge", max_outstanding=4), 128, 8, 16, _BIG),
    Program("edge p1 d256", _EDGE, 384, 1, 256, _BIG),
    Program("edge p32 d8", _EDGE, 32, 32, 8, _BIG, Locality.ZIPF),
    Program("edge 64KiB cache zipf p8 d64", _on("edge", cache_bytes=64 << 10), 128, 8, 64, 4096, Locality.ZIPF),
    Program("server 1c p8 d64", _on("server", cores=1), 96, 8, 64, _BIG),
    Program("server 2c zipf p8 d64", _on("server", cores=2), 128, 8, 64, _BIG, Locality.ZIPF),
    Program("server 4c p16 d32", _on("server", cores=4), 96, 16, 32, _BIG),
    Program("server 8c sorted p8 d128", _on("server", cores=8), 128, 8, 128, _BIG, Locality.SORTED),
    Program("server 32c p8 d64", _SERVER, 256, 8, 64, _BIG),
    Program("server 32c zipf p32 d16", _SERVER, 128, 32, 16, _BIG, Locality.ZIPF),
    Program("server 4c q4 p8 d64", _on("server", cores=4, queue_capacity=4), 128, 8, 64, _BIG),
    Program("server 4c q8 mo8 zipf p16 d64", _on("server", cores=4, queue_capacity=8, max_outstanding=8),
            64, 16, 64, _BIG, Locality.ZIPF),
    Program("server 16c p4 d512", _on("server", cores=16), 128, 4, 512, _BIG),
    Program("server 2c hot table p16 d64", _on("server", cores=2), 64, 16, 64, 128),
    Program("server 8c 32GB/s p8 d64", _on("server", cores=8, dram_bandwidth_gbs=32.0), 128, 8, 64, _BIG),
    Program("edge scalar pushes p8 d64", _EDGE, 64, 8, 64, _BIG, row_entry=1),
    Program("server 4c vector pushes p8 d128", _on("server", cores=4), 96, 8, 128, _BIG, row_entry=16),
    Program("server 2c scalar pushes hot p16 d32", _on("server", cores=2), 64, 16, 32, 128, row_entry=1),
    # wide buffered rows where the scratchpad binds: 4 KiB rows leave 4 entries of edge's 16 KiB, 16 KiB
    # rows 4 of server's 64 KiB; pieces of 256 elements restore the full depth
    Program("edge scratchpad-bound p4 d1024", _EDGE, 24, 4, 1024, _BIG),
    Program("server 1c scratchpad-bound p4 d4096", _on("server", cores=1), 8, 4, 4096, _BIG),
    Program("edge 1KiB pieces p4 d1024", _EDGE, 24, 4, 1024, _BIG, row_entry=256),
    # message passing: destinations resident in the cache (updates absorbed), and evicted (16 KiB cache)
    Program("edge scatter m8 d64", _EDGE, 64, 8, 64, _BIG, scatter=True),
    Program("server 4c scatter zipf m4 d64", _on("server", cores=4), 128, 4, 64, _BIG, Locality.ZIPF, scatter=True),
    Program("edge 16KiB cache scatter m4 d64", _on("edge", cache_bytes=16 << 10), 256, 4, 64, 4096, scatter=True),
    Program("server 4c scatter prefetched m4 d64", _on("server", cores=4), 128, 4, 64, _BIG, scatter=True,
            prefetch=True),
    Program("edge scatter prefetched m8 d64", _EDGE, 64, 8, 64, _BIG, scatter=True, prefetch=True),
    # uneven bags, the cores taking one block each or tiles in turn; sorted indices and scatters in tiles
    Program("server 4c uneven p8 d64", _on("server", cores=4), 96, 8, 64, _BIG, uneven=True),
    Program("server 4c uneven tiles of 2 p8 d64", _on("server", cores=4), 96, 8, 64, _BIG, uneven=True, tile=2),
    Program("server 8c sorted tiles of 4 p8 d64", _on("server", cores=8), 128, 8, 64, _BIG, Locality.SORTED,
            tile=4),
    Program("server 4c scatter tiles of 1 m4 d64", _on("server", cores=4), 128, 4, 64, _BIG, scatter=True, tile=1),
)


@dataclass(frozen=True)
class Comparison:
    program: Program
    reference_cycles: float
    fast_cycles: float

    @property
    def error(self) -> float:
        """Relative error of the fast model against the reference."""
        return abs(self.fast_cycles - self.reference_cycles) / self.reference_cycles


def compare(program: Program) -> Comparison:
    trace = program.trace()
    return Comparison(program, simulate(trace, program.config).cycles, estimate(trace, program.config).cycles)


def report(comparisons: list[Comparison]) -> str:
    width = max(len(c.program.name) for c in comparisons)
    lines = [f"{'program':<{width}}  {'reference':>10}  {'fast':>10}  {'error':>7}"]
    lines += [
        f"{c.program.name:<{width}}  {c.reference_cycles:>10.0f}  {c.fast_cycles:>10.0f}  {100 * c.error:>6.2f}%"
        for c in comparisons
    ]
    worst = max(c.error for c in comparisons)
    lines.append(f"worst error vs cycle-level reference: {100 * worst:.2f}%")
    return "\n".join(lines)


@dataclass(frozen=True)
class IntervalComparison:
    program: Program             # scaled to ``INTERVAL_UNITS`` units
    full_cycles: float
    sampled: SampledCost

    @property
    def error(self) -> float:
        return abs(self.sampled.record.cycles - self.full_cycles) / self.full_cycles

    @property
    def covers(self) -> bool:
        return abs(self.sampled.record.cycles - self.full_cycles) <= self.sampled.margin_cycles


def compare_intervals(program: Program, sampling: IntervalSampling = IntervalSampling()) -> IntervalComparison:
    """``program`` with its bags (messages' destinations) repeated until its launch has ``INTERVAL_UNITS``
    units, timed in full and on sampled intervals."""
    repeat = -(-INTERVAL_UNITS // unit_count(program.trace(), program.config, sampling))
    scaled = dataclasses.replace(program, num_bags=program.num_bags * repeat)
    trace = scaled.trace()
    return IntervalComparison(scaled, estimate(trace, scaled.config).cycles,
                              estimate_sampled(trace, scaled.config, sampling))


def interval_report(comparisons: list[IntervalComparison], sampling: IntervalSampling) -> str:
    width = max(len(c.program.name) for c in comparisons)
    lines = [f"interval sampling against the full fast model (target error {sampling.error:.0%} at "
             f"{sampling.confidence:.0%} confidence), each program's work repeated to about {INTERVAL_UNITS} units",
             f"{'program':<{width}}  {'bags':>7}  {'units':>5}  {'timed':>5}  {'full':>12}  {'sampled':>12}  "
             f"{'error':>7}  {'margin':>7}  covers"]
    for c in comparisons:
        s = c.sampled
        lines.append(f"{c.program.name:<{width}}  {c.program.num_bags:>7}  {s.units:>5}  {s.timed_units:>5}  "
                     f"{c.full_cycles:>12.0f}  {s.record.cycles:>12.0f}  {100 * c.error:>6.2f}%  "
                     f"{100 * s.margin_cycles / s.record.cycles:>6.2f}%  {'yes' if c.covers else 'no'}")
    sampled = [c for c in comparisons if c.sampled.sampled]
    covered = sum(c.covers for c in sampled)
    lines.append(f"interval sampling vs full: worst error {100 * max(c.error for c in comparisons):.2f}% over "
                 f"{len(comparisons)} programs ({len(sampled)} sampled, the others timed in full); "
                 f"intervals covered full in {covered} of {len(sampled)}")
    return "\n".join(lines)


def _progress(programs: list[Program], what: str):
    """A bar on stderr, one step per program (the reference takes about a minute for all of them)."""
    return tqdm(programs, desc=what, unit="program", file=sys.stderr, leave=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dae_emulator.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only programs whose name contains this text")
    parser.add_argument("--intervals", action="store_true",
                        help="check interval sampling against the full fast model instead (no reference)")
    args = parser.parse_args(argv)
    programs = [p for p in PROGRAMS if args.only is None or args.only in p.name]
    if not programs:
        parser.error(f"no program matches {args.only!r}")
    if args.intervals:
        sampling = IntervalSampling()
        checked = [compare_intervals(program, sampling) for program in _progress(programs, "interval sampling")]
        print(interval_report(checked, sampling))
        return 0 if max(c.error for c in checked) <= INTERVAL_TOLERANCE else 1
    comparisons = [compare(program) for program in _progress(programs, "reference vs fast")]
    print(report(comparisons))
    return 0 if max(c.error for c in comparisons) <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())

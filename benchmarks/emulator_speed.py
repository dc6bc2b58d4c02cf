"""How fast the emulator runs one DLRM-like batch, against eager ``F.embedding_bag`` on the same inputs.

    python benchmarks/emulator_speed.py            # about half a minute on a 2-core machine; --help for knobs

26 tables of 100k x 64 fp32 rows, batch 2048, pooling 20, uniform indices. The emulator side is the sum
embedding-bag DAE program that ``torch_ember``'s ``compile_region`` builds (fp32 table, int64 indices and
offsets, ``server`` preset, ``opt_level`` 3 as the backend compiles by default), run with ``dae_emulator.run`` on each table's inputs: the functional executor
and the timing model. The eager side is ``F.embedding_bag`` on the same tensors, in the same process. Both
warm up first (numba's compile time is excluded), then each side's best and median of ``--repeats`` passes
over all tables are reported. A breakdown shows where the emulator's time goes (functional vs timing, and
the hot spots within them). The last line is the lookups-per-second ratio of the emulator to eager.
"""
from __future__ import annotations

import argparse
import os
import sys
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager

import torch
import torch.nn.functional as F

import dae_emulator
from dae_emulator.functional import access as access_module, execute as execute_module
from dae_emulator.program import DType
from dae_emulator.timing import cache as cache_module, model as model_module
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec


def make_batch(tables: int, rows: int, dim: int, batch: int, pooling: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """Per table: its weights, uniform indices, and ``batch + 1`` offsets (fixed pooling)."""
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.arange(0, batch * pooling + 1, pooling, dtype=torch.int64)
    return [dict(table=torch.randn(rows, dim, generator=generator),
                 indices=torch.randint(0, rows, (batch * pooling,), generator=generator, dtype=torch.int64),
                 offsets=offsets) for _ in range(tables)]


def time_passes(work, repeats: int) -> list[float]:
    work()                                            # warm-up (numba compile, allocator, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


class Breakdown:
    """Wall time of named stages, gathered by wrapping module functions for one pass."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def wrap(self, module, attr: str, label: str):
        original = getattr(module, attr)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        setattr(module, attr, timed)
        try:
            yield
        finally:
            setattr(module, attr, original)


def breakdown(program, batch: list[dict[str, torch.Tensor]], device: str) -> Breakdown:
    """One pass of the emulator with its stages timed: functional (access, execute) and timing (stages)."""
    b = Breakdown()
    run_module = sys.modules["dae_emulator.run"]     # the package's ``run`` attribute is the function
    wraps = [
        (run_module, "estimate", "timing"),
        (access_module.AccessRun, "run", "functional: access side"),
        (run_module, "collect_firings", "functional: collect firings"),
        (execute_module.ExecuteRun, "run", "functional: execute side"),
        (model_module, "line_stream", "  timing: line stream"),
        (cache_module.SetAssociativeCache, "replay", "  timing: cache replay"),
        (model_module, "replay", "  timing: pipeline replay"),
    ]
    contexts = [b.wrap(module, attr, label) for module, attr, label in wraps if hasattr(module, attr)]
    for c in contexts:
        c.__enter__()
    try:
        start = time.perf_counter()
        for inputs in batch:
            dae_emulator.run(program, inputs, device)
        b.seconds["total"] = time.perf_counter() - start
    finally:
        for c in reversed(contexts):
            c.__exit__(None, None, None)
    return b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=26)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--pooling", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="server")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opt-level", type=int, default=3, help="compiler level of the program (3: the backend's default)")
    args = parser.parse_args()

    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "emb.weight", BagMode.SUM)
    dtypes = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64)
    program = compile_region(spec, dtypes, dae_emulator.preset(args.device), args.opt_level).dae
    batch = make_batch(args.tables, args.rows, args.dim, args.batch, args.pooling, args.seed)
    lookups = args.tables * args.batch * args.pooling

    def emulate():
        return [dae_emulator.run(program, inputs, args.device) for inputs in batch]

    def functional_only():
        return [dae_emulator.run(program, inputs, args.device, timing=False) for inputs in batch]

    def eager():
        return [F.embedding_bag(inputs["indices"], inputs["table"], inputs["offsets"], mode="sum",
                                include_last_offset=True) for inputs in batch]

    # the two sides compute the same thing
    got, want = emulate(), eager()
    for result, expected in zip(got, want):
        torch.testing.assert_close(result.outputs["out"], expected, rtol=1e-5, atol=1e-5)
    modeled = sum(r.cost.seconds for r in got)

    emulator_times, eager_times = time_passes(emulate, args.repeats), time_passes(eager, args.repeats)
    functional_times = time_passes(functional_only, args.repeats)
    load = os.getloadavg()
    print(f"batch: {args.tables} tables of {args.rows} x {args.dim} fp32, batch {args.batch}, pooling "
          f"{args.pooling}, uniform indices: {lookups} lookups; device {args.device}; torch threads "
          f"{torch.get_num_threads()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"modeled DAE time of the batch: {modeled * 1e6:.1f} us")
    rates = {}
    for name, times in (("emulator", emulator_times), ("eager", eager_times),
                        ("functional executor alone (timing=False)", functional_times)):
        best, median = min(times), statistics.median(times)
        rates[name] = lookups / best
        print(f"{name}: best {best * 1e3:8.2f} ms, median {median * 1e3:8.2f} ms over {len(times)} passes: "
              f"{lookups / best / 1e6:7.2f} M lookups/s (median {lookups / median / 1e6:.2f} M)")

    b = breakdown(program, batch, args.device)
    total = b.seconds.pop("total")
    functional = sum(v for k, v in b.seconds.items() if k.startswith("functional"))
    print(f"emulator breakdown of one pass ({total * 1e3:.1f} ms):")
    print(f"  {'functional (all)':32s} {functional * 1e3:8.1f} ms  {functional / total:6.1%}")
    for label, seconds in b.seconds.items():
        print(f"  {label:32s} {seconds * 1e3:8.1f} ms  {seconds / total:6.1%}")
    other = total - functional - b.seconds.get("timing", 0.0)
    print(f"  {'other (verify, checks, layout)':32s} {other * 1e3:8.1f} ms  {other / total:6.1%}")
    functional_ratio = rates["functional executor alone (timing=False)"] / rates["eager"]
    print(f"the functional executor alone (outputs, no timing) reaches {functional_ratio:.3f} of eager: no timing "
          f"model can lift the ratio above that")
    print(f"emulator/eager lookups-per-second ratio: {rates['emulator'] / rates['eager']:.3f}")


if __name__ == "__main__":
    main()

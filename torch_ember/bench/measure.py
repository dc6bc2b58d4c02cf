"""Run a model eagerly and under the ember backend, one timed step at a time, and sum up what each cost.

Both runs train from the same weights on the same batches after one untimed step (Dynamo and the region
compiler do their work there), so the times are those of steady-state training steps on this machine.
Eager CPU time is the whole step; the emulator's wall time and the modeled DAE time are those of the
regions the step ran on the device (the rest of the ember step runs on the host, as in eager).
"""
from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

import torch_ember
from torch_ember.runtime.stats import Report

from .workloads import Workload


@dataclass(frozen=True)
class Measurement:
    """Per training step, in seconds and joules, and the regions' report over the timed steps."""

    model: str
    steps: int
    eager_seconds: float
    ember_seconds: float
    report: Report

    @property
    def row(self) -> tuple[str, ...]:
        total, n = self.report.total(), self.steps
        modeled = f"{total.modeled_seconds / n * 1e3:.5f}"
        if total.interval:         # timing="sampled": some launches' cost is estimated; its interval
            modeled += f" ±{total.modeled_seconds_margin / n * 1e3:.5f}"
        return (self.model, f"{self.eager_seconds / n * 1e3:.2f}", f"{self.ember_seconds / n * 1e3:.2f}",
                f"{total.emulator_seconds / n * 1e3:.2f}", modeled, total.bound,
                f"{total.dram_gbs:.1f}", f"{total.energy_joules / n * 1e3:.4f}")


COLUMNS = ("model", "eager CPU ms", "ember wall ms", "emulator ms", "modeled DAE ms", "bound", "DRAM GB/s",
           "energy mJ")


def _timed(workload: Workload, model: torch.nn.Module, steps: int, label: str) -> float:
    elapsed = 0.0
    for i in tqdm(range(1, steps + 1), desc=f"{workload.name} {label}", unit="step", leave=False):
        start = time.perf_counter()
        workload.step(model, i)
        elapsed += time.perf_counter() - start
    return elapsed


def measure(workload: Workload, steps: int, options: dict) -> Measurement:
    torch.manual_seed(0)
    eager = workload.build()
    compiled = torch.compile(copy.deepcopy(eager), backend="ember", options=options)
    workload.step(eager, 0)
    print(f"{workload.name}: compiling (the first, untimed step; some seconds)", file=sys.stderr, flush=True)
    workload.step(compiled, 0)       # untimed: Dynamo and the region compiler work here
    torch_ember.reset()              # so the report covers the timed steps only
    eager_seconds = _timed(workload, eager, steps, "eager")
    ember_seconds = _timed(workload, compiled, steps, "ember")
    return Measurement(workload.name, steps, eager_seconds, ember_seconds, torch_ember.report())


def table(measurements: list[Measurement]) -> str:
    rows = [COLUMNS] + [m.row for m in measurements]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["(per training step; 'bound' is that of the longest launch)"])

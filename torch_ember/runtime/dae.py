"""The emulated DAE device as a ``RegionDevice``: adapt the arguments, run the region's program on the
emulator, record what it did and what the modeled device would take, and shape the results."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

import dae_emulator
from dae_emulator.config import DeviceConfig
from dae_emulator.program import Program
from dae_emulator.scratchpad import DaeScratchpadError
from dae_emulator.timing.intervals import IntervalSampling

from ..region_spec import RegionKind, RegionSpec
from .adapters import ADAPTERS, check_known_values
from .adapters.base import lookups_of
from .launch import Layout, ProgramSource, RegionDevice, launch, program_dtypes
from .stats import Launch, LaunchLog, Stats, count_execute_ops

# the argument a row scatter's finishing program reads the destination's old value from
_DESTINATION = {RegionKind.SCATTER_ROWS: 0, RegionKind.GATHER_SCATTER: 3}


def finish(layout: Layout, outputs: dict[str, torch.Tensor], device: RegionDevice, verify: bool) -> list[torch.Tensor]:
    """The ATen op's results from the program's outputs: shaped by the adapter, or, for a row scatter with an
    epilogue, combined with the destination by its finishing program (``RegionSpec.finish_rows``)."""
    spec, args = layout.spec, layout.args
    if not spec.finished_by_a_second_program:
        return ADAPTERS[spec.kind].finish(spec, args, outputs)
    counts = [outputs["count"]] if "count" in outputs else []
    return launch(spec.finish_rows(), [args[_DESTINATION[spec.kind]], outputs["out"], *counts], device, verify)


@dataclass(frozen=True)
class DaeDevice:
    config: DeviceConfig
    programs: ProgramSource
    stats: Stats
    launches: LaunchLog
    verify: bool = False
    intervals: IntervalSampling | None = None    # timing="sampled": launches too big to time in full are
                                                 # timed on sampled intervals of their stream

    def run(self, spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]:
        start_ns = time.time_ns()
        layout = Layout.of(spec, args)
        check_known_values(layout.spec, layout.inputs)
        return self.run_checked(spec.key, layout, start_ns)

    def run_checked(self, key: str, layout: Layout, start_ns: int) -> list[torch.Tensor]:
        """Run a region whose arguments are laid out and checked (``run``, or the sampled device's launch
        timed in detail); ``key`` is the region's before specialization, ``start_ns`` when its launch began."""
        spec, inputs, sizes = layout.spec, layout.inputs, layout.sizes
        dtypes = program_dtypes(inputs)
        try:
            result, elapsed = self._timed_run(self.programs.program(spec, dtypes), inputs, sizes)
        except DaeScratchpadError:      # rows too wide for the scratchpad, found as the sizes are bound
            pieces = self.programs.in_pieces(spec, dtypes, inputs, sizes)
            if pieces is None:
                raise
            result, elapsed = self._timed_run(pieces, inputs, sizes)
        trace = result.trace
        self.stats.record_launch(spec.key, spec.kind.value, self.config.name, self.config.dram_bandwidth_gbs,
                                 lookups=lookups_of(spec, inputs), bytes_read=trace.bytes_read,
                                 bytes_written=trace.bytes_written, emulator_seconds=elapsed, cost=result.cost,
                                 execute_ops=count_execute_ops(trace), cost_margin=result.cost_margin)
        outputs = finish(layout, result.outputs, self, self.verify)
        self.launches.record(Launch.of(key, self.config, start_ns, time.time_ns() - start_ns, result.cost,
                                       result.cost_margin))
        return outputs

    def _timed_run(self, program: Program, inputs: dict[str, torch.Tensor],
                   sizes: dict[str, int] | None) -> tuple[dae_emulator.RunResult, float]:
        start = time.perf_counter()
        result = dae_emulator.run(program, inputs, self.config, sizes=sizes, intervals=self.intervals)
        return result, time.perf_counter() - start

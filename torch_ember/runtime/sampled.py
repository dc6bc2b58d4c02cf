"""The DAE device under sampled timing (``options={"timing": "sampled"}``), a ``RegionDevice``.

Every launch makes every input check a detailed launch makes (its layout, its known values), so bad input
raises the same error whether or not the launch is timed. ``runtime.sampling`` decides which launches are
timed in detail: those run on the emulated device as under ``timing="full"``, and their outputs are compared
with the host's own kernel (the eager ATen op), so the device program stays checked all along. The others
take their outputs from that kernel, exactly eager's, and their cost is estimated from the sample.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from ..region_spec import RegionSpec
from .adapters import check_known_values
from .dae import DaeDevice
from .launch import Layout, compare, host_outputs
from .sampling import SampledRegion, Work
from .stats import Launch, Stats


@dataclass(frozen=True)
class SampledDevice:
    detailed: DaeDevice          # runs the launches timed in detail; its stats are the session's
    error: float                 # the target relative error of each region's modeled total ...
    confidence: float            # ... at this confidence

    def run(self, spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]:
        start_ns = time.time_ns()
        layout = Layout.of(spec, args)
        check_known_values(layout.spec, layout.inputs)
        work = Work.of(layout.inputs)
        region = self.detailed.stats.estimated_rows(spec.key, self.detailed.config.name,
                                                    lambda: SampledRegion(self.error, self.confidence))
        unit = region.unit(work)
        expected = host_outputs(spec, args)
        if unit.take(work):
            measured = Stats()      # this launch's records alone (its program's, and a finishing program's)
            outputs = replace(self.detailed, stats=measured).run_checked(spec.key, layout, start_ns)
            compare(spec, args, outputs, expected)
            unit.add_sample(work, measured.report().regions)
            return outputs
        self.detailed.launches.record(Launch.estimated(spec.key, self.detailed.config, start_ns,
                                                       time.time_ns() - start_ns, unit.per_launch_seconds(work)))
        return expected

"""A GPU's Triton kernels as a ``RegionDevice`` (``options={"regions": "triton"}``): what each launch really
took on this machine is recorded, not modeled (GPU time between CUDA events; host time under the Triton
interpreter)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..region_spec import RegionSpec
from ..runtime.stats import Stats
from .regions import run_region


@dataclass(frozen=True)
class TritonDevice:
    stats: Stats

    def run(self, spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]:
        device = args[0].device
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            outputs = run_region(spec, args)
            end.record()
            self.stats.record_kernel(spec.key, spec.kind.value, f"{device} ({torch.cuda.get_device_name(device)})",
                                     cuda_events=(start, end))
        else:
            began = time.perf_counter()
            outputs = run_region(spec, args)
            self.stats.record_kernel(spec.key, spec.kind.value, f"{device.type} (Triton interpreter)",
                                     seconds=time.perf_counter() - began)
        return outputs

"""The torch.library op every region becomes: ``ember::region(str call, Tensor[] args)``, ``call`` a
``RegionCall`` (the region's spec and the options it was lowered with).

It joins the two halves of the backend: the programs the lowering compiled (``programs.ProgramCache``,
which rebuilds any it no longer holds) and the runtime that runs them on the device the options name,
recording into the process's ``session``. Its fake implementation gives the outputs' shapes from the ATen
op's own meta function, so Dynamo and Inductor trace around a region exactly as they would around the op
it replaces. Outputs are contiguous, fake and real alike: a scatter's result would otherwise follow its
destination's layout, which Inductor may hand the region in another layout than the one the graph was
traced with.
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch._dynamo

from dae_emulator.timing.intervals import IntervalSampling

from .options import EmberOptions, Timing
from .programs import ProgramCache
from .region_call import RegionCall
from .runtime.adapters import ADAPTERS
from .runtime.dae import DaeDevice
from .runtime.sampled import SampledDevice
from .runtime.launch import RegionDevice, launch
from .session import Session, current_session

_LIB = torch.library.Library("ember", "DEF")
# a launch reads its checks back to the host and runs on the emulator: never inside a captured CUDA graph
_LIB.define("region(str call, Tensor[] args) -> Tensor[]",
            tags=(torch.Tag.cudagraph_unsafe,) if hasattr(torch.Tag, "cudagraph_unsafe") else ())


def device_for(options: EmberOptions, session: Session) -> RegionDevice:
    """Where regions lowered with ``options`` run (the emulated DAE device, every launch timed in detail or a
    sample of them; or the Triton kernels), recording into ``session``."""
    if options.regions == "triton":
        from .triton import TritonDevice    # only when asked for: triton is an optional dependency
        return TritonDevice(session.stats)
    device = DaeDevice(options.device_config, ProgramCache(options), session.stats, session.launches, options.verify)
    if options.timing is Timing.FULL:
        return device
    intervals = IntervalSampling(options.timing_error, options.timing_confidence)
    return SampledDevice(replace(device, intervals=intervals), options.timing_error, options.timing_confidence)


@torch.library.impl(_LIB, "region", "CompositeExplicitAutograd")
@torch._dynamo.disable      # a launch is opaque: never traced, even when it runs inside a compiled frame
def _region(call: str, args: list[torch.Tensor]) -> list[torch.Tensor]:
    region = RegionCall.from_json(call)
    outputs = launch(region.spec, list(args), device_for(region.options, current_session()), region.options.verify)
    return [t.contiguous() for t in outputs]


@torch.library.register_fake("ember::region", lib=_LIB)
def _region_fake(call: str, args: list[torch.Tensor]) -> list[torch.Tensor]:
    spec = RegionCall.from_json(call).spec
    return [t.clone(memory_format=torch.contiguous_format) for t in ADAPTERS[spec.kind].fake(spec, list(args))]


region_op = torch.ops.ember.region.default


def launch_region(spec, options: EmberOptions, args: list[torch.Tensor]) -> list[torch.Tensor]:
    """Run one region as a compiled graph's call would, without a graph (tests, benchmarks)."""
    return launch(spec, list(args), device_for(options, current_session()), options.verify)

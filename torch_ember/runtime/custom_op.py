"""The torch.library op every region becomes: ``ember::region(str spec, str settings, Tensor[] args)``.

Its fake implementation gives the outputs' shapes from the ATen op's own meta function, so Dynamo and
Inductor trace around a region exactly as they would around the op it replaces. Outputs are contiguous,
fake and real alike: a scatter's result would otherwise follow its destination's layout, which Inductor
may hand the region in another layout than the one the graph was traced with.
"""
from __future__ import annotations

import torch

from ..region_spec import RegionSpec
from .adapters import ADAPTERS
from .launch import launch

_LIB = torch.library.Library("ember", "DEF")
# a launch reads its checks back to the host and runs on the emulator: never inside a captured CUDA graph
_LIB.define("region(str spec, str settings, Tensor[] args) -> Tensor[]",
            tags=(torch.Tag.cudagraph_unsafe,) if hasattr(torch.Tag, "cudagraph_unsafe") else ())


@torch.library.impl(_LIB, "region", "CompositeExplicitAutograd")
def _region(spec: str, settings: str, args: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t.contiguous() for t in launch(spec, settings, list(args))]


@torch.library.register_fake("ember::region", lib=_LIB)
def _region_fake(spec: str, settings: str, args: list[torch.Tensor]) -> list[torch.Tensor]:
    parsed = RegionSpec.from_json(spec)
    return [t.clone(memory_format=torch.contiguous_format) for t in ADAPTERS[parsed.kind].fake(parsed, list(args))]


region_op = torch.ops.ember.region.default

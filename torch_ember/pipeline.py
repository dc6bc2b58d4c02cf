"""The compiler's pipeline: per ``opt_level``, the ordered passes from a region spec to a DAE program.

Level 0 is the correct, unoptimized lowering that every later level must match in results and beat in
modeled time. The optimization passes of levels 1-3 (vectorization, bufferization, queue alignment, ...)
are not written yet: levels 1-3 currently run exactly the level-0 pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dae_emulator.config import DeviceConfig
from dae_emulator.program import DType, Program

from .conversion.dlc_to_dae import bind_resources
from .conversion.fx_to_slc import region_to_slc
from .conversion.slc_to_dlc import decouple
from .ir.dlc import DlcProgram, format_dlc
from .ir.dae import format_dae
from .ir.slc import SlcProgram, format_slc
from .region_spec import RegionSpec

SLC_PASSES: dict[int, list[Callable[[SlcProgram], SlcProgram]]] = {level: [] for level in range(4)}
DLC_PASSES: dict[int, list[Callable[[DlcProgram], DlcProgram]]] = {level: [] for level in range(4)}


@dataclass(frozen=True)
class Compiled:
    """Every stage of one region's lowering, kept so each can be printed."""

    slc: SlcProgram
    dlc: DlcProgram
    dae: Program

    def format(self) -> str:
        return "\n".join([format_slc(self.slc), format_dlc(self.dlc), format_dae(self.dae)])


def compile_region(spec: RegionSpec, dtypes: dict[str, DType], device: DeviceConfig, opt_level: int = 0) -> Compiled:
    slc = region_to_slc(spec, dtypes)           # lookup-compute structure of the ATen op
    for p in SLC_PASSES[opt_level]:
        slc = p(slc)
    dlc = decouple(slc)                         # split into access configuration + execute loop
    for p in DLC_PASSES[opt_level]:
        dlc = p(dlc)
    dae = bind_resources(dlc, device)           # bind traversal units and queues, check device limits
    return Compiled(slc, dlc, dae)

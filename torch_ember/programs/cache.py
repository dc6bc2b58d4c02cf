"""One compilation per region spec, input dtypes and compile settings (device, level, knobs, agent library)."""
from __future__ import annotations

import dataclasses
import functools

import torch
from dae_emulator.config import DeviceConfig
from dae_emulator.program import Program

from ..options import EmberOptions, Knobs
from ..pipeline import Compiled, compile_region
from ..region_spec import RegionSpec
from ..runtime.launch import ProgramDtypes
from .agent import agent_program
from .pieces import program_in_pieces


@functools.lru_cache(maxsize=1024)
def compiled_program(spec: RegionSpec, dtypes: ProgramDtypes, device: DeviceConfig, opt_level: int, knobs: Knobs,
                     agent_library: str | None = None) -> Compiled:
    """The region lowered through every stage; a verified agent program instead where one models faster."""
    compiled = compile_region(spec, dict(dtypes), device, opt_level, knobs)
    if agent_library:
        agent = agent_program(spec, dict(dtypes), compiled.dae, agent_library, device.name)
        if agent is not None:
            return dataclasses.replace(compiled, dae=agent, source="agent")
    return compiled


@dataclasses.dataclass(frozen=True)
class ProgramCache:
    """The runtime's ``ProgramSource`` for regions lowered with ``options``."""

    options: EmberOptions

    def program(self, spec: RegionSpec, dtypes: ProgramDtypes) -> Program:
        return self.compiled(spec, dtypes).dae

    def compiled(self, spec: RegionSpec, dtypes: ProgramDtypes, knobs: Knobs | None = None) -> Compiled:
        o = self.options
        return compiled_program(spec, dtypes, o.device_config, o.opt_level, knobs or o.knobs_for(spec),
                                o.agent_library)

    def in_pieces(self, spec: RegionSpec, dtypes: ProgramDtypes, inputs: dict[str, torch.Tensor],
                  sizes: dict[str, int] | None) -> Program | None:
        knobs = self.options.knobs_for(spec)
        if knobs.buffer_bytes is not None:      # the user chose the pieces
            return None
        compiled = program_in_pieces(lambda knobs: self.compiled(spec, dtypes, knobs), knobs, inputs,
                                     sizes, self.options.device_config)
        return None if compiled is None else compiled.dae

"""Compile each region's DAE programs as the graph is lowered, for the dtypes their inputs will have.

The launch itself runs here, on meta tensors of the arguments' fake values (shapes at their hints, checks
skipped: meta tensors hold no values), on a device that compiles each program the launch asks for and runs
none: the region's own, the prepass a segment backward runs before it, the finishing program a row scatter
with an epilogue runs after it. So the programs' input names and dtypes are exactly those of the real launch,
and each program is compiled into the program cache under that key. A region whose layout cannot be made
from shapes alone (arguments whose shapes only the launch knows, or that the launch will refuse) is compiled
by the cache at its first launch, as are programs split into pieces for rows too wide for the scratchpad.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from dae_emulator import empty_outputs

from ..programs import ProgramCache
from ..region_spec import RegionSpec
from ..runtime.checks import skipped_checks
from ..runtime.dae import Layout, finish
from ..runtime.launch import launch, program_dtypes
from .registry_base import meta
from .state import LoweringState


def _hint(size) -> int:
    return size if isinstance(size, int) else int(size.node.hint)


def _meta_tensor(value) -> torch.Tensor | None:
    if not isinstance(value, torch.Tensor) or value.layout is not torch.strided:
        return None
    if any(getattr(s, "node", None) is not None and s.node.hint is None for s in (*value.shape, *value.stride())):
        return None      # an unbacked size: no hint to lay it out with
    return torch.empty_strided([_hint(s) for s in value.shape], [_hint(s) for s in value.stride()],
                               dtype=value.dtype, device="meta")


@dataclass(frozen=True)
class _CompilingDevice:
    """A ``RegionDevice`` that compiles the program of each region it is given and runs none: its outputs
    are meta tensors shaped as the program's would be."""

    programs: ProgramCache

    def run(self, spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]:
        layout = Layout.of(spec, args)
        program = self.programs.program(layout.spec, program_dtypes(layout.inputs))
        return finish(layout, empty_outputs(program, layout.inputs, sizes=layout.sizes), self, verify=False)


def compile_programs(state: LoweringState) -> LoweringState:
    if state.options.regions != "dae":      # the Triton kernels need no program
        return state
    device = _CompilingDevice(ProgramCache(state.options))
    for m in state.matches:
        args = [_meta_tensor(meta(a)) for a in m.args]
        if any(a is None for a in args):
            continue
        try:
            with skipped_checks():
                launch(m.spec, args, device)
        except Exception:   # noqa: BLE001
            # a layout that needs values, shapes the launch will refuse, a program the device cannot hold:
            # the launch meets it again and raises it where the user's call is, as eager would
            continue
    return state

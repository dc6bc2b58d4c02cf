"""Compile each region's DAE program as the graph is lowered, for the dtypes its inputs will have.

The adapter that will lay the region's arguments out at launch does so here on meta tensors of the
arguments' fake values (shapes at their hints, checks skipped: meta tensors hold no values), which gives
the program's input names and dtypes exactly as the launch will see them; the program is compiled into the
program cache under that key. A region whose layout cannot be made from shapes alone (arguments whose
shapes only the launch knows, or that the launch will refuse) is compiled by the cache at its first launch.
"""
from __future__ import annotations

import torch

from ..programs import ProgramCache
from ..runtime.adapters import ADAPTERS
from ..runtime.checks import skipped_checks
from ..runtime.launch import program_dtypes
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


def compile_programs(state: LoweringState) -> LoweringState:
    if state.options.regions != "dae":      # the Triton kernels need no program
        return state
    cache = ProgramCache(state.options)
    for m in state.matches:
        args = [_meta_tensor(meta(a)) for a in m.args]
        if any(a is None for a in args):
            continue
        try:
            with skipped_checks():
                spec, args = ADAPTERS[m.spec.kind].specialize(m.spec, args)
                inputs = ADAPTERS[spec.kind].program_inputs(spec, args)
            cache.compiled(spec, program_dtypes(inputs))
        except Exception:   # noqa: BLE001
            # a layout that needs values, shapes the launch will refuse, a program the device cannot hold:
            # the launch meets it again and raises it where the user's call is, as eager would
            continue
    return state

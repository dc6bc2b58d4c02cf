"""The compiler's pipeline: per ``opt_level``, the ordered passes from a region spec to a DAE program.

Level 0 is the correct, unoptimized lowering: rows move and are computed one element at a time, every
value a callback reads travels through a queue. Each level adds passes and must give the same results;
the order follows the Ember paper (vectorization, then bufferization, then queue alignment). Level 1 also
rewrites the access streams with what the graph knows about index values (fixed trip counts, sequential
loads); level 3 also fuses the loops of a batched region that share an iteration space.

The DLC level has two passes at level 3: store placement (a read-modify-write row store's read moves to
the access unit as a prefetch of the destination row) and unrolling; and from level 1, when the ``tile``
knob is set, work tiling (the cores take the outer items in tiles, in turn, instead of a block each).
Prefetch depth has no pass: how far the access unit runs ahead is the queues' depth and the request slots,
which the device and the scratchpad set, not a program field.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Callable

from dae_emulator.config import DeviceConfig
from dae_emulator.program import DType, Program

from .conversion.dlc_to_dae import bind_resources
from .conversion.fx_to_slc import region_to_slc
from .conversion.slc_to_dlc import decouple
from .ir.dae import format_dae
from .ir.dlc import DlcProgram, format_dlc
from .ir.slc import SlcProgram, format_slc
from .options import Knobs
from .region_spec import RegionSpec
from .transforms.dlc import prefetch_stores, tile_items, unroll
from .transforms.slc import align_queues, bufferize, fixed_trip_count, fuse_loops, sequential_loads, vectorize

log = logging.getLogger("torch_ember")


def slc_passes(level: int, knobs: Knobs, device: DeviceConfig) -> list[Callable[[SlcProgram], SlcProgram]]:
    passes = []
    if level >= 1:
        passes.append(fixed_trip_count)                                # bags of constant size: dense inner loops
        passes.append(sequential_loads)                                # arange indices: arithmetic, not loads
        passes.append(partial(vectorize, width=knobs.width(device)))   # rows moved and computed in vectors
    if level >= 2:
        passes.append(partial(bufferize, buffer_bytes=knobs.buffer_bytes))   # a row: one entry, or buffered pieces
    if level >= 3:
        passes.append(fuse_loops)                                      # one loop per shared iteration space
        passes.append(align_queues)                                    # induction variables become counters
    return passes


def dlc_passes(level: int, knobs: Knobs) -> list[Callable[[DlcProgram], DlcProgram]]:
    passes = []
    if level >= 3:
        passes.append(prefetch_stores)                                 # destination rows read ahead
        passes.append(partial(unroll, factor=knobs.unroll))            # one dispatch per `unroll` tokens
    if level >= 1 and knobs.tile is not None:
        passes.append(partial(tile_items, items=knobs.tile))           # cores take outer items in tiles
    return passes


def knobs_used(level: int) -> frozenset[str]:
    """The knobs the passes of ``level`` read (the others leave its programs unchanged)."""
    return frozenset(name for name, lowest in (("vector_width", 1), ("tile", 1), ("buffer_bytes", 2), ("unroll", 3))
                     if level >= lowest)


@dataclass(frozen=True)
class Compiled:
    """Every stage of one region's lowering, kept so each can be printed."""

    slc: SlcProgram
    dlc: DlcProgram
    dae: Program
    source: str = "compiler"      # or "agent": a verified dae_agent program that models faster runs instead

    def format(self) -> str:
        return "\n".join([format_slc(self.slc), format_dlc(self.dlc), format_dae(self.dae)])


def compile_region(spec: RegionSpec, dtypes: dict[str, DType], device: DeviceConfig, opt_level: int,
                   knobs: Knobs = Knobs()) -> Compiled:
    """Lower one region; with the ``torch_ember`` logger at DEBUG (``TORCH_EMBER_LOG=debug``), log each IR
    after each stage and pass."""
    region = spec.key
    log.info("compiling region %s (%s) for device %s at opt_level %d", region, spec.kind.value, device.name,
             opt_level)
    slc = region_to_slc(spec, dtypes)           # lookup-compute structure of the ATen op
    _log_ir(region, "SLC", format_slc, slc)
    for p in slc_passes(opt_level, knobs, device):
        slc = p(slc)
        _log_ir(region, f"SLC after {_pass_name(p)}", format_slc, slc)
    dlc = decouple(slc)                         # split into access configuration + execute loop
    _log_ir(region, "DLC", format_dlc, dlc)
    for p in dlc_passes(opt_level, knobs):
        dlc = p(dlc)
        _log_ir(region, f"DLC after {_pass_name(p)}", format_dlc, dlc)
    dae = bind_resources(dlc, device)           # bind traversal units and queues, check device limits
    _log_ir(region, "DAE program", format_dae, dae)
    return Compiled(slc, dlc, dae)


def _log_ir(region: str, stage: str, printer: Callable[[object], str], ir: object) -> None:
    if log.isEnabledFor(logging.DEBUG):     # printing an IR costs more than a disabled log call
        log.debug("region %s, %s:\n%s", region, stage, printer(ir))


def _pass_name(p) -> str:
    return p.func.__name__ if isinstance(p, partial) else p.__name__

"""A row scatter's finishing pass as SLC, for a scatter with a fused epilogue (a ReLU, a scale).

A scatter's output row is final only once every contribution has landed, and nothing on the device orders
one loop nest after another across cores; so the epilogue cannot run as the scatter stores. The launch runs
this second program after the scatter program instead: one dense loop over the destination rows that reads
the destination's old row, the scattered aggregate and (where the combine needs it) the contribution count,
combines them as the ATen op defines (``include_self``, ``alpha``, the mean's division), applies the
epilogue and stores the result. Without an epilogue the combine stays on the host (``combine``).
"""
from __future__ import annotations

from dae_emulator.program import DType, Event, OpKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import Reduction, RegionSpec
from .build import dim, epilogue, load, load_row, op, param

_MERGE = {Reduction.SUM: OpKind.ADD, Reduction.PROD: OpKind.MUL, Reduction.MAX: OpKind.MAX, Reduction.MIN: OpKind.MIN}


def _combine(spec: RegionSpec) -> tuple[list, str]:
    """Instructions combining ``old`` and ``agg`` (and ``n``, the contribution count), and the result's name."""
    if spec.reduce is Reduction.MEAN:
        if spec.include_self:
            return [op(OpKind.ADD, "both", "old", "agg"), op(OpKind.ADD, "n_self", "n", 1.0),
                    op(OpKind.DIV, "combined", "both", "n_self")], "combined"
        return [op(OpKind.MAX, "divisor", "n", 1.0), op(OpKind.DIV, "mean", "agg", "divisor"),
                op(OpKind.GT, "touched", "n", 0.0), op(OpKind.SELECT, "combined", "touched", "mean", "old")], "combined"
    if not spec.include_self:
        return [op(OpKind.GT, "touched", "n", 0.0), op(OpKind.SELECT, "combined", "touched", "agg", "old")], "combined"
    if spec.reduce is Reduction.SUM and spec.alpha != 1.0:
        return [op(OpKind.MUL, "scaled", "agg", spec.alpha), op(OpKind.ADD, "combined", "old", "scaled")], "combined"
    return [op(_MERGE[spec.reduce], "combined", "old", "agg")], "combined"


def build_finish_rows(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    rows, width = dim("num_out"), dim("dim")
    params = [param("old", dtypes["old"], rows, width), param("agg", dtypes["agg"], rows, width)]
    streams = [load_row("old", "old", "o"), load_row("agg", "agg", "o")]
    if spec.needs_count:
        params.append(param("count", dtypes["count"], rows))
        streams.insert(0, load("n", "count", "o"))
    params.append(param("out", dtypes["old"], rows, width, output=True))
    combined, result = _combine(spec)
    fused, result = epilogue(spec, result)
    loop = SlcLoop("o", LoopKind.DENSE, extent=rows, streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, (*combined, *fused,
                                                       op(OpKind.STORE, None, "o", result, target="out"))),))
    return SlcProgram(spec.name, tuple(params), (), loop)

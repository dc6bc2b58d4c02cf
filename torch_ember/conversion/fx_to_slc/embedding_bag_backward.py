"""The backward lookups of an embedding bag as SLC.

Sum and mean: every looked-up row receives its bag's gradient row (times its weight, over the bag size in
mean mode): a scatter-add walked bag by bag, like the forward. Max: each column's gradient goes to the row
that won that column (``max_indices``), skipping bags with no rows. Per-sample weights: each weight's
gradient is the dot product of its bag's gradient row with the row it looked up.
Offsets arrive with the last offset included, as in the forward.
"""
from __future__ import annotations

from dae_emulator.program import AluOp, DType, Event, OpKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import BagMode, RegionSpec
from .build import alu, dim, load, load_row, op, param


def _bag_loop(inner: SlcLoop, extra_streams=()) -> SlcLoop:
    return SlcLoop("b", LoopKind.DENSE, extent=dim("num_offsets", -1),
                   streams=(load("lo", "offsets", "b"), alu("b_next", AluOp.ADD, "b", 1),
                            load("hi", "offsets", "b_next"), load_row("g", "grad", "b"), *extra_streams),
                   inner=inner)


def _row_streams(spec: RegionSpec, *, with_weights: bool):
    streams = [load("r", "indices", "j")]
    if with_weights:
        streams.append(load("w", "weights", "j"))
    if spec.padding_idx >= 0:
        streams.append(alu("keep", AluOp.NE, "r", spec.padding_idx))
    return streams, ("keep" if spec.padding_idx >= 0 else None)


def build_bag_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    grad_t = dtypes["grad"]
    params = [param("grad", grad_t, dim("num_offsets", -1), dim("dim")),
              param("indices", dtypes["indices"], dim("num_indices")),
              param("offsets", dtypes["offsets"], dim("num_offsets"))]
    if spec.has_weights:
        params.append(param("weights", dtypes["weights"], dim("num_indices")))
    bag_streams = []
    if spec.mode is BagMode.MEAN:
        params.append(param("bag_size", dtypes["bag_size"], dim("num_offsets", -1)))
        bag_streams.append(load("size", "bag_size", "b"))
    params.append(param("grad_weight", grad_t, dim(None, spec.num_weights), dim("dim"), output=True))
    streams, keep = _row_streams(spec, with_weights=spec.has_weights)
    body, value = [], "g"
    if spec.has_weights:
        body.append(op(OpKind.MUL, "weighted", value, "w"))
        value = "weighted"
    if spec.mode is BagMode.MEAN:
        body += [op(OpKind.CAST, "size_f", "size", dtype=DType.F32), op(OpKind.DIV, "scaled", value, "size_f")]
        value = "scaled"
    body.append(op(OpKind.STORE_ADD, None, "r", value, target="grad_weight"))
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, tuple(body), keep),))
    return SlcProgram(spec.name, tuple(params), (), _bag_loop(rows, bag_streams))


def build_bag_max_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """Columns walked per bag; ``grad`` and ``max_indices`` arrive flattened to ``[num_bags * dim]``."""
    params = (param("grad", dtypes["grad"], dim("num_elements")),
              param("max_indices", dtypes["max_indices"], dim("num_elements")),
              param("bag_size", dtypes["bag_size"], dim("num_bags")),
              param("grad_weight", dtypes["grad"], dim(None, spec.num_weights), dim(None, spec.dim), output=True))
    columns = SlcLoop("c", LoopKind.DENSE, extent=dim(None, spec.dim),
                      streams=(alu("k", AluOp.ADD, "row_start", "c"), load("winner", "max_indices", "k"),
                               load("g", "grad", "k")),
                      callbacks=(SlcCallback(Event.ITER, (op(OpKind.STORE_ADD, None, "winner", "c", "g",
                                                             target="grad_weight"),), "nonempty"),))
    bags = SlcLoop("b", LoopKind.DENSE, extent=dim("num_bags"),
                   streams=(load("size", "bag_size", "b"), alu("nonempty", AluOp.NE, "size", 0),
                            alu("row_start", AluOp.MUL, "b", spec.dim)),
                   inner=columns)
    return SlcProgram(spec.name, params, (), bags)


def build_bag_weights_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    grad_t = dtypes["grad"]
    params = (param("grad", grad_t, dim("num_offsets", -1), dim("dim")),
              param("table", dtypes["table"], dim("num_rows"), dim("dim")),
              param("indices", dtypes["indices"], dim("num_indices")),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("grad_weights", grad_t, dim("num_indices"), output=True))
    streams, keep = _row_streams(spec, with_weights=False)
    streams.append(load_row("row", "table", "r"))
    body = (op(OpKind.DOT, "d", "g", "row"), op(OpKind.STORE, None, "j", "d", target="grad_weights"))
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, body, keep),))
    return SlcProgram(spec.name, params, (), _bag_loop(rows))

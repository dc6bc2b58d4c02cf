"""``aten._embedding_bag`` (and ``_embedding_bag_forward_only``) as SLC: a dense loop over bags, a range
loop over each bag's indices, a callback per looked-up row and one at each bag's end.

Parameters: ``table[num_rows, dim]``, ``indices[num_indices]``, ``offsets[num_offsets]`` with the last
offset included (the launch appends it when the user's offsets leave it out), optional
``weights[num_indices]``. Outputs: ``out[num_offsets - 1, dim]``; in mean and max mode also
``bag_size`` (rows that are not padding); in max mode ``max_indices`` (the row that gave each column's max,
0 for a bag with no rows, as PyTorch's CPU kernel reports).
"""
from __future__ import annotations

from dae_emulator.program import Accumulator, AluOp, DType, Event, OpKind, ReduceKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import BagMode, RegionSpec
from .build import accumulate_dtype, alu, dim, epilogue, load, load_row, op, param


def build_embedding_bag(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    value_t, acc_t = dtypes["table"], accumulate_dtype(dtypes["table"])
    bags, width = dim("num_offsets", -1), dim("dim")
    params = [
        param("table", value_t, dim("num_rows"), width),
        param("indices", dtypes["indices"], dim("num_indices")),
        param("offsets", dtypes["offsets"], dim("num_offsets")),
    ]
    if spec.has_weights:
        params.append(param("weights", dtypes["weights"], dim("num_indices")))
    params.append(param("out", value_t, bags, width, output=True))
    counts = spec.mode in (BagMode.MEAN, BagMode.MAX)
    if counts:
        params.append(param("bag_size", DType.I64, bags, output=True))
    if spec.mode is BagMode.MAX:
        params.append(param("max_indices", DType.I64, bags, width, output=True))

    accs = []
    row_body, end_body = [], []
    contribution = "row"
    if spec.has_weights:
        row, w = "row", "w"
        if value_t != acc_t:        # PyTorch's kernel multiplies half-precision rows in fp32
            row_body += [op(OpKind.CAST, "row_wide", "row", dtype=acc_t), op(OpKind.CAST, "w_wide", "w", dtype=acc_t)]
            row, w = "row_wide", "w_wide"
        row_body.append(op(OpKind.MUL, "weighted", row, w))
        contribution = "weighted"
    if spec.mode is BagMode.MAX:
        accs.append(Accumulator("acc", ReduceKind.MAX, acc_t, width, float("-inf"), tracks_arg=True, arg_init=0))
        row_body.append(op(OpKind.UPDATE, None, contribution, "r", target="acc"))
    else:
        accs.append(Accumulator("acc", ReduceKind.SUM, acc_t, width))
        row_body.append(op(OpKind.UPDATE, None, contribution, target="acc"))
    end_body.append(op(OpKind.READ, "total", target="acc"))
    if counts:
        accs.append(Accumulator("count", ReduceKind.SUM, DType.F32))
        row_body.append(op(OpKind.UPDATE, None, 1.0, target="count"))
        end_body.append(op(OpKind.READ, "n", target="count"))
    if spec.mode is BagMode.SUM:
        result = "total"
    elif spec.mode is BagMode.MEAN:
        end_body += [op(OpKind.MAX, "divisor", "n", 1.0), op(OpKind.DIV, "mean", "total", "divisor")]
        result = "mean"
    else:
        end_body += [op(OpKind.READ_ARG, "argmax", target="acc"), op(OpKind.GT, "nonempty", "n", 0.0),
                     op(OpKind.SELECT, "maximum", "nonempty", "total", 0.0)]
        result = "maximum"
    fused, result = epilogue(spec, result)
    end_body += fused
    end_body.append(op(OpKind.STORE, None, "b", result, target="out"))
    if counts:
        end_body.append(op(OpKind.STORE, None, "b", "n", target="bag_size"))
    if spec.mode is BagMode.MAX:
        end_body.append(op(OpKind.STORE, None, "b", "argmax", target="max_indices"))
    end_body += [op(OpKind.RESET, None, target=a.name) for a in accs]

    row_streams = [load("r", "indices", "j")]
    if spec.has_weights:
        row_streams.append(load("w", "weights", "j"))
    row_streams.append(load_row("row", "table", "r"))
    keep = None
    if spec.padding_idx >= 0:
        row_streams.append(alu("keep", AluOp.NE, "r", spec.padding_idx))
        keep = "keep"
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=tuple(row_streams),
                   callbacks=(SlcCallback(Event.ITER, tuple(row_body), keep),))
    bag_loop = SlcLoop("b", LoopKind.DENSE, extent=bags,
                       streams=(load("lo", "offsets", "b"), alu("b_next", AluOp.ADD, "b", 1),
                                load("hi", "offsets", "b_next")),
                       callbacks=(SlcCallback(Event.END, tuple(end_body)),), inner=rows)
    return SlcProgram(spec.name, tuple(params), tuple(accs), bag_loop)

"""``aten.segment_reduce`` along dimension 0 as SLC: a dense loop over segments, a range loop over each
segment's rows, which are read in order by the induction variable itself (no index stream: a sequential
row load). Empty segments give the reduction's identity, as PyTorch does without ``initial``: 0 for sum,
1 for prod, -inf for max, +inf for min, and 0/0 = nan for mean. A fused epilogue (ReLU, scaling) applies
as each segment's result is stored: a segment is complete at its END event, unlike a scatter's rows."""
from __future__ import annotations

from dae_emulator.program import Accumulator, AluOp, DType, Event, OpKind, ReduceKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import RegionSpec
from .build import accumulate_dtype, alu, dim, epilogue, load, load_row, op, param

_REDUCE = {"sum": ReduceKind.SUM, "mean": ReduceKind.SUM, "max": ReduceKind.MAX, "min": ReduceKind.MIN,
           "prod": ReduceKind.PROD}
_IDENTITY = {"sum": 0.0, "mean": 0.0, "max": float("-inf"), "min": float("inf"), "prod": 1.0}


def build_segment_reduce(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    value_t = dtypes["data"]
    segments, width = dim("num_offsets", -1), dim("dim")
    params = (param("data", value_t, dim("num_rows"), width),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("out", value_t, segments, width, output=True))
    accs = [Accumulator("acc", _REDUCE[spec.reduce], accumulate_dtype(value_t), width, _IDENTITY[spec.reduce])]
    row_body = [op(OpKind.UPDATE, None, "row", target="acc")]
    end_body = [op(OpKind.READ, "total", target="acc")]
    result = "total"
    if spec.reduce == "mean":
        accs.append(Accumulator("count", ReduceKind.SUM, DType.F32))
        row_body.append(op(OpKind.UPDATE, None, 1.0, target="count"))
        end_body += [op(OpKind.READ, "n", target="count"), op(OpKind.DIV, "mean", "total", "n")]
        result = "mean"
    fused, result = epilogue(spec, result)
    end_body += fused
    end_body.append(op(OpKind.STORE, None, "s", result, target="out"))
    end_body += [op(OpKind.RESET, None, target=a.name) for a in accs]
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=(load_row("row", "data", "j"),),
                   callbacks=(SlcCallback(Event.ITER, tuple(row_body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=segments,
                   streams=(load("lo", "offsets", "s"), alu("s_next", AluOp.ADD, "s", 1),
                            load("hi", "offsets", "s_next")),
                   callbacks=(SlcCallback(Event.END, tuple(end_body)),), inner=rows)
    return SlcProgram(spec.name, params, tuple(accs), loop)

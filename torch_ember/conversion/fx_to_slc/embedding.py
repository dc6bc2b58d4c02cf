"""``aten.embedding`` (a gather of rows) and ``aten.embedding_dense_backward`` (a scatter-add of gradient
rows) as SLC: one dense loop over the (flattened) indices."""
from __future__ import annotations

from dae_emulator.program import AluOp, DType, Event, OpKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import RegionSpec
from .build import alu, dim, epilogue, load, load_row, op, param


def build_embedding(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    params = (param("table", dtypes["table"], dim("num_rows"), dim("dim")),
              param("indices", dtypes["indices"], dim("num_indices")),
              param("out", dtypes["table"], dim("num_indices"), dim("dim"), output=True))
    fused, result = epilogue(spec, "row")
    loop = SlcLoop("i", LoopKind.DENSE, extent=dim("num_indices"),
                   streams=(load("r", "indices", "i"), load_row("row", "table", "r")),
                   callbacks=(SlcCallback(Event.ITER, (*fused, op(OpKind.STORE, None, "i", result, target="out"))),))
    return SlcProgram(spec.name, params, (), loop)


def build_embedding_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    params = (param("grad", dtypes["grad"], dim("num_indices"), dim("dim")),
              param("indices", dtypes["indices"], dim("num_indices")),
              param("grad_weight", dtypes["grad"], dim(None, spec.num_weights), dim("dim"), output=True))
    streams = [load("r", "indices", "i"), load_row("g", "grad", "i")]
    keep = None
    if spec.padding_idx >= 0:
        streams.append(alu("keep", AluOp.NE, "r", spec.padding_idx))
        keep = "keep"
    loop = SlcLoop("i", LoopKind.DENSE, extent=dim("num_indices"), streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, (op(OpKind.STORE_ADD, None, "r", "g", target="grad_weight"),),
                                          keep),))
    return SlcProgram(spec.name, params, (), loop)

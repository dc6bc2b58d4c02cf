"""Gathers and scatters as SLC (row gathers, ``index_select`` and ``x[index]``, are ``aten.embedding``'s
program, see ``embedding``): row scatters (``index_add``,
``index_put(accumulate=True)``, ``index_reduce``, row-broadcast ``scatter_add`` / ``scatter_reduce``),
message passing (a row gather, optional per-edge scaling, a row scatter, fused into one loop), and
element gathers and scatters along any dimension (``gather``, ``scatter_add``, ``scatter_reduce``).

A scatter region computes only the scattered aggregate, starting from its reduction's identity, plus a
per-destination contribution count where the combine needs one; combining with the destination's old
value (``include_self``, ``alpha``, mean division) is elementwise work the launch does after the region.
Element gathers and scatters see their tensors flattened: position ``p`` of the index tensor, viewed as
``[outer, k, inner]`` around the indexed dimension, addresses ``(p // (k*inner) * n + index[p]) * inner
+ p % inner`` of the data viewed as ``[outer, n, inner]``; ``k_inner``, ``n_inner`` and ``inner`` are
size symbols bound at launch.
"""
from __future__ import annotations

from dae_emulator.program import AluOp, DType, Event, OpKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import Reduction, RegionSpec
from .build import alu, dim, load, load_row, op, param

# the read-modify-write store that scatters a value under each reduction
_STORE_FOR = {Reduction.SUM: OpKind.STORE_ADD, Reduction.MEAN: OpKind.STORE_ADD, Reduction.PROD: OpKind.STORE_MUL,
              Reduction.MAX: OpKind.STORE_MAX, Reduction.MIN: OpKind.STORE_MIN}


def _scatter_body(spec: RegionSpec, target_index: tuple[str, ...], value: str, scale: str | None):
    body = []
    if scale is not None:
        body.append(op(OpKind.MUL, "scaled", value, scale))
        value = "scaled"
    body.append(op(_STORE_FOR[spec.reduce], None, *target_index, value, target="out"))
    if spec.needs_count:
        body.append(op(OpKind.STORE_ADD, None, *target_index, 1.0, target="count"))
    return tuple(body)


def _scatter_outputs(spec: RegionSpec, dtype: DType, *shape):
    outs = [param("out", dtype, *shape, output=True, init=spec.reduce.identity)]
    if spec.needs_count:
        outs.append(param("count", DType.F32, shape[0], output=True))
    return outs


def _optional_weights(dtypes, params: list, streams: list, count: str, var: str) -> str | None:
    """With a ``weights`` input (one per row scattered), its parameter and stream; the stream's name."""
    if "weights" not in dtypes:
        return None
    params.append(param("weights", dtypes["weights"], dim(count)))
    streams.append(load("w", "weights", var))
    return "w"


def build_scatter_rows(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """``out[index[i]] (op)= src[i] (* weights[i])``; ``num_out`` is bound at launch."""
    params = [param("src", dtypes["src"], dim("num_src"), dim("dim")),
              param("indices", dtypes["indices"], dim("num_src"))]
    streams = [load("r", "indices", "i"), load_row("row", "src", "i")]
    scale = _optional_weights(dtypes, params, streams, "num_src", "i")
    params += _scatter_outputs(spec, dtypes["src"], dim("num_out"), dim("dim"))
    loop = SlcLoop("i", LoopKind.DENSE, extent=dim("num_src"), streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, _scatter_body(spec, ("r",), "row", scale)),))
    return SlcProgram(spec.name, tuple(params), (), loop)


def build_gather_scatter(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """Message passing: ``out[dst[e]] (op)= x[src[e]] (* weights[e])`` in one pass over the edges."""
    params = [param("table", dtypes["table"], dim("num_rows"), dim("dim")),
              param("src", dtypes["src"], dim("num_edges")),
              param("dst", dtypes["dst"], dim("num_edges"))]
    streams = [load("s", "src", "e"), load("d", "dst", "e"), load_row("row", "table", "s")]
    scale = _optional_weights(dtypes, params, streams, "num_edges", "e")
    params += _scatter_outputs(spec, dtypes["table"], dim("num_out"), dim("dim"))
    loop = SlcLoop("e", LoopKind.DENSE, extent=dim("num_edges"), streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, _scatter_body(spec, ("d",), "row", scale)),))
    return SlcProgram(spec.name, tuple(params), (), loop)


def _element_address(data_index: str) -> list:
    return [load("k", "index", "p"), alu("outer", AluOp.DIV, "p", "$k_inner"), alu("inner_pos", AluOp.MOD, "p", "$inner"),
            alu("outer_base", AluOp.MUL, "outer", "$n_inner"), alu("k_base", AluOp.MUL, "k", "$inner"),
            alu("partial", AluOp.ADD, "outer_base", "k_base"), alu(data_index, AluOp.ADD, "partial", "inner_pos")]


def build_gather_elements(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    params = (param("data", dtypes["data"], dim("numel_data")),
              param("index", dtypes["index"], dim("numel_index")),
              param("out", dtypes["data"], dim("numel_index"), output=True))
    streams = _element_address("at") + [load("v", "data", "at")]
    loop = SlcLoop("p", LoopKind.DENSE, extent=dim("numel_index"), streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, (op(OpKind.STORE, None, "p", "v", target="out"),)),))
    return SlcProgram(spec.name, params, (), loop)


def build_scatter_elements(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    params = [param("src", dtypes["src"], dim("numel_index")),
              param("index", dtypes["index"], dim("numel_index"))]
    params += _scatter_outputs(spec, dtypes["src"], dim("numel_out"))
    streams = _element_address("at") + [load("v", "src", "p")]
    loop = SlcLoop("p", LoopKind.DENSE, extent=dim("numel_index"), streams=tuple(streams),
                   callbacks=(SlcCallback(Event.ITER, _scatter_body(spec, ("at",), "v", None)),))
    return SlcProgram(spec.name, tuple(params), (), loop)

"""Registry entries for gathers and scatters (``index_select``, ``x[index]``, ``gather``, ``index_add``,
``index_put(accumulate=True)``, ``index_reduce``, ``scatter_add``, ``scatter_reduce``). Row scatters
written as broadcast ``scatter_*`` arrive here already rewritten by ``canonicalize``."""
from __future__ import annotations

import torch

from ..region_spec import Reduction, RegionKind, RegionSpec, SegmentBounds, SourceOp
from .registry_base import Lowering, meta, tensor_checks

aten = torch.ops.aten
_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _with_rows(check):
    """``check``, after refusing 0-d data (nothing to look up; PyTorch runs it)."""
    def checked(kw):
        data = meta(kw["self"])
        if data is not None and data.dim() == 0:
            return "0-d data has no rows to look up; left to PyTorch"
        return check(kw)
    return checked


def _axis(kw: dict, key: str = "dim") -> int:
    data = meta(kw["self"])
    return kw[key] % max(data.dim(), 1)


def _index_checks(kw: dict, index_key: str = "index", *, integers: bool = False) -> str | None:
    index = meta(kw[index_key])
    if index is None:
        return "the index's shape is unknown at compile time"
    if index.dtype not in (torch.int32, torch.int64):
        return f"index dtype {index.dtype}: only integer indices are lowered"
    return tensor_checks(meta(kw["self"]), integers=integers)


# ---- index_select / x[index]: row gathers ---------------------------------------------------------------
def _index_select_check(kw):
    index = meta(kw["index"])
    if index is not None and index.dim() > 1:
        return "index_select needs an index of at most one dimension (PyTorch raises IndexError)"
    if _axis(kw) != 0:
        return "index_select along a dimension other than 0 is not lowered"
    return _index_checks(kw, integers=True)


def _index_tensor_check(kw):
    indices = kw["indices"]
    if len(indices) != 1 or indices[0] is None:
        return "indexing with more than one index tensor is not lowered"
    index = meta(indices[0])
    if index is not None and index.dtype == torch.bool:
        return "boolean-mask indexing has a data-dependent shape; not lowered"
    return _index_checks({"self": kw["self"], "index": indices[0]}, integers=True)


def _gather_rows(op: SourceOp):
    return lambda kw, table: RegionSpec(RegionKind.GATHER_ROWS, table, op=op)


# ---- row scatters ----------------------------------------------------------------------------------------
def _row_scatter_check(kw, index_key="index", src_key="source"):
    if _axis(kw) != 0:
        return "scatters along a dimension other than 0 are not lowered"
    src = meta(kw[src_key])
    if src is None or src.dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        return "only floating-point sources are lowered"
    return _index_checks(kw, index_key)


def _index_scatter_check(kw):
    """``index_add`` / ``index_reduce``: a row scatter whose source is one row of the destination per index,
    as PyTorch requires (else PyTorch raises, so the op is left to it)."""
    reason = _row_scatter_check(kw)
    if reason is not None:
        return reason
    data, index, source = meta(kw["self"]), meta(kw["index"]), meta(kw["source"])
    if (index.dim() > 1 or source.dim() != data.dim() or source.shape[0] != index.numel()
            or tuple(source.shape[1:]) != tuple(data.shape[1:])):
        return (f"a source of shape {tuple(source.shape)} is not one row of the destination "
                f"{tuple(data.shape)} per index ({index.numel()}); left to PyTorch, which raises")
    return None


def _index_put_check(kw):
    indices = kw["indices"]
    if not kw["accumulate"]:
        return "index_put without accumulate overwrites in an unspecified order; not lowered"
    if len(indices) != 1 or indices[0] is None:
        return "index_put with more than one index tensor is not lowered"
    index, values, data = meta(indices[0]), meta(kw["values"]), meta(kw["self"])
    if index is None or values is None or tuple(values.shape) != tuple(index.shape) + tuple(data.shape[1:]):
        return "index_put whose values do not have the index's shape times a row is not lowered"
    return _row_scatter_check({**kw, "dim": 0, "index": indices[0], "source": kw["values"]})


def _scatter_check(kw):
    if kw.get("reduce", "sum") not in _REDUCES:
        return f"reduce={kw['reduce']!r} is not lowered"
    src, index, data = meta(kw["src"]), meta(kw["index"]), meta(kw["self"])
    if src is None or index is None or data is None:
        return "shapes unknown at compile time"
    if tuple(src.shape) != tuple(index.shape):
        return "scatter whose source is larger than its index is not lowered"
    if any(index.shape[d] != data.shape[d] for d in range(data.dim()) if d != _axis(kw)):
        return "scatter whose index is smaller than the destination off the scattered dimension is not lowered"
    return _index_checks(kw)


def _scatter_spec(op: SourceOp):
    return lambda kw, table: RegionSpec(RegionKind.SCATTER_ELEMENTS, table, reduce=Reduction.parse(kw.get("reduce", "sum")),
                                        include_self=kw.get("include_self", True), axis=_axis(kw), op=op)


def _scatter_args(kw):
    return [kw["self"], kw["index"], kw["src"]]


def _gather_check(kw):
    index, data = meta(kw["index"]), meta(kw["self"])
    if index is None or data is None or index.dim() != data.dim():
        return "gather with an index of another rank is not lowered"
    if any(index.shape[d] != data.shape[d] for d in range(data.dim()) if d != _axis(kw)):
        return "gather whose index is smaller than the data off the gathered dimension is not lowered"
    return _index_checks(kw, integers=True)


def _segment_bounds(kw):
    """The segment lengths or offsets, whichever the call passes."""
    return kw["lengths"] if kw["lengths"] is not None else kw["offsets"]


def _segment_spec(kind: RegionKind):
    return lambda kw, table: RegionSpec(kind, table, reduce=Reduction.parse(kw["reduce"]),
                                        bounds=SegmentBounds.LENGTHS if kw["lengths"] is not None else SegmentBounds.OFFSETS,
                                        initial=None if kw["initial"] is None else float(kw["initial"]),
                                        unsafe=bool(kw.get("unsafe", False)))


def _segment_check(kw):
    if kw["reduce"] not in ("sum", "mean", "max", "min", "prod"):
        return f"segment_reduce with reduce={kw['reduce']!r} is not lowered"
    if kw["axis"] != 0 or kw["indices"] is not None:
        return "segment_reduce is lowered along axis 0 without indices"
    if kw["initial"] is not None and not isinstance(kw["initial"], (int, float)):
        return "segment_reduce's initial is symbolic (it changes between calls); a region needs it fixed"
    if (kw["lengths"] is None) == (kw["offsets"] is None):
        return "segment_reduce needs exactly one of lengths and offsets to be lowered"
    bounds = meta(_segment_bounds(kw))
    if bounds is None or bounds.dim() != 1:
        return "segment_reduce is lowered with 1-D lengths or offsets"
    return tensor_checks(meta(kw["data"]))


def _segment_backward_check(kw):
    return _segment_check({**kw, "indices": None}) or tensor_checks(meta(kw["grad"]))


INDEX_LOWERINGS: dict = {
    aten.index_select.default: Lowering(_with_rows(_index_select_check), _gather_rows(SourceOp.INDEX_SELECT),
                                        lambda kw: [kw["self"], kw["index"]], "self"),
    aten.index.Tensor: Lowering(_with_rows(_index_tensor_check), _gather_rows(SourceOp.INDEX),
                                lambda kw: [kw["self"], kw["indices"][0]], "self"),
    aten.index_add.default: Lowering(
        _with_rows(_index_scatter_check),
        lambda kw, table: RegionSpec(RegionKind.SCATTER_ROWS, table, alpha=float(kw["alpha"]), op=SourceOp.INDEX_ADD),
        lambda kw: [kw["self"], kw["index"], kw["source"]], "self"),
    aten.index_put.default: Lowering(
        _with_rows(_index_put_check), lambda kw, table: RegionSpec(RegionKind.SCATTER_ROWS, table, op=SourceOp.INDEX_PUT),
        lambda kw: [kw["self"], kw["indices"][0], kw["values"]], "self"),
    aten.index_reduce.default: Lowering(
        _with_rows(lambda kw: (f"reduce={kw['reduce']!r} is not lowered" if kw["reduce"] not in _REDUCES
                               else _index_scatter_check(kw))),
        lambda kw, table: RegionSpec(RegionKind.SCATTER_ROWS, table, reduce=Reduction.parse(kw["reduce"]),
                                     include_self=kw["include_self"], op=SourceOp.INDEX_REDUCE),
        lambda kw: [kw["self"], kw["index"], kw["source"]], "self"),
    aten.scatter_add.default: Lowering(_with_rows(_scatter_check), _scatter_spec(SourceOp.SCATTER_ADD), _scatter_args,
                                       "self"),
    aten.scatter_reduce.two: Lowering(_with_rows(_scatter_check), _scatter_spec(SourceOp.SCATTER_REDUCE), _scatter_args,
                                      "self"),
    aten.segment_reduce.default: Lowering(
        _segment_check, _segment_spec(RegionKind.SEGMENT_REDUCE), lambda kw: [kw["data"], _segment_bounds(kw)], "data"),
    aten._segment_reduce_backward.default: Lowering(
        _segment_backward_check, _segment_spec(RegionKind.SEGMENT_REDUCE_BACKWARD),
        lambda kw: [kw["grad"], kw["output"], kw["data"], _segment_bounds(kw)], "data"),
    aten.gather.default: Lowering(
        _with_rows(_gather_check),
        lambda kw, table: RegionSpec(RegionKind.GATHER_ELEMENTS, table, axis=_axis(kw), op=SourceOp.GATHER),
        lambda kw: [kw["self"], kw["index"]], "self"),
}

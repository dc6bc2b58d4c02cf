"""Canonicalize: one form per lookup, so matching reads one form whatever way the model wrote it.

A scatter or gather along dimension 0 whose index is a column broadcast over the row
(``idx.view(-1, 1).expand_as(src)``, how PyTorch Geometric and many MoE layers write row scatters, and how
autograd writes their backward gathers) becomes the row operation it is: ``scatter_add`` -> ``index_add``,
``scatter_reduce`` -> ``index_reduce`` (``sum`` without the destination has no ``index_reduce`` form, so
that one stays as written), ``gather`` -> ``index_select``, when the index covers every column (and, for a
scatter, the source has the index's shape: a scatter reads its source only where the index is).

``take_along_dim(x, index, dim)``, which torch.export keeps, becomes the ``gather`` it is.

``take(x, index)`` reads ``x`` as one flat row of elements: it becomes ``x.reshape(-1)[index]``, a gather of
a one-element-wide table (negative indices count from the end, as ``x[index]``'s do). ``put(x, index,
source, accumulate=True)``, its gradient's form, becomes the flat ``index_put(accumulate=True)``.

``x.new_zeros(size)`` / ``new_ones`` / ``new_empty`` become ``zeros(size)`` / ``ones`` / ``empty`` with
``x``'s dtype and device: they read only ``x``'s metadata, and as users of ``x`` they would keep a gathered
tensor alive that fusion could otherwise fold away (PyTorch Geometric allocates its scatter destination
and its mean's counts this way).
"""
from __future__ import annotations

import torch
import torch.fx

from ..region_spec import SourceOp
from .registry_base import WRITTEN_AS, meta, node_kwargs
from .state import LoweringState

aten = torch.ops.aten


def row_broadcast_source(index) -> torch.fx.Node | None:
    """The 1-D tensor behind ``idx.view(-1, 1).expand(...)``, or None."""
    if not isinstance(index, torch.fx.Node) or index.target is not aten.expand.default:
        return None
    column = index.args[0]
    if not isinstance(column, torch.fx.Node) or column.target not in (aten.view.default, aten.unsqueeze.default,
                                                                        aten.reshape.default):
        return None
    source, shaped = column.args[0], meta(column)
    if meta(source) is None or meta(source).dim() != 1 or shaped is None or any(s != 1 for s in shaped.shape[1:]):
        return None
    return source


def _row_scatter(node: torch.fx.Node):
    """(target, args) of the row scatter ``node`` is, or None."""
    kw = node_kwargs(node)
    source = row_broadcast_source(kw["index"])
    data = meta(kw["self"])
    if source is None or data is None or kw["dim"] % data.dim() != 0:
        return None
    if tuple(meta(kw["index"]).shape[1:]) != tuple(data.shape[1:]):
        return None           # the index covers part of a row: not a row operation
    if node.target is aten.gather.default:
        return aten.index_select.default, (kw["self"], 0, source)
    if meta(kw["src"]) is None or tuple(meta(kw["src"]).shape) != tuple(meta(kw["index"]).shape):
        return None           # a scatter reads its source only where the index is: not a row's source
    if node.target is aten.scatter_add.default:
        return aten.index_add.default, (kw["self"], 0, source, kw["src"])
    if kw["reduce"] == "sum" and kw["include_self"]:
        return aten.index_add.default, (kw["self"], 0, source, kw["src"])
    if kw["reduce"] in ("prod", "mean", "amax", "amin"):
        return aten.index_reduce.default, (kw["self"], 0, source, kw["src"], kw["reduce"], kw["include_self"])
    return None


_WRITTEN_AS = {aten.gather.default: SourceOp.GATHER, aten.scatter_add.default: SourceOp.SCATTER_ADD,
               aten.scatter_reduce.two: SourceOp.SCATTER_REDUCE, aten.take_along_dim.default: SourceOp.GATHER}
_FROM_METADATA = {aten.new_zeros.default: aten.zeros.default, aten.new_ones.default: aten.ones.default,
                  aten.new_empty.default: aten.empty.memory_format}


def _fill_from_metadata(node: torch.fx.Node):
    kw = node_kwargs(node)
    like = meta(kw["self"])
    if like is None or any(kw.get(k) is not None for k in ("dtype", "layout", "device")) or kw.get("pin_memory"):
        return None
    return _FROM_METADATA[node.target], (kw["size"],), {"dtype": like.dtype, "device": like.device}


def _traced(graph: torch.fx.Graph, target, args: tuple) -> torch.fx.Node:
    """A new node calling ``target``, its fake value computed from its arguments' (for the matcher)."""
    node = graph.call_function(target, args)
    node.meta["val"] = target(*torch.fx.node.map_arg(args, meta))
    return node


def _flat_access(graph: torch.fx.Graph, node: torch.fx.Node) -> torch.fx.Node | None:
    """``take`` as a gather, ``put(accumulate=True)`` as a scatter, over the data's flat elements."""
    kw = node_kwargs(node)
    if any(meta(kw[k]) is None for k in ("self", "index")):
        return None
    flat = _traced(graph, aten.reshape.default, (kw["self"], [-1]))
    index = _traced(graph, aten.reshape.default, (kw["index"], [-1]))
    if node.target is aten.take.default:
        gathered = _traced(graph, aten.index.Tensor, (flat, [index]))
        return _traced(graph, aten.reshape.default, (gathered, list(meta(kw["index"]).shape)))
    if not kw["accumulate"] or meta(kw["source"]) is None:
        return None
    source = _traced(graph, aten.reshape.default, (kw["source"], [-1]))
    scattered = _traced(graph, aten.index_put.default, (flat, [index], source, True))
    return _traced(graph, aten.reshape.default, (scattered, list(meta(kw["self"]).shape)))


def _along_dim(graph: torch.fx.Graph, node: torch.fx.Node) -> torch.fx.Node | None:
    """``take_along_dim`` (torch.export keeps it; AOTAutograd decomposes it) as the ``gather`` it is: the data
    and the index broadcast to each other but along ``dim``; with no ``dim``, over the flat elements."""
    kw = node_kwargs(node)
    data, index = meta(kw["self"]), meta(kw["indices"])
    if data is None or index is None:
        return None
    if kw["dim"] is None:
        flat = _traced(graph, aten.reshape.default, (kw["self"], [-1]))
        flat_index = _traced(graph, aten.reshape.default, (kw["indices"], [-1]))
        return _traced(graph, aten.gather.default, (flat, 0, flat_index))
    if data.dim() != index.dim() or data.dim() == 0:
        return None           # eager refuses it: left as written, its error is eager's
    dim = kw["dim"] % data.dim()
    try:
        common = list(torch.broadcast_shapes(*(t.shape[:dim] + (1,) + t.shape[dim + 1:] for t in (data, index))))
    except RuntimeError:
        return None

    def spread(arg, t):
        shape = common[:dim] + [t.shape[dim]] + common[dim + 1:]
        return arg if list(t.shape) == shape else _traced(graph, aten.expand.default, (arg, shape))
    return _traced(graph, aten.gather.default, (spread(kw["self"], data), dim, spread(kw["indices"], index)))


_ELEMENT_ACCESS = {aten.take.default: _flat_access, aten.put.default: _flat_access,
                   aten.take_along_dim.default: _along_dim}


def canonicalize(state: LoweringState) -> LoweringState:
    gm = state.gm
    graph = gm.graph
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target in _ELEMENT_ACCESS:
            with graph.inserting_before(node):
                new = _ELEMENT_ACCESS[node.target](graph, node)
            if new is not None:
                if node.target in _WRITTEN_AS:
                    new.meta[WRITTEN_AS] = _WRITTEN_AS[node.target]
                node.replace_all_uses_with(new)
                graph.erase_node(node)
            continue
        if node.op == "call_function" and node.target in _FROM_METADATA:
            rewrite = _fill_from_metadata(node)
            if rewrite is not None:
                with graph.inserting_before(node):
                    new = graph.call_function(rewrite[0], rewrite[1], rewrite[2])
                new.meta.update(node.meta)
                node.replace_all_uses_with(new)
                graph.erase_node(node)
            continue
        if node.op != "call_function" or node.target not in (aten.scatter_add.default, aten.scatter_reduce.two,
                                                              aten.gather.default):
            continue
        rewrite = _row_scatter(node)
        if rewrite is None:
            continue
        with graph.inserting_before(node):
            new = graph.call_function(*rewrite)
        new.meta.update(node.meta)
        new.meta[WRITTEN_AS] = _WRITTEN_AS[node.target]     # raise the errors of the op as written
        node.replace_all_uses_with(new)
        graph.erase_node(node)
    graph.eliminate_dead_code()
    gm.recompile()
    return state

"""Sparse @ dense as the lookups it is. A sparse matrix times a dense one reads, for every stored entry
``(r, c, v)``, row ``c`` of the dense matrix, scaled by ``v``, into output row ``r``:

- COO (``torch.sparse_coo_tensor``, coalesced or not): ``index_add(zeros, 0, rows, x[cols] * v)``, which
  message-passing fusion makes one gather-scatter region;
- CSR (``to_sparse_csr``): a weighted sum embedding bag over ``x`` with the column indices as indices, the
  row pointers as offsets (the last one included) and the values as per-sample weights. With
  ``reduce="mean"`` (PyTorch Geometric's SAGEConv), the bag's sums are divided by each row's entry count on
  the host; ``amax`` / ``amin`` stay as written.

Dynamo refuses sparse tensors, so only graphs from ``torch.export`` hold these ops (see
``torch_ember.compile_exported``): in inference as written, in training as AOTAutograd writes them, the
backward's ``a.t() @ grad`` being one more COO product. A sparse matrix with dense dimensions (hybrid) or
a batch is left as written.
"""
from __future__ import annotations

import operator

import torch
import torch.fx
from torch._guards import detect_fake_mode

from .registry_base import FLOATS, meta
from .state import LoweringState

aten = torch.ops.aten
_SPARSE_MM = (aten._sparse_mm.default, aten.mm.default, aten.matmul.default)


def _product_args(node: torch.fx.Node) -> tuple | None:
    """(sparse, dense, reduce) as the node writes them, or None if it is no plain product. AOTAutograd
    writes the forward product as ``_sparse_addmm(zeros, a, x, beta=0)`` and the backward one as
    ``mm(a.t(), grad)``."""
    if node.op != "call_function":
        return None
    if node.target in _SPARSE_MM:
        return (*node.args, "sum") if len(node.args) == 2 else None
    if node.target is aten._sparse_mm.reduce:
        return node.args
    if node.target is aten._sparse_addmm.default and len(node.args) == 3:
        plain = node.kwargs.get("beta", 1) == 0 and node.kwargs.get("alpha", 1) == 1 and set(node.kwargs) <= {"beta", "alpha"}
        return (*node.args[1:], "sum") if plain else None
    return None


def product_operands(node: torch.fx.Node) -> tuple[torch.fx.Node, torch.fx.Node, str] | None:
    """(sparse, dense, reduce) of a sparse @ dense product this pass rewrites, or None."""
    found = _product_args(node)
    if found is None:
        return None
    sparse, dense, reduce = found
    a, x = meta(sparse), meta(dense)
    if a is None or x is None or a.layout not in (torch.sparse_coo, torch.sparse_csr):
        return None
    if a.dim() != 2 or a.dense_dim() != 0 or x.layout != torch.strided or x.dim() != 2:
        return None
    if a.dtype != x.dtype or x.dtype not in FLOATS or reduce not in ("sum", "mean"):
        return None
    if a.layout == torch.sparse_coo and reduce != "sum":      # PyTorch reduces only CSR rows
        return None
    return sparse, dense, reduce


class _Builder:
    """Adds nodes before ``anchor``, each with the fake value its op gives on its arguments' fake values."""

    def __init__(self, graph: torch.fx.Graph, anchor: torch.fx.Node, fake_mode):
        self.graph, self.anchor, self.fake_mode = graph, anchor, fake_mode

    def __call__(self, target, *args, **kwargs) -> torch.fx.Node:
        with self.graph.inserting_before(self.anchor):
            node = self.graph.call_function(target, args, kwargs)
        fake_args = [meta(a) if isinstance(a, torch.fx.Node) else a for a in args]
        with self.fake_mode:
            node.meta["val"] = target(*fake_args, **kwargs)
        return node


def _coo_product(add, sparse, dense, out) -> torch.fx.Node:
    indices = add(aten._indices.default, sparse)
    rows, cols = add(aten.select.int, indices, 0, 0), add(aten.select.int, indices, 0, 1)
    messages = add(aten.mul.Tensor, add(aten.index_select.default, dense, 0, cols),
                   add(aten.unsqueeze.default, add(aten._values.default, sparse), 1))
    zeros = add(aten.zeros.default, list(out.shape), dtype=out.dtype, device=out.device)
    return add(aten.index_add.default, zeros, 0, rows, messages)


def _csr_product(add, sparse, dense, reduce: str) -> torch.fx.Node:
    return csr_bag(add, add(aten.crow_indices.default, sparse), add(aten.col_indices.default, sparse),
                   add(aten.values.default, sparse), dense, reduce)


def csr_bag(add, offsets, columns, values, dense, reduce: str) -> torch.fx.Node:
    """A CSR matrix's product with ``dense`` from its three parts, as a weighted-sum bag (the mean's
    division by each row's entry count on the host); ``add(target, *args)`` makes a node."""
    bag = add(aten._embedding_bag.default, dense, columns, offsets, False, 0, False, values, True, -1)
    sums = add(operator.getitem, bag, 0)
    if reduce == "sum":
        return sums
    counts = add(aten.sub.Tensor, add(aten.slice.Tensor, offsets, 0, 1), add(aten.slice.Tensor, offsets, 0, 0, -1))
    return per_row_mean(add, sums, counts)


def per_row_mean(add, sums, counts) -> torch.fx.Node:
    """Each row of ``sums`` over its entry count, an empty row's count taken as 1 (its mean is 0, as
    PyTorch's CSR mean gives)."""
    return add(aten.div.Tensor, sums, add(aten.unsqueeze.default, add(aten.clamp_min.default, counts, 1), 1))


def rewrite_sparse_mm(state: LoweringState) -> LoweringState:
    gm = state.gm
    graph = gm.graph
    for node in list(graph.nodes):
        operands = product_operands(node)
        if operands is None:
            continue
        sparse, dense, reduce = operands
        add = _Builder(graph, node, detect_fake_mode([meta(sparse), meta(dense)]))
        if meta(sparse).layout == torch.sparse_coo:
            product = _coo_product(add, sparse, dense, meta(node))
        else:
            product = _csr_product(add, sparse, dense, reduce)
        product.meta.update({k: v for k, v in node.meta.items() if k != "val"})
        node.replace_all_uses_with(product)
        graph.erase_node(node)
    graph.eliminate_dead_code()
    gm.recompile()
    return state

"""The decomposition tables the backend gives AOTAutograd and Inductor.

Lookup ops are kept whole through AOTAutograd so that the matcher sees them; everything else is decomposed
as Inductor would have it. One more entry mends a case where PyTorch's own tracing fails: the sparse
gradient of a weighted sum bag (below).
"""
from __future__ import annotations

import functools

import torch

from .fx_passes.registry import LOOKUP_LIKE, REGISTRY
from .runtime.adapters.embedding_bag import bag_of_each_index

aten = torch.ops.aten


@functools.cache
def kept_whole() -> frozenset:
    """The ops of Inductor's decomposition table that AOTAutograd must leave whole, for the matcher."""
    from torch._inductor.decomposition import select_decomp_table
    return frozenset(op for op in select_decomp_table()
                     if op in REGISTRY or op in LOOKUP_LIKE or "embedding" in str(op))


def inductor_decompositions() -> dict:
    """Inductor's decomposition table without the ops kept whole (a module-level function: Inductor's cache
    pickles it when it is passed as ``get_decomp_fn``)."""
    from torch._inductor.decomposition import select_decomp_table
    kept = kept_whole()
    return {op: fn for op, fn in select_decomp_table().items() if op not in kept}


def _sparse_bag_backward(grad, indices, offsets, offset2bag, bag_size, maximum_indices, num_weights,
                         scale_grad_by_freq, mode, sparse, per_sample_weights, padding_idx=-1):
    """PyTorch's CPU kernel returns no ``offset2bag`` on its fast sum path, and the meta function of the
    sparse backward then fails to broadcast the per-sample weights against it, so neither ember nor
    PyTorch's own backends could trace ``nn.EmbeddingBag(sparse=True)`` with ``per_sample_weights``. That
    one case (a weighted sum without a padding row) is written here as the kernel computes it: one gradient
    row per index, the bag's gradient row times the index's weight, in an uncoalesced sparse tensor. Every
    other call is left as it is (``NotImplemented``)."""
    if (not sparse or per_sample_weights is None or offset2bag.numel() == indices.numel() or padding_idx >= 0
            or scale_grad_by_freq):
        return NotImplemented
    bags = bag_of_each_index(indices, offsets, offsets.numel(), torch.int64)
    rows = grad.index_select(0, bags) * per_sample_weights.unsqueeze(1)
    return aten._sparse_coo_tensor_unsafe(indices.reshape(1, -1), rows, [num_weights, grad.shape[1]])


def aot_decompositions(rest_is_inductor: bool) -> dict:
    """What AOTAutograd decomposes while it traces: Inductor's table for ``rest="inductor"``, nothing more for
    ``rest="eager"``; and the sparse bag backward's repair in both."""
    table = inductor_decompositions() if rest_is_inductor else {}
    return {**table, aten._embedding_bag_backward.default: _sparse_bag_backward}

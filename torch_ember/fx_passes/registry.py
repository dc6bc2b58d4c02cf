"""The registry of lowerable ATen ops, split by op family. Each entry checks whether a node can run on the
DAE device (giving a reason when it cannot), builds its region spec, and lists the region's tensor
arguments. ``LOOKUP_LIKE`` ops have no entry yet; they stay on the host and the report says so."""
from __future__ import annotations

import torch

from .embedding_ops import EMBEDDING_LOWERINGS
from .index_ops import INDEX_LOWERINGS
from .registry_base import Lowering

aten = torch.ops.aten

REGISTRY: dict[torch._ops.OpOverload, Lowering] = {**EMBEDDING_LOWERINGS, **INDEX_LOWERINGS}

LOOKUP_LIKE = {
    aten.embedding_backward.default, aten._embedding_bag_dense_backward.default,
    aten._embedding_bag_sparse_backward.default, aten.embedding_sparse_backward.default,
    aten.embedding_renorm_.default,
    aten._sparse_mm.default, aten._sparse_mm.reduce, aten._sparse_addmm.default,   # what sparse_mm leaves
    aten._sparse_mm_reduce_impl.default, aten._sparse_mm_reduce_impl_backward.default,
    aten.take.default, aten.put.default, aten.take_along_dim.default, aten.index_fill.int_Tensor,
    aten.masked_select.default,
}

"""Between an ATen op's arguments and its region's program: one adapter per region kind, one module per op
family (as ``fx_passes/*_ops.py`` and ``conversion/fx_to_slc/*``), all behind ``RegionAdapter``."""
from __future__ import annotations

from ...region_spec import RegionKind
from .base import RegionAdapter, apply_epilogue, check_known_values
from .batched import BatchedAdapter
from .embedding import EmbeddingAdapter, EmbeddingBackwardAdapter
from .embedding_bag import EmbeddingBagAdapter
from .embedding_bag_backward import EmbeddingBagBackwardAdapter, EmbeddingBagWeightsBackwardAdapter
from .finish import FinishRowsAdapter
from .gather_scatter import (
    GatherElementsAdapter, GatherRowsAdapter, GatherScatterAdapter, ScatterElementsAdapter, ScatterRowsAdapter,
)
from .segment import (
    SegmentProductsAdapter, SegmentReduceAdapter, SegmentReduceBackwardAdapter, SegmentTiesAdapter, prepass_args,
)

ADAPTERS: dict[RegionKind, RegionAdapter] = {
    RegionKind.EMBEDDING_BAG: EmbeddingBagAdapter(),
    RegionKind.EMBEDDING: EmbeddingAdapter(),
    RegionKind.EMBEDDING_BACKWARD: EmbeddingBackwardAdapter(),
    RegionKind.EMBEDDING_BAG_BACKWARD: EmbeddingBagBackwardAdapter(),
    RegionKind.EMBEDDING_BAG_MAX_BACKWARD: EmbeddingBagBackwardAdapter(),
    RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD: EmbeddingBagWeightsBackwardAdapter(),
    RegionKind.GATHER_ROWS: GatherRowsAdapter(),
    RegionKind.SCATTER_ROWS: ScatterRowsAdapter(),
    RegionKind.GATHER_SCATTER: GatherScatterAdapter(),
    RegionKind.GATHER_ELEMENTS: GatherElementsAdapter(),
    RegionKind.SCATTER_ELEMENTS: ScatterElementsAdapter(),
    RegionKind.SEGMENT_REDUCE: SegmentReduceAdapter(),
    RegionKind.SEGMENT_REDUCE_BACKWARD: SegmentReduceBackwardAdapter(),
    RegionKind.SEGMENT_TIES: SegmentTiesAdapter(),
    RegionKind.SEGMENT_PRODUCTS: SegmentProductsAdapter(),
    RegionKind.FINISH_ROWS: FinishRowsAdapter(),
}
ADAPTERS[RegionKind.BATCHED] = BatchedAdapter(ADAPTERS)

__all__ = ["ADAPTERS", "RegionAdapter", "apply_epilogue", "check_known_values", "prepass_args"]

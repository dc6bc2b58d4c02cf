"""DLC passes: store placement (read-modify-write rows prefetched by the access unit), execute-loop unrolling,
work tiling (how the cores split the outer items)."""
from .prefetch_stores import prefetch_stores
from .tile_items import tile_items
from .unroll import unroll

__all__ = ["prefetch_stores", "tile_items", "unroll"]

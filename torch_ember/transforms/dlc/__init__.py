"""DLC passes: store placement (read-modify-write rows prefetched by the access unit), execute-loop unrolling."""
from .prefetch_stores import prefetch_stores
from .unroll import unroll

__all__ = ["prefetch_stores", "unroll"]

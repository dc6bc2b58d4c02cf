"""SLC passes: sequential loads, fixed trip counts, vectorization, bufferization, loop fusion, queue
alignment (batching, ``batch``, runs when a batched region is built)."""
from .align_queues import align_queues
from .bufferize import bufferize
from .fixed_trip_count import fixed_trip_count
from .fuse_loops import fuse_loops
from .sequential_loads import sequential_loads
from .vectorize import vectorize

__all__ = ["align_queues", "bufferize", "fixed_trip_count", "fuse_loops", "sequential_loads", "vectorize"]

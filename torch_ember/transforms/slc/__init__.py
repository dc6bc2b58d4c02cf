"""SLC passes: vectorization, bufferization, queue alignment."""
from .align_queues import align_queues
from .bufferize import bufferize
from .vectorize import vectorize

__all__ = ["align_queues", "bufferize", "vectorize"]

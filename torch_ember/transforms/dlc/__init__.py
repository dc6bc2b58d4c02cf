"""DLC passes: execute-loop unrolling."""
from .unroll import unroll

__all__ = ["unroll"]

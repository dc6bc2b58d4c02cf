"""Errors a launch raises when its inputs break the program's addressing; no output is written then."""
from __future__ import annotations


class DaeAddressError(IndexError):
    """A stream or store asked for an address outside its tensor."""

    def __init__(self, what: str, tensor: str, value: int, size: int, position: int):
        super().__init__(f"{what} reads {tensor}[{value}] at position {position}, but {tensor} has {size} rows")
        self.tensor, self.value, self.size, self.position = tensor, value, size, position


class DaeRangeError(RuntimeError):
    """A range traversal unit got a negative trip count (hi < lo)."""

    def __init__(self, traversal: str, iteration: int, lo: int, hi: int):
        super().__init__(f"range traversal unit {traversal}: iteration {iteration} has bounds [{lo}, {hi}) with hi < lo")
        self.traversal, self.iteration, self.lo, self.hi = traversal, iteration, lo, hi


class DaeShapeError(ValueError):
    """Inputs whose shapes or dtypes do not fit the program's parameters."""

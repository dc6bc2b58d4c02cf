"""What a functional run hands to the timing and energy models: the access stream it really executed.

The access unit walks its traversal units in program order; each step of that walk is an *event* (one
iteration, begin or end of a traversal unit). Events are numbered 0..E-1 in the order one core would issue
them, and every memory access and every control token is tied to the event that issued it, so the timing
model sees the real interleaving and the real addresses (locality and reuse included).
Work is split across cores by the outermost traversal unit: ``event_item`` says which outer iteration each
event belongs to, and a core takes a contiguous block of outer iterations or, when the program says so
(``Program.tile``), tiles of ``tile`` of them dealt to the cores in turn (``item_cores``).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import torch


class Side(enum.Enum):
    ACCESS = "access"      # issued by the access unit (loads of streams)
    EXECUTE = "execute"    # issued by the execute unit (stores, read-modify-write)


@dataclass(frozen=True)
class AccessRecord:
    """Every access one memory stream (or one store) made, in issue order."""

    stream: str
    tensor: str
    side: Side
    is_write: bool
    is_row: bool             # a whole table row (a lookup), not a single element
    nbytes: int              # bytes per access: one element, or one row (a contiguous span)
    event: torch.Tensor      # int64 (n,): the event that issued each access, nondecreasing
    address: torch.Tensor    # int64 (n,): byte address of each access's first byte
    prefetch: bool = False   # a prefetch: its lines come into the cache, and nothing waits for them


@dataclass(frozen=True)
class TokenRecord:
    """Control tokens pushed to the execute unit for one callback."""

    callback: str
    event: torch.Tensor      # int64 (t,): the event that pushed each token, nondecreasing
    operand_bytes: int       # bytes of queue payload pushed with each token
    vector_ops: float        # execute-unit vector instructions one run of the callback takes
    scalar_ops: float        # execute-unit scalar instructions (pops, counters, branches) per run
    queue_entries: int = 1   # queue entries one token takes: the token and its operands' pieces


@dataclass(frozen=True)
class LaunchTrace:
    """The executed access stream of one program launch."""

    program: str
    num_events: int
    event_item: torch.Tensor             # int64 (E,): outermost-traversal iteration of each event
    num_items: int                       # trip count of the outermost traversal unit
    accesses: tuple[AccessRecord, ...]
    tokens: tuple[TokenRecord, ...]
    queue_depth: int | None = None       # usable depth of the operand queues in the scratchpad; None: full
    tile: int | None = None              # outer items per tile dealt to the cores in turn; None: a block each

    @property
    def bytes_read(self) -> int:
        return sum(a.nbytes * a.address.numel() for a in self.accesses if not a.is_write)

    @property
    def bytes_written(self) -> int:
        return sum(a.nbytes * a.address.numel() for a in self.accesses if a.is_write)

    @property
    def lookups(self) -> int:
        """Row-sized loads (the embedding lookups) the access unit issued."""
        return sum(a.address.numel() for a in self.accesses if a.is_row and a.side is Side.ACCESS and not a.prefetch)


def item_cores(items: np.ndarray, num_items: int, cores: int, tile: int | None) -> np.ndarray:
    """The core that runs each of ``items`` (outer iterations): core ``c`` takes items
    ``[c * n // cores, (c + 1) * n // cores)``, or with ``tile``, tiles ``c``, ``c + cores``, ``c + 2 * cores``..."""
    if tile is not None:
        return (items // tile) % cores
    return ((items + 1) * cores + num_items - 1) // num_items - 1

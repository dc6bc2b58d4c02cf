"""Synthetic launch traces of an embedding bag and of message passing, for validating and benchmarking the
timing models.

The trace is what a functional run of the plain sum bag (see the design's DLC example) would hand over:
per bag a begin event (load ``offsets[b]`` and ``offsets[b + 1]``), one iteration event per pooled row
(load ``indices[j]``, load the table row, push a ROW token with the row as operand) and an end event (push
a BAG token; the execute unit stores the pooled row). The indices come from a chosen ``Locality``, so
the cache sees the reuse a real workload of that kind would have.

Message passing (``scatter_trace``) is what the fused gather-scatter region hands over: one event per
edge (load ``src[e]`` and ``dst[e]``, load the source row, push a MSG token with the row), whose callback
reads, adds to and writes back the destination row: the read-modify-writes a write-back cache absorbs.
"""
from __future__ import annotations

import enum
import math

import torch

from dae_emulator.scratchpad import fit_depth
from dae_emulator.trace import AccessRecord, LaunchTrace, Side, TokenRecord

# Far-apart, page-aligned bases so the tensors never share a cache line.
OFFSETS_BASE = 1 << 28
INDICES_BASE = 2 << 28
TABLE_BASE = 4 << 28
OUTPUT_BASE = 12 << 28
_INDEX_BYTES = 8


class Locality(enum.Enum):
    UNIFORM = "uniform"     # every row equally likely: little reuse unless the table is small
    ZIPF = "zipf"           # a few hot rows take most lookups, as in recommender traffic
    SORTED = "sorted"       # uniform draws, sorted over the whole launch: a near-sequential scan


def lookup_indices(
    n: int, num_rows: int, locality: Locality, generator: torch.Generator, zipf_alpha: float = 1.05
) -> torch.Tensor:
    """``n`` row indices in ``[0, num_rows)`` drawn with ``locality``."""
    if locality is Locality.ZIPF:
        weights = torch.arange(1, num_rows + 1, dtype=torch.float64).pow(-zipf_alpha)
        ranks = torch.multinomial(weights, n, replacement=True, generator=generator)
        hot_rows = torch.randperm(num_rows, generator=generator)  # hot rows scattered over the table
        return hot_rows[ranks]
    draws = torch.randint(num_rows, (n,), generator=generator)
    return draws.sort().values if locality is Locality.SORTED else draws


def embedding_bag_trace(
    num_bags: int,
    pooling: int,
    dim: int,
    num_rows: int,
    locality: Locality = Locality.UNIFORM,
    *,
    vector_bytes: int = 64,
    row_entry: int = 0,
    seed: int = 0,
    queue_depth: int | None = None,
    uneven: bool = False,
    tile: int | None = None,
) -> LaunchTrace:
    """The trace of a sum bag over ``num_bags`` bags of ``pooling`` fp32 rows of width ``dim`` (with
    ``uneven``, bag lengths drawn uniformly from ``[0, 2 * pooling]``); each row is pushed as one buffered
    queue entry (``row_entry`` 0) or in pieces of ``row_entry`` elements. ``queue_depth``: the operand
    queues' usable depth in the scratchpad (``bag_queue_depth``); None: full. ``tile``: how the cores split
    the bags (``LaunchTrace.tile``)."""
    generator = torch.Generator().manual_seed(seed)
    row_bytes = 4 * dim
    bags = torch.arange(num_bags)
    lengths = (torch.randint(2 * pooling + 1, (num_bags,), generator=generator) if uneven
               else torch.full((num_bags,), pooling))
    per_bag = lengths + 2
    begin = torch.cumsum(per_bag, 0) - per_bag
    lookups = int(lengths.sum())
    first_lookup = torch.cumsum(lengths, 0) - lengths
    iteration = (begin + 1 - first_lookup).repeat_interleave(lengths) + torch.arange(lookups)
    end = begin + lengths + 1
    indices = lookup_indices(lookups, num_rows, locality, generator)
    row_vector_ops = math.ceil(row_bytes / vector_bytes)

    accesses = (
        AccessRecord(
            "offsets", "offsets", Side.ACCESS, is_write=False, is_row=False, nbytes=_INDEX_BYTES,
            event=begin.repeat_interleave(2),
            address=OFFSETS_BASE + _INDEX_BYTES * (bags[:, None] + torch.tensor([0, 1])).reshape(-1),
        ),
        AccessRecord(
            "indices", "indices", Side.ACCESS, is_write=False, is_row=False, nbytes=_INDEX_BYTES,
            event=iteration, address=INDICES_BASE + _INDEX_BYTES * torch.arange(lookups),
        ),
        AccessRecord(
            "rows", "table", Side.ACCESS, is_write=False, is_row=True, nbytes=row_bytes,
            event=iteration, address=TABLE_BASE + row_bytes * indices,
        ),
        AccessRecord(
            "out", "out", Side.EXECUTE, is_write=True, is_row=True, nbytes=row_bytes,
            event=end, address=OUTPUT_BASE + row_bytes * bags,
        ),
    )
    pops = math.ceil(dim / row_entry) if row_entry else 1
    tokens = (
        # a pop per operand entry, as compiled code counts them, and a dispatch shared by two tokens
        TokenRecord("row", iteration, operand_bytes=row_bytes, vector_ops=row_vector_ops, scalar_ops=1 + pops,
                    queue_entries=1 + pops),
        TokenRecord("bag", end, operand_bytes=0, vector_ops=row_vector_ops, scalar_ops=2),
    )
    return LaunchTrace(
        program=f"bag(p={pooling},d={dim},rows={num_rows},{locality.value})",
        num_events=int(per_bag.sum()),
        event_item=bags.repeat_interleave(per_bag),
        num_items=num_bags,
        accesses=accesses,
        tokens=tokens,
        queue_depth=queue_depth,
        tile=tile,
    )


def scatter_trace(
    num_destinations: int,
    messages_per_destination: int,
    dim: int,
    num_rows: int,
    locality: Locality = Locality.UNIFORM,
    *,
    vector_bytes: int = 64,
    seed: int = 0,
    queue_depth: int | None = None,
    prefetch: bool = False,
    tile: int | None = None,
) -> LaunchTrace:
    """The trace of ``out[dst[e]] += x[src[e]]`` over fp32 rows of width ``dim``: ``num_destinations *
    messages_per_destination`` edges in random order, sources drawn from ``num_rows`` with ``locality``;
    with ``prefetch``, the access unit prefetches each destination row as it loads the source row."""
    generator = torch.Generator().manual_seed(seed)
    row_bytes = 4 * dim
    edges = num_destinations * messages_per_destination
    events = torch.arange(edges)
    sources = lookup_indices(edges, num_rows, locality, generator)
    order = torch.randperm(edges, generator=generator)
    destinations = torch.arange(num_destinations).repeat(messages_per_destination)[order]
    out_address = OUTPUT_BASE + row_bytes * destinations
    accesses = (
        AccessRecord("src", "src", Side.ACCESS, is_write=False, is_row=False, nbytes=_INDEX_BYTES, event=events,
                     address=OFFSETS_BASE + _INDEX_BYTES * events),
        AccessRecord("dst", "dst", Side.ACCESS, is_write=False, is_row=False, nbytes=_INDEX_BYTES, event=events,
                     address=INDICES_BASE + _INDEX_BYTES * events),
        AccessRecord("rows", "table", Side.ACCESS, is_write=False, is_row=True, nbytes=row_bytes, event=events,
                     address=TABLE_BASE + row_bytes * sources),
        *([AccessRecord("ahead", "out", Side.ACCESS, is_write=False, is_row=True, nbytes=row_bytes, event=events,
                        address=out_address, prefetch=True)] if prefetch else []),
        AccessRecord("msg.out", "out", Side.EXECUTE, is_write=False, is_row=True, nbytes=row_bytes, event=events,
                     address=out_address),
        AccessRecord("msg.out", "out", Side.EXECUTE, is_write=True, is_row=True, nbytes=row_bytes, event=events,
                     address=out_address),
    )
    tokens = (TokenRecord("msg", events, operand_bytes=row_bytes, vector_ops=math.ceil(row_bytes / vector_bytes),
                          scalar_ops=2),)
    return LaunchTrace(
        program=f"scatter(m={messages_per_destination},d={dim},rows={num_rows},{locality.value})",
        num_events=edges, event_item=events, num_items=edges, accesses=accesses, tokens=tokens,
        queue_depth=queue_depth, tile=tile,
    )


def bag_queue_depth(dim: int, row_entry: int, queue_capacity: int, scratchpad_bytes: int) -> int:
    """The depth the scratchpad leaves the bag's one operand queue (fp32 rows of ``dim``, pushed whole when
    ``row_entry`` is 0, else in pieces of ``row_entry`` elements)."""
    return fit_depth(4 * (min(row_entry, dim) if row_entry else dim), queue_capacity, scratchpad_bytes)

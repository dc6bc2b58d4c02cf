"""The planner: shard tables over ranks so that every device's shards fit its memory and the modeled
lookup time per device is as even as it can be.

Cost of a shard: the DRAM bandwidth roofline of its lookups on the device (each lookup reads the index and
whole cache lines of its row slice, each bag writes its pooled slice). That is the bound the emulator's
timing model approaches for cold lookups on deep queues; it assumes ids spread evenly over rows, as hashed
categorical ids are. A table bigger than a device is split row-wise over as many ranks as it needs; one
heavier than an even share of the work is split too, column-wise while the slices stay a cache line wide
(the pooled output then stays as small as the table's), else row-wise. Then shards go, heaviest first, to
the rank where they raise the larger of its time and memory shares least.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dae_emulator.config import DeviceConfig

from .plan import Shard, ShardingPlan, ShardKind, TableConfig, size

_INDEX_BYTES = 8


class PlanError(ValueError):
    """The tables cannot be placed on these devices."""


def shard_seconds(shard: Shard, batch_size: int, device: DeviceConfig) -> float:
    """Bandwidth-roofline lookup time of ``shard`` for a global batch of ``batch_size`` samples."""
    line = device.line_bytes
    lookups = batch_size * shard.table.pooling_factor * shard.lookup_fraction
    row_bytes = math.ceil(shard.cols * shard.table.element_bytes / line) * line
    out_bytes = batch_size * shard.cols * shard.table.element_bytes
    return (lookups * (row_bytes + _INDEX_BYTES) + out_bytes) / (device.dram_bandwidth_gbs * 1e9)


def _split(table: TableConfig, kind: ShardKind, pieces: int) -> list[Shard]:
    if kind is ShardKind.TABLE_WISE:
        return [Shard(table, kind, -1, 0, table.rows, 0, table.dim)]
    full = table.rows if kind is ShardKind.ROW_WISE else table.dim
    edges = [full * k // pieces for k in range(pieces + 1)]
    if kind is ShardKind.ROW_WISE:
        return [Shard(table, kind, -1, a, b, 0, table.dim) for a, b in zip(edges, edges[1:])]
    return [Shard(table, kind, -1, 0, table.rows, a, b) for a, b in zip(edges, edges[1:])]


def _pieces(table: TableConfig, kind: ShardKind | None, world_size: int, capacity: int, share: float,
            cost: float, line_bytes: int) -> tuple[ShardKind, int]:
    """How to cut ``table``: forced kinds split over every rank they can; otherwise by memory and balance."""
    if kind is ShardKind.TABLE_WISE:
        if table.bytes > capacity:
            raise PlanError(f"table {table.name} ({size(table.bytes)}) does not fit one device ({size(capacity)}): "
                            f"shard it row-wise or column-wise")
        return kind, 1
    if kind is ShardKind.ROW_WISE:
        return kind, min(world_size, table.rows)
    if kind is ShardKind.COLUMN_WISE:
        return kind, min(world_size, table.dim)
    by_memory = math.ceil(table.bytes / capacity)
    by_balance = math.ceil(cost / share - 1e-9) if share > 0 else 1
    pieces = min(max(by_memory, by_balance, 1), world_size, table.rows)
    if by_memory > pieces:
        raise PlanError(f"table {table.name} ({size(table.bytes)}) needs {by_memory} devices of {size(capacity)} "
                        f"but there are {world_size}")
    if pieces == 1:
        return ShardKind.TABLE_WISE, 1
    # Split for balance alone, column slices keep the pooled output (and so the exchange) as small as the
    # whole table's, as long as each slice still fills a cache line; rows otherwise, and for memory.
    if by_memory == 1 and table.dim // pieces * table.element_bytes >= line_bytes:
        return ShardKind.COLUMN_WISE, pieces
    return ShardKind.ROW_WISE, pieces


def plan_tables(tables: Sequence[TableConfig], world_size: int, device: DeviceConfig, *, batch_size: int,
                kinds: ShardKind | Mapping[str, ShardKind] | None = None,
                capacity_bytes: int | None = None) -> ShardingPlan:
    """Place ``tables`` on ``world_size`` devices like ``device``.

    ``kinds`` forces a kind for every table (or per table name); forced row- and column-wise tables are
    split over all ranks. ``capacity_bytes`` (default ``device.memory_bytes``) is the memory per device.
    Raises ``PlanError`` naming the table that cannot be placed.
    """
    if world_size < 1:
        raise PlanError(f"world size must be at least 1, got {world_size}")
    capacity = device.memory_bytes if capacity_bytes is None else capacity_bytes
    forced = kinds if isinstance(kinds, Mapping) else {t.name: kinds for t in tables}
    unknown = sorted(set(forced) - {t.name for t in tables})
    if unknown:
        raise PlanError(f"kinds name unknown table(s) {unknown}")
    whole = {t.name: shard_seconds(_split(t, ShardKind.TABLE_WISE, 1)[0], batch_size, device) for t in tables}
    share = sum(whole.values()) / world_size
    pieces = [piece for t in tables
              for piece in _split(t, *_pieces(t, forced.get(t.name), world_size, capacity, share, whole[t.name],
                                             device.line_bytes))]

    load, used = [0.0] * world_size, [0] * world_size
    holders: dict[str, set[int]] = {t.name: set() for t in tables}
    placed: list[tuple[int, Shard]] = []
    cost = [shard_seconds(piece, batch_size, device) for piece in pieces]
    # Heaviest first, by whichever of time and memory the piece takes the larger share of; each goes where
    # the larger of the two shares ends up smallest.
    share = share or 1.0
    for k in sorted(range(len(pieces)), key=lambda k: -max(cost[k] / share, pieces[k].bytes / capacity)):
        piece = pieces[k]
        room = [r for r in range(world_size)
                if used[r] + piece.bytes <= capacity and r not in holders[piece.table.name]]
        if not room:
            raise PlanError(f"no device has room for {size(piece.bytes)} of table {piece.table.name}: devices hold "
                            f"{size(capacity)} each and already use {[size(u) for u in used]}")
        rank = min(room, key=lambda r: (max((load[r] + cost[k]) / share, (used[r] + piece.bytes) / capacity),
                                        load[r]))
        load[rank] += cost[k]
        used[rank] += piece.bytes
        holders[piece.table.name].add(rank)
        placed.append((k, Shard(piece.table, piece.kind, rank, piece.row_start, piece.row_end,
                                piece.col_start, piece.col_end)))
    shards = tuple(s for _, s in sorted(placed, key=lambda p: p[0]))
    return ShardingPlan(world_size, tuple(tables), shards, tuple(load))

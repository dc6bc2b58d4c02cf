"""A sharding plan: which rank holds which rows and columns of which embedding-bag table.

The three kinds are TorchRec's: table-wise (a whole table on one rank), row-wise (contiguous row ranges on
several ranks; their partial pools are combined on the rank that owns the sample) and column-wise (column
ranges on several ranks; their pools are concatenated). A plan is data, checked when built: every table is
covered exactly once, so no table can be silently dropped.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


def size(nbytes: float) -> str:
    """Bytes in the largest binary unit that keeps a number of at least one."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes:.0f} B"


class ShardKind(enum.Enum):
    TABLE_WISE = "table-wise"
    ROW_WISE = "row-wise"
    COLUMN_WISE = "column-wise"


class Pooling(enum.Enum):
    """The ``mode`` of ``nn.EmbeddingBag``."""

    SUM = "sum"
    MEAN = "mean"
    MAX = "max"


@dataclass(frozen=True)
class TableConfig:
    """One embedding-bag table. ``pooling_factor`` (mean lookups per sample) is what the planner costs."""

    name: str
    rows: int
    dim: int
    pooling: Pooling = Pooling.SUM
    weighted: bool = False
    pooling_factor: float = 1.0
    element_bytes: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "pooling", Pooling(self.pooling))
        if self.rows < 1 or self.dim < 1:
            raise ValueError(f"table {self.name} needs at least one row and one column, got {self.rows}x{self.dim}")
        if self.weighted and self.pooling is not Pooling.SUM:
            raise ValueError(f"table {self.name}: per-sample weights need sum pooling, got {self.pooling.value}")

    @property
    def bytes(self) -> int:
        return self.rows * self.dim * self.element_bytes


@dataclass(frozen=True)
class Shard:
    """Rows ``[row_start, row_end)`` and columns ``[col_start, col_end)`` of ``table``, held by ``rank``."""

    table: TableConfig
    kind: ShardKind
    rank: int
    row_start: int
    row_end: int
    col_start: int
    col_end: int

    @property
    def rows(self) -> int:
        return self.row_end - self.row_start

    @property
    def cols(self) -> int:
        return self.col_end - self.col_start

    @property
    def bytes(self) -> int:
        return self.rows * self.cols * self.table.element_bytes

    @property
    def lookup_fraction(self) -> float:
        """Share of the table's lookups this shard serves, if ids are spread evenly over rows."""
        return self.rows / self.table.rows


def _check_cover(table: TableConfig, shards: list[Shard]) -> None:
    if not shards:
        raise ValueError(f"plan leaves table {table.name} on no rank")
    kinds = {s.kind for s in shards}
    if len(kinds) != 1 or (ShardKind.TABLE_WISE in kinds and len(shards) != 1):
        raise ValueError(f"table {table.name} must be sharded one way; got {sorted(k.value for k in kinds)} "
                         f"over {len(shards)} shards")
    kind = kinds.pop()
    along_rows = kind is ShardKind.ROW_WISE
    spans = sorted((s.row_start, s.row_end) if along_rows else (s.col_start, s.col_end) for s in shards)
    whole = [(s.col_start, s.col_end) if along_rows else (s.row_start, s.row_end) for s in shards]
    full = table.rows if along_rows else table.dim
    edges = [start for start, _ in spans] + [spans[-1][1]]
    covers = edges[0] == 0 and edges[-1] == full and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    other = (0, table.dim) if along_rows else (0, table.rows)
    if not covers or any(s[0] >= s[1] for s in spans) or any(w != other for w in whole):
        raise ValueError(f"shards of table {table.name} ({table.rows}x{table.dim}) do not cover it exactly once: "
                         f"{[(s.rank, s.row_start, s.row_end, s.col_start, s.col_end) for s in shards]}")
    if len({s.rank for s in shards}) != len(shards):
        raise ValueError(f"two shards of table {table.name} are on one rank")


@dataclass(frozen=True)
class ShardingPlan:
    """Shards of ``tables`` over ``world_size`` ranks; a rank's shards run in the order listed here."""

    world_size: int
    tables: tuple[TableConfig, ...]
    shards: tuple[Shard, ...]
    estimated_seconds: tuple[float, ...] = field(default=())   # planner's per-rank lookup time, if planned

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError(f"table names must be unique, got {names}")
        for s in self.shards:
            if not 0 <= s.rank < self.world_size:
                raise ValueError(f"shard of {s.table.name} is on rank {s.rank}, outside world size {self.world_size}")
            if s.table not in self.tables:
                raise ValueError(f"shard names table {s.table.name}, which the plan does not list")
        for table in self.tables:
            _check_cover(table, self.shards_of(table.name))

    def shards_of(self, table: str) -> list[Shard]:
        return [s for s in self.shards if s.table.name == table]

    def shards_on(self, rank: int) -> list[Shard]:
        return [s for s in self.shards if s.rank == rank]

    def kind_of(self, table: str) -> ShardKind:
        return self.shards_of(table)[0].kind

    def bytes_on(self, rank: int) -> int:
        return sum(s.bytes for s in self.shards_on(rank))

    def __str__(self) -> str:
        lines = [f"sharding plan over {self.world_size} rank(s):"]
        for table in self.tables:
            shards = self.shards_of(table.name)
            parts = ", ".join(
                f"rank {s.rank}" + ("" if s.kind is ShardKind.TABLE_WISE else
                                    f" rows {s.row_start}:{s.row_end}" if s.kind is ShardKind.ROW_WISE else
                                    f" cols {s.col_start}:{s.col_end}") for s in shards)
            lines.append(f"  {table.name:<12} {table.rows:>11}x{table.dim:<4} {table.pooling.value:<4} "
                         f"{shards[0].kind.value:<11} {parts}")
        for rank in range(self.world_size):
            estimate = (f", estimated lookup {self.estimated_seconds[rank] * 1e3:.4f} ms"
                        if self.estimated_seconds else "")
            lines.append(f"  rank {rank}: {len(self.shards_on(rank))} shard(s), "
                         f"{size(self.bytes_on(rank))}{estimate}")
        return "\n".join(lines)

"""The planner keeps every device under its memory, splits what does not fit, and evens out modeled time."""
import pytest

import dae_emulator
from torch_ember.distributed import PlanError, Pooling, ShardingPlan, ShardKind, TableConfig, plan_tables

SERVER = dae_emulator.preset("server")


def tables(sizes, dim=16):
    return [TableConfig(f"t{k}", rows, dim, Pooling.SUM, pooling_factor=pf) for k, (rows, pf) in enumerate(sizes)]


def test_every_device_stays_under_its_capacity_and_every_table_is_placed():
    ts = tables([(1000 * (k + 1), 4) for k in range(12)])
    capacity = sum(t.bytes for t in ts) // 3
    plan = plan_tables(ts, 4, SERVER, batch_size=512, capacity_bytes=capacity)
    assert all(plan.bytes_on(r) <= capacity for r in range(4))
    assert sum(s.bytes for s in plan.shards) == sum(t.bytes for t in ts)
    assert {s.table.name for s in plan.shards} == {t.name for t in ts}


def test_a_table_too_big_for_any_device_is_split_row_wise():
    big, small = TableConfig("big", 100_000, 32), TableConfig("small", 100, 32)
    plan = plan_tables([big, small], 4, SERVER, batch_size=64, capacity_bytes=big.bytes // 3)
    shards = plan.shards_of("big")
    assert plan.kind_of("big") is ShardKind.ROW_WISE and len(shards) >= 3
    assert sum(s.rows for s in shards) == big.rows and len({s.rank for s in shards}) == len(shards)


def test_a_heavy_table_is_split_so_that_ranks_are_balanced():
    ts = tables([(10_000, 40)] + [(10_000, 2)] * 8)
    plan = plan_tables(ts, 4, SERVER, batch_size=1024)
    assert plan.kind_of("t0") is ShardKind.ROW_WISE
    loads = plan.estimated_seconds
    assert max(loads) / (sum(loads) / len(loads)) < 1.15, loads
    unsplit = plan_tables(ts, 4, SERVER, batch_size=1024, kinds={"t0": ShardKind.TABLE_WISE})
    assert max(unsplit.estimated_seconds) > 1.5 * max(loads)


def test_forced_kinds_split_over_every_rank():
    ts = tables([(100, 1), (200, 1)])
    for kind in (ShardKind.ROW_WISE, ShardKind.COLUMN_WISE):
        plan = plan_tables(ts, 4, SERVER, batch_size=8, kinds=kind)
        assert all(len(plan.shards_of(t.name)) == 4 and plan.kind_of(t.name) is kind for t in ts)


def test_tables_that_cannot_fit_raise_naming_the_table():
    ts = tables([(1000, 1), (1000, 1)])
    with pytest.raises(PlanError, match="table t0 .* does not fit one device"):
        plan_tables(ts, 2, SERVER, batch_size=8, kinds=ShardKind.TABLE_WISE, capacity_bytes=1000)
    with pytest.raises(PlanError, match=r"needs \d+ devices"):
        plan_tables(ts, 2, SERVER, batch_size=8, capacity_bytes=10_000)
    with pytest.raises(PlanError, match="no device has room"):
        plan_tables(ts, 2, SERVER, batch_size=8, capacity_bytes=33_000)


def test_a_plan_that_drops_or_overlaps_rows_is_rejected():
    t = TableConfig("t", 10, 4)
    good = plan_tables([t], 2, SERVER, batch_size=4, kinds=ShardKind.ROW_WISE)
    with pytest.raises(ValueError, match="on no rank"):
        ShardingPlan(2, (t,), ())
    with pytest.raises(ValueError, match="do not cover it exactly once"):
        ShardingPlan(2, (t,), good.shards[:1])


def test_a_wide_table_split_for_balance_alone_is_split_by_columns():
    ts = [TableConfig("wide", 1000, 128, pooling_factor=40)] + tables([(1000, 2)] * 6, dim=128)
    plan = plan_tables(ts, 4, SERVER, batch_size=1024)
    assert plan.kind_of("wide") is ShardKind.COLUMN_WISE
    assert all(s.cols * 4 >= SERVER.line_bytes for s in plan.shards_of("wide"))

"""The fast timing model, tested by the relations the physics of the machine demands, never by snapshots."""
import dataclasses

import pytest

from dae_emulator.config import preset
from dae_emulator.cost import Bound
from dae_emulator.reference import simulate
from dae_emulator.synthetic import Locality, embedding_bag_trace, scatter_trace
from dae_emulator.timing import estimate
from dae_emulator.timing.dram import Dram

SERVER, EDGE = preset("server"), preset("edge")
COLD = 1 << 22     # rows: far more than any cache holds


def bag(config, num_bags, pooling, dim, num_rows=COLD, locality=Locality.UNIFORM):
    return embedding_bag_trace(num_bags, pooling, dim, num_rows, locality, vector_bytes=config.vector_bytes)


def achieved_gbs(record) -> float:
    return (record.dram_bytes_read + record.dram_bytes_written) / record.seconds / 1e9


def test_cold_streaming_with_deep_queues_reaches_dram_bandwidth():
    config = dataclasses.replace(SERVER, cores=8)
    record = estimate(bag(config, 2048, 8, 64), config)
    assert record.bound is Bound.MEMORY_BANDWIDTH
    assert achieved_gbs(record) >= 0.9 * config.dram_bandwidth_gbs


def test_below_the_latency_bandwidth_product_time_follows_littles_law():
    config = dataclasses.replace(EDGE, max_outstanding=4, queue_capacity=64)
    record = estimate(bag(config, 256, 8, 16), config)
    dram = Dram.from_config(config)
    occupancy = record.cache_misses * dram.miss_latency + record.cache_hits * config.cache_latency_cycles
    assert record.bound is Bound.MEMORY_LATENCY
    assert record.cycles == pytest.approx(occupancy / config.max_outstanding, rel=0.1)


def test_halving_a_shallow_queue_doubles_the_time():
    shallow = dataclasses.replace(EDGE, queue_capacity=4, max_outstanding=64)
    halved = dataclasses.replace(shallow, queue_capacity=2)
    trace = bag(shallow, 256, 8, 16)
    before, after = estimate(trace, shallow), estimate(trace, halved)
    assert after.bound is Bound.MEMORY_LATENCY
    assert after.cycles / before.cycles == pytest.approx(2.0, rel=0.1)


def test_deep_queues_hide_latency_that_shallow_ones_expose():
    trace = bag(EDGE, 256, 8, 64)
    deep = dataclasses.replace(EDGE, queue_capacity=64, max_outstanding=64)
    assert estimate(trace, deep).cycles < 0.7 * estimate(trace, EDGE).cycles


def test_a_table_that_fits_in_cache_runs_faster_than_a_cold_one():
    hot, cold = bag(SERVER, 512, 16, 64, num_rows=256), bag(SERVER, 512, 16, 64)
    hot_record, cold_record = estimate(hot, SERVER), estimate(cold, SERVER)
    assert hot_record.hit_rate > 0.9 > cold_record.hit_rate
    assert hot_record.dram_bytes_read < cold_record.dram_bytes_read
    assert hot_record.cycles < cold_record.cycles


@pytest.mark.parametrize("bound, config, trace_args", [
    (Bound.COMPUTE, dataclasses.replace(EDGE, vector_bytes=4), (64, 16, 256, 64)),
    (Bound.MEMORY_LATENCY, dataclasses.replace(SERVER, max_outstanding=4), (256, 8, 64)),
])
def test_doubling_cores_nearly_halves_a_compute_or_latency_bound_program(bound, config, trace_args):
    trace = bag(config, *trace_args)
    one, two = (estimate(trace, dataclasses.replace(config, cores=c)) for c in (1, 2))
    assert one.bound is bound
    assert 0.45 <= two.cycles / one.cycles <= 0.6
    assert len(two.core_cycles) == 2


def test_more_cores_do_not_beat_the_bandwidth_bound():
    config = dataclasses.replace(SERVER, cores=8)
    trace = bag(config, 2048, 8, 64)
    eight, sixteen = estimate(trace, config), estimate(trace, dataclasses.replace(config, cores=16))
    assert sixteen.cycles >= 0.95 * eight.cycles


def test_energy_grows_with_dram_bytes():
    hot, cold = estimate(bag(SERVER, 512, 16, 64, num_rows=256), SERVER), estimate(bag(SERVER, 512, 16, 64), SERVER)
    assert cold.dram_bytes_read > hot.dram_bytes_read
    assert cold.energy.dram > hot.energy.dram
    assert cold.energy.dram / hot.energy.dram == pytest.approx(
        (cold.dram_bytes_read + cold.dram_bytes_written) / (hot.dram_bytes_read + hot.dram_bytes_written))
    assert cold.energy_joules > hot.energy_joules


def test_traffic_is_the_trace_rounded_to_lines():
    trace = bag(SERVER, 64, 4, 64)     # 256-byte rows on 64-byte lines, no reuse
    record = estimate(trace, SERVER)
    assert record.dram_bytes_written == trace.bytes_written
    assert record.cache_bytes >= trace.bytes_read + trace.bytes_written
    assert record.seconds == pytest.approx(record.cycles / (SERVER.clock_ghz * 1e9))


def test_records_add_up_to_totals():
    a, b = estimate(bag(SERVER, 32, 4, 64), SERVER), estimate(bag(EDGE, 32, 4, 64), EDGE)
    total = sum([a, b])
    assert total.cycles == a.cycles + b.cycles
    assert total.dram_bytes_read == a.dram_bytes_read + b.dram_bytes_read
    assert total.energy_joules == pytest.approx(a.energy_joules + b.energy_joules)
    assert len(total.core_cycles) == SERVER.cores


def test_an_event_with_more_tokens_than_a_queue_holds_is_refused():
    config = dataclasses.replace(EDGE, queue_capacity=1)
    trace = bag(config, 4, 2, 16)
    doubled = dataclasses.replace(trace, tokens=trace.tokens + trace.tokens)
    with pytest.raises(ValueError, match="more tokens than a queue holds"):
        estimate(doubled, config)


def test_hot_wide_rows_with_little_compute_are_bound_by_access_issue():
    config = dataclasses.replace(SERVER, cores=1, vector_bytes=1024)     # a 2 KiB row: 32 lines, 2 vector ops
    record = estimate(bag(config, 64, 16, 512, num_rows=32), config)
    assert record.bound is Bound.ACCESS_ISSUE


MODELS = {"fast": estimate, "reference": simulate}


@pytest.mark.parametrize("model", list(MODELS))
def test_a_scatter_writes_each_resident_destination_row_back_once(model):
    """Write-back: 64 destinations of 256 B fit edge's 1 MiB cache, so their 512 read-modify-writes reach
    DRAM as 64 rows written once (at the launch's end); a 4 KiB cache evicts them and writes back more."""
    run = MODELS[model]
    trace = scatter_trace(64, 8, 64, 1 << 20, seed=1)
    resident = run(trace, EDGE)
    assert resident.dram_bytes_written == 64 * 256
    thrashing = run(trace, dataclasses.replace(EDGE, cache_bytes=4 << 10))
    assert thrashing.dram_bytes_written > 2 * resident.dram_bytes_written


@pytest.mark.parametrize("model", list(MODELS))
def test_a_prefetch_helps_only_as_far_as_the_access_unit_runs_ahead(model):
    """A read that finds its line still being filled waits for the fill: with one queue entry the access
    unit cannot run ahead, so prefetching the destination rows saves almost nothing; with 16 it saves more."""
    run = MODELS[model]

    def saving(capacity: int) -> float:
        config = dataclasses.replace(EDGE, queue_capacity=capacity)
        plain, ahead = (run(scatter_trace(64, 4, 64, 1 << 20, seed=3, queue_depth=capacity, prefetch=p), config)
                        for p in (False, True))
        return plain.cycles / ahead.cycles

    assert saving(1) < 1.1
    assert saving(16) > 1.1


def test_scratch_reuse_leaves_no_trace_between_launches_or_threads():
    """The timing model reuses its intermediate arrays (``timing.arena``): a launch gives the same record
    after a bigger or a different launch, and launches on two threads at once do not share them."""
    from concurrent.futures import ThreadPoolExecutor

    small = bag(SERVER, 64, 4, 64, locality=Locality.ZIPF)
    big = scatter_trace(4096, 8, 64, 1 << 14, Locality.UNIFORM)
    alone = [estimate(small, SERVER), estimate(big, SERVER)]
    assert estimate(small, SERVER) == alone[0]          # after the bigger launch
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda t: estimate(t, SERVER), [small, big] * 4))
    assert together == alone * 4

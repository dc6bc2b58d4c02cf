"""The cycle-level reference simulator: each block alone, then the machine on tiny traces."""
import dataclasses
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dae_emulator.config import preset
from dae_emulator.cost import Bound
from dae_emulator.reference import simulate
from dae_emulator.reference.block import Request
from dae_emulator.reference.cache import Cache
from dae_emulator.reference.dram import Dram
from dae_emulator.synthetic import Locality, embedding_bag_trace
from dae_emulator.timing import estimate

EDGE = preset("edge")


def small_cache_config(num_sets: int, ways: int):
    return dataclasses.replace(EDGE, cache_bytes=num_sets * ways * EDGE.line_bytes, cache_ways=ways)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.lists(st.integers(0, 40), max_size=200))
def test_cache_block_is_lru_per_set(num_sets, ways, lines):
    config = small_cache_config(num_sets, ways)
    cache = Cache(config, Dram(config))
    sets = [OrderedDict() for _ in range(num_sets)]
    for cycle, line in enumerate(lines):
        resident = sets[line % num_sets]
        expected_hit = line in resident
        if expected_hit:
            resident.move_to_end(line)
        else:
            if len(resident) == ways:
                resident.popitem(last=False)
            resident[line] = None
        before = cache.stats().read_hits
        cache.access(Request(line, is_write=False, on_data=lambda _: None), cycle)
        assert (cache.stats().read_hits > before) == expected_hit


def test_dram_block_streams_at_its_bandwidth_after_its_latency():
    dram = Dram(EDGE)
    arrivals = []
    for line in range(100):
        dram.enqueue(Request(line, is_write=False, on_data=arrivals.append), arrival=0)
    cycle = 0
    while not dram.done():
        dram.advance(cycle)
        cycle = dram.next_cycle(cycle) or cycle + 1
    transfer = EDGE.line_bytes / (EDGE.dram_bandwidth_gbs / EDGE.clock_ghz)
    expected_last = 100 * transfer + EDGE.dram_latency_ns * EDGE.clock_ghz
    assert abs(max(arrivals) - expected_last) <= transfer
    assert dram.stats().bytes_read == 100 * EDGE.line_bytes


def test_one_lookup_costs_the_miss_path_then_the_callbacks():
    trace = embedding_bag_trace(1, 1, 16, 1 << 20, vector_bytes=EDGE.vector_bytes)
    record = simulate(trace, EDGE)
    miss_path = EDGE.cache_latency_cycles + EDGE.dram_latency_ns * EDGE.clock_ghz
    (core,) = record.core_cycles
    assert miss_path < core < miss_path + 30               # three lines on the bus, two short callbacks
    assert record.cycles >= core + EDGE.cache_latency_cycles  # and the posted store still crosses to DRAM
    assert record.cache_misses == 3                        # the offsets, index and row lines


def test_a_slow_execute_unit_fills_the_queue_and_stalls_access():
    config = dataclasses.replace(EDGE, queue_capacity=2, vector_bytes=4)   # 256 vector ops per row
    record = simulate(embedding_bag_trace(8, 8, 256, 64, vector_bytes=4), config)
    assert record.bound is Bound.COMPUTE
    assert record.stalls.access_queue_full > record.stalls.execute_queue_empty


def test_reference_and_fast_model_agree_on_a_tiny_multicore_trace():
    config = dataclasses.replace(preset("server"), cores=3)
    trace = embedding_bag_trace(30, 4, 32, 1 << 16, Locality.ZIPF, seed=3)
    reference, fast = simulate(trace, config), estimate(trace, config)
    assert abs(fast.cycles - reference.cycles) <= 0.1 * reference.cycles
    assert fast.dram_bytes_written == reference.dram_bytes_written


@pytest.mark.parametrize("tile", [1, 3, 7])
def test_reference_and_fast_model_agree_when_cores_take_tiles_in_turn(tile):
    config = dataclasses.replace(preset("server"), cores=3)
    trace = embedding_bag_trace(30, 4, 32, 1 << 16, Locality.ZIPF, seed=3, uneven=True, tile=tile)
    reference, fast = simulate(trace, config), estimate(trace, config)
    assert abs(fast.cycles - reference.cycles) <= 0.1 * reference.cycles
    assert fast.dram_bytes_read == reference.dram_bytes_read

"""The emulator's fast paths against the plain computations they replace (same answers, no timings)."""
import heapq

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dae_emulator.functional.access import RowGather
from dae_emulator.functional.execute import _segment_sums
from dae_emulator.timing import cache as cache_module
from dae_emulator.timing.access_unit import HIT, MISS, hold_slot, slot_free_at
from dae_emulator.timing.cache import SetAssociativeCache


def full_lru(lines: np.ndarray, writes: np.ndarray, cache: SetAssociativeCache) -> tuple:
    hits, dram_write = np.zeros(lines.size, dtype=bool), np.zeros(lines.size, dtype=bool)
    dirty = cache_module._replay(lines, writes, cache.num_sets, cache.ways, np.zeros(0, dtype=bool), hits, dram_write)
    return hits, dram_write, dirty


def assert_same(result, expected) -> None:
    np.testing.assert_array_equal(result.hits, expected[0])
    np.testing.assert_array_equal(result.dram_write, expected[1])
    assert result.dirty_at_end == expected[2]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(4, 2), (64, 4), (1024, 16)]), st.integers(1, 4000))
def test_cache_first_read_pass_matches_full_lru(seed, geometry, span):
    """Sets that never overflow decide hits by first reads; the rest are replayed: same hits, DRAM writes and
    dirty lines as LRU."""
    rng = np.random.default_rng(seed)
    lines = rng.integers(100, 100 + span, size=3000)
    writes = rng.random(3000) < 0.2
    cache = SetAssociativeCache(*geometry)
    assert_same(cache.replay(lines, writes), full_lru(lines, writes, cache))


def test_cache_far_apart_lines_take_the_full_replay():
    lines = np.array([0, 1 << 40, 0, 5, 1 << 40, 5], dtype=np.int64)
    writes = np.array([False, False, False, True, True, False])
    cache = SetAssociativeCache(2, 1)
    assert_same(cache.replay(lines, writes), full_lru(lines, writes, cache))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_slot_rings_free_up_like_a_min_heap(seed, slots):
    """The two sorted rings give the same earliest-free cycle as a heap of every slot's busy-until time,
    including busy-until times that arrive out of order."""
    rng = np.random.default_rng(seed)
    ring = np.zeros((1, 2, slots))
    head, count = np.zeros((1, 2), dtype=np.int64), np.zeros((1, 2), dtype=np.int64)
    heap: list[float] = []
    cycle = 0.0
    for _ in range(200):
        cycle += float(rng.integers(0, 3))
        expected = cycle if len(heap) < slots else max(cycle, heap[0])
        assert slot_free_at(ring, head, count, 0, cycle) == expected
        until = expected + float(rng.integers(1, 50))
        hold_slot(ring, head, count, 0, until, HIT if rng.random() < 0.5 else MISS)
        if len(heap) == slots:
            heapq.heapreplace(heap, until)
        else:
            heapq.heappush(heap, until)


def test_segment_sums_equal_index_add_of_the_gathered_rows():
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(50, 8, generator=generator)
    index = torch.randint(0, 50, (200,), generator=generator)
    seg = torch.sort(torch.randint(0, 7, (200,), generator=generator)).values
    expected = torch.zeros(9, 8).index_add_(0, seg, table[index])
    torch.testing.assert_close(_segment_sums(RowGather(table, index), seg, 9), expected, rtol=1e-6, atol=1e-6)

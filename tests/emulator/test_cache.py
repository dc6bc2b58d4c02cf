"""The fast model's set-associative LRU cache against a tiny, obviously correct LRU, on random streams."""
from collections import OrderedDict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dae_emulator.timing.cache import SetAssociativeCache


def tiny_lru(lines: list[int], writes: list[bool], num_sets: int, ways: int):
    """LRU per set, write-back without write-allocate: a read miss allocates its line (evicting a dirty line
    writes it to DRAM), a write hit marks its line dirty, a write miss goes straight to DRAM. Returns hits,
    which accesses wrote a line to DRAM, and the dirty lines left at the end."""
    sets = [OrderedDict() for _ in range(num_sets)]
    hits, dram_writes = [], []
    for line, write in zip(lines, writes):
        resident = sets[line % num_sets]
        hit = line in resident
        hits.append(hit)
        to_dram = False
        if hit:
            resident.move_to_end(line)
            resident[line] = resident[line] or write
        elif write:
            to_dram = True
        else:
            if len(resident) == ways:
                to_dram = resident.popitem(last=False)[1]
            resident[line] = False
        dram_writes.append(to_dram)
    return hits, dram_writes, sum(dirty for resident in sets for dirty in resident.values())


streams = st.integers(1, 4).flatmap(lambda sets: st.integers(1, 4).flatmap(lambda ways: st.tuples(
    st.just(sets), st.just(ways),
    st.lists(st.tuples(st.integers(0, 3 * sets * ways), st.booleans()), max_size=300),
)))


@settings(max_examples=200, deadline=None)
@given(streams)
def test_replay_matches_a_tiny_lru(stream):
    num_sets, ways, accesses = stream
    lines = [line for line, _ in accesses]
    writes = [write for _, write in accesses]
    got = SetAssociativeCache(num_sets, ways).replay(np.array(lines, dtype=np.int64), np.array(writes, dtype=bool))
    hits, dram_writes, dirty = tiny_lru(lines, writes, num_sets, ways)
    assert got.hits.tolist() == hits and got.dram_write.tolist() == dram_writes and got.dirty_at_end == dirty


def test_a_working_set_that_fits_hits_after_the_first_pass():
    cache = SetAssociativeCache(num_sets=4, ways=2)
    lines = np.tile(np.arange(8), 3)
    hits = cache.replay(lines, np.zeros(lines.size, dtype=bool)).hits
    assert not hits[:8].any() and hits[8:].all()


def test_a_cyclic_working_set_one_larger_than_a_set_always_misses():
    cache = SetAssociativeCache(num_sets=1, ways=4)
    lines = np.tile(np.arange(5), 4)       # LRU's worst case: each line is evicted just before its reuse
    assert not cache.replay(lines, np.zeros(lines.size, dtype=bool)).hits.any()


def test_repeated_updates_of_a_resident_line_reach_dram_once():
    """A scatter's read-modify-writes of one destination row: written back once, at the end."""
    cache = SetAssociativeCache(num_sets=4, ways=2)
    lines = np.tile(np.array([3, 3]), 50)                      # read, write, read, write, ...
    writes = np.tile(np.array([False, True]), 50)
    result = cache.replay(lines, writes)
    assert result.hits[1:].all() and not result.dram_write.any() and result.dirty_at_end == 1


def test_a_store_to_a_line_not_in_the_cache_goes_straight_to_dram_and_evicts_nothing():
    """An output row written once does not push table rows out of the cache."""
    cache = SetAssociativeCache(num_sets=1, ways=2)
    lines, writes = np.array([1, 2, 9, 1, 2]), np.array([False, False, True, False, False])
    result = cache.replay(lines, writes)
    assert result.hits.tolist() == [False, False, False, True, True]
    assert result.dram_write.tolist() == [False, False, True, False, False] and result.dirty_at_end == 0

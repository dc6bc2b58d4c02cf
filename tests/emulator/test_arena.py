"""The timing model's scratch arena: reused per purpose, bounded in what it keeps."""
import numpy as np

from dae_emulator.timing import arena


def test_a_purpose_reuses_its_array_and_a_new_dtype_replaces_it():
    first = arena.scratch("test reuse", 100, np.int64)
    again = arena.scratch("test reuse", 60, np.int64)
    assert again.size == 60 and np.shares_memory(first, again)
    other = arena.scratch("test reuse", 60, np.float32)
    assert other.dtype == np.float32 and other.size == 60 and not np.shares_memory(first, other)
    assert (arena.zeroed("test reuse", 50, np.float32) == 0).all()


def test_what_is_kept_between_launches_stays_under_the_bound():
    huge = arena.RETAINED_BYTES // 8 + 1          # int64 elements: more than the whole bound
    big = arena.scratch("test huge", huge, np.int64)
    assert big.size == huge
    assert arena.retained_bytes() <= arena.RETAINED_BYTES
    assert not np.shares_memory(big, arena.scratch("test huge", 10, np.int64))   # it was not kept

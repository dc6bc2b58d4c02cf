"""How the cores split a launch's outer items: one block each, or tiles dealt in turn."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dae_emulator.trace import item_cores


@given(num_items=st.integers(1, 300), cores=st.integers(1, 40), tile=st.one_of(st.none(), st.integers(1, 50)))
def test_every_item_goes_to_one_core_in_runs_of_a_tile_or_one_block(num_items, cores, tile):
    items = np.arange(num_items)
    core = item_cores(items, num_items, cores, tile)
    assert core.min() >= 0 and core.max() < cores
    if tile is None:      # nondecreasing blocks whose sizes differ by at most one
        assert np.all(np.diff(core) >= 0)
        sizes = np.bincount(core, minlength=cores)
        assert sizes.max() - sizes.min() <= 1
    else:                 # tile k of the launch goes to core k mod cores
        assert np.array_equal(core, (items // tile) % cores)
        sizes = np.bincount(core, minlength=cores)
        assert sizes.max() - sizes.min() <= tile

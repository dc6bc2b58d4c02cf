"""Deferred input checks (one read-back per region on a GPU) raise what the immediate ones raise, the first
failing check first, and nothing at all when the inputs are good. Deferral is exercised on the CPU here."""
import pytest
import torch

from torch_ember.region_spec import BagMode, RegionKind, RegionSpec
from torch_ember.runtime.adapters import ADAPTERS
from torch_ember.runtime.checks import deferred_checks, require

BAG = RegionSpec(RegionKind.EMBEDDING_BAG, "t", mode=BagMode.SUM)
TABLE = torch.randn(8, 3)


def _bag_inputs(indices, offsets, deferred):
    with deferred_checks(deferred):
        return ADAPTERS[RegionKind.EMBEDDING_BAG].program_inputs(BAG, [TABLE, torch.tensor(indices),
                                                                       torch.tensor(offsets)])


@pytest.mark.parametrize("indices,offsets,message", [
    ([1, 9, 2], [0, 1], "index 9 is out of range for table t with 8 rows"),
    ([1, 2, 3], [1, 2], "must start at 0, got offsets\\[0\\] = 1"),
    ([1, 2, 3], [0, 2, 1], "decrease: offsets\\[1\\] = 2 > offsets\\[2\\] = 1"),
    ([1, 2, 3], [0, 5], "point past the 3 indices"),
    ([1, 9, 2], [0, 5], "point past the 3 indices"),    # the offsets are checked first, as at once
])
def test_deferred_checks_raise_what_immediate_checks_raise(indices, offsets, message):
    for deferred in (False, True):
        with pytest.raises(RuntimeError, match=message):
            _bag_inputs(indices, offsets, deferred)


def test_good_inputs_pass_and_nothing_is_left_pending():
    inputs = _bag_inputs([1, 2, 3], [0, 2], deferred=True)
    assert inputs["offsets"].tolist() == [0, 2, 3]
    require(torch.tensor(False), lambda: pytest.fail("an immediate check that passes raised"))


def test_checks_are_read_when_the_block_ends_not_before():
    seen = []
    with pytest.raises(ValueError, match="second"):
        with deferred_checks():
            require(torch.tensor(False), lambda: seen.append("first"))
            require(torch.tensor(True), lambda: (_ for _ in ()).throw(ValueError("second")))
            seen.append("block ran to its end")
    assert seen == ["block ran to its end"]


def test_a_region_with_several_checks_reads_back_once(monkeypatch):
    """What a GPU pays for: every read of a value back to the host. A bag region has four checks (offsets
    start at 0, do not decrease, stay within the indices; indices in range): deferred, one read for all."""
    reads = []
    for name in ("__bool__", "item", "tolist", "__int__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _o=original, _n=name: reads.append(_n) or _o(self, *a))
    _bag_inputs([1, 2, 3], [0, 2], deferred=True)
    assert reads == ["tolist"]
    reads.clear()
    _bag_inputs([1, 2, 3], [0, 2], deferred=False)
    assert len(reads) == 4

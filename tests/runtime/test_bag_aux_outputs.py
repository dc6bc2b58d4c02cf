"""The embedding bag's auxiliary outputs (offset2bag, bag_size, max_indices) follow the conventions of the
ATen kernel for the tensors' device, since the graph was traced with those shapes and a backward left to
ATen reads them. The CPU ones are checked against ATen here; the CUDA ones against the values ATen's CUDA
kernel writes (checked against it on a GPU by tests/triton with EMBER_TRITON_DEVICE=cuda)."""
import pytest
import torch

from torch_ember.region_spec import BagMode, RegionKind, RegionSpec
from torch_ember.runtime.adapters import embedding_bag as adapters

TABLE = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
INDICES = torch.tensor([1, 5, 5, 2, 5, 3])
OFFSETS = torch.tensor([0, 2, 2, 5, 6])     # bags [1 5] [] [5 2 5] [3], with the last offset


def _kernel_outputs(spec):
    out, _, bag_size, max_indices = adapters.EmbeddingBagAdapter().reference(spec, [TABLE, INDICES, OFFSETS])
    outputs = {"out": out}
    if spec.mode is not BagMode.SUM:
        outputs["bag_size"] = bag_size
    if spec.mode is BagMode.MAX:
        outputs["max_indices"] = max_indices
    return outputs


@pytest.mark.parametrize("mode", list(BagMode))
@pytest.mark.parametrize("padding_idx", [-1, 5])
def test_cpu_conventions_are_atens(mode, padding_idx):
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "t", mode=mode, padding_idx=padding_idx, include_last_offset=True)
    want = adapters.EmbeddingBagAdapter().reference(spec, [TABLE, INDICES, OFFSETS])
    got = adapters.EmbeddingBagAdapter().finish(spec, [TABLE, INDICES, OFFSETS], _kernel_outputs(spec))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype and torch.equal(g, w)


@pytest.mark.parametrize("mode", list(BagMode))
def test_cuda_conventions(mode):
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "t", mode=mode, padding_idx=5, include_last_offset=True)
    offset2bag, bag_size, max_indices = adapters._cuda_bag_aux(spec, [TABLE, INDICES, OFFSETS],
                                                               _kernel_outputs(spec))
    assert offset2bag.tolist() == [0, 0, 2, 2, 2, 3]                 # every index, padding too
    assert bag_size.tolist() == [1, 0, 1, 1, 0]                      # non-padding lookups, one per offset
    if mode is BagMode.MAX:
        assert max_indices[1].tolist() == [-1] * 4                   # the empty bag
        assert max_indices[[0, 2, 3], 0].tolist() == [1, 2, 3]
    else:
        assert max_indices.shape == (0,)

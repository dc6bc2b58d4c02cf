"""Embedding-bag regions (forward, backward, per-sample-weights backward) and the table-batched launcher
through the Triton kernels, against eager ATen, under the interpreter on small shapes."""
import pytest
import torch
import torch.nn.functional as F

from torch_ember.region_spec import BagMode, RegionKind, RegionSpec
from torch_ember.triton import Bag, embedding_bags

ROWS, DIM = 30, 20   # DIM is not a power of two: the last column block is partly masked


def _bags(gen, n_bags=6, index_t=torch.int64, last=False):
    lengths = torch.randint(0, 7, (n_bags,), generator=gen)
    lengths[2] = 0                                                  # an empty bag
    indices = torch.randint(0, ROWS, (int(lengths.sum()),), generator=gen).to(index_t)
    indices[:3] = 5                                                 # repeats, and the padding row
    offsets = (torch.cumsum(lengths, 0) - lengths).to(index_t)
    if last:
        offsets = torch.cat([offsets, offsets.new_tensor([indices.numel()])])
    return indices, offsets


CASES = [  # mode, weighted, padding_idx, include_last_offset, table dtype, index dtype
    (BagMode.SUM, False, -1, False, torch.float32, torch.int64),
    (BagMode.SUM, True, 5, True, torch.float32, torch.int32),
    (BagMode.MEAN, False, 5, False, torch.float64, torch.int64),
    (BagMode.MAX, False, -1, True, torch.float32, torch.int64),
    (BagMode.MAX, False, 5, False, torch.float16, torch.int32),
]


@pytest.mark.parametrize("mode,weighted,pad,last,dtype,index_t", CASES)
def test_forward_and_backward_match_aten(check_region, mode, weighted, pad, last, dtype, index_t):
    gen = torch.Generator().manual_seed(int(mode) * 10 + pad)
    table = torch.randn(ROWS, DIM, generator=gen).to(dtype)
    indices, offsets = _bags(gen, index_t=index_t, last=last)
    psw = torch.rand(indices.numel(), generator=gen).to(dtype) if weighted else None
    tol = 1e-2 if dtype == torch.float16 else 1e-5
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "t", mode=mode, padding_idx=pad, include_last_offset=last,
                      has_weights=weighted)
    out, offset2bag, bag_size, max_indices = check_region(spec, [table, indices, offsets] + ([psw] if weighted else []),
                                                          tol)

    grad = torch.randn(out.shape, generator=gen).to(dtype)
    kind = RegionKind.EMBEDDING_BAG_MAX_BACKWARD if mode is BagMode.MAX else RegionKind.EMBEDDING_BAG_BACKWARD
    back = RegionSpec(kind, "t", mode=mode, padding_idx=pad, has_weights=weighted, num_weights=ROWS, dim=DIM)
    check_region(back, [grad, indices, offsets, offset2bag, bag_size, max_indices] + ([psw] if weighted else []), tol)
    if weighted:
        spec_w = RegionSpec(RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD, "t", mode=mode, padding_idx=pad)
        check_region(spec_w, [grad, table, indices, offsets, offset2bag], tol)


def test_one_launch_pools_tables_of_different_widths_and_modes():
    gen = torch.Generator().manual_seed(1)
    widths, modes = (20, 8, 33), (BagMode.SUM, BagMode.MAX, BagMode.MEAN)
    bags, expected = [], []
    for k, (width, mode) in enumerate(zip(widths, modes)):
        table = torch.randn(ROWS, width, generator=gen)
        indices, offsets = _bags(gen, n_bags=4 + k, last=True)
        psw = torch.rand(indices.numel(), generator=gen) if mode is BagMode.SUM else None
        bags.append(Bag(table, indices, offsets, mode, psw, padding_idx=5 if mode is BagMode.MEAN else -1))
        expected.append(F.embedding_bag(indices, table, offsets, mode=mode.name.lower(), per_sample_weights=psw,
                                        include_last_offset=True, padding_idx=bags[-1].padding_idx if k == 2 else None))
    results = embedding_bags(bags)
    for got, want, bag in zip(results, expected, bags):
        torch.testing.assert_close(got["out"], want)
        if bag.mode is not BagMode.SUM:
            assert got["bag_size"].shape == (bag.offsets.numel() - 1,)
    max_ref = torch.ops.aten._embedding_bag(bags[1].table, bags[1].indices, bags[1].offsets, False, 2, False, None, True)
    assert torch.equal(results[1]["max_indices"], max_ref[3])


def test_batched_launcher_rejects_mixed_dtypes():
    t = torch.randn(4, 3)
    i, o = torch.tensor([0, 1]), torch.tensor([0, 2])
    with pytest.raises(ValueError, match="one dtype"):
        embedding_bags([Bag(t, i, o), Bag(t.double(), i, o)])

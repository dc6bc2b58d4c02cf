"""Sizes the tasks are checked at, and the segment helpers their PyTorch references share.

Each family has a small case, a degenerate one (nothing to look up, every bag empty) and an odd-sized one;
``bench`` sizes are where modeled cycles are compared.
"""
from __future__ import annotations

import torch

GATHER = ({"num_rows": 7, "dim": 4, "num_indices": 10}, {"num_rows": 3, "dim": 1, "num_indices": 0},
          {"num_rows": 30, "dim": 9, "num_indices": 33})
GATHER_BENCH = {"num_rows": 100_000, "dim": 64, "num_indices": 4096}

BAG = ({"num_rows": 7, "dim": 4, "num_indices": 12, "num_offsets": 5},
       {"num_rows": 3, "dim": 2, "num_indices": 0, "num_offsets": 3},
       {"num_rows": 25, "dim": 9, "num_indices": 40, "num_offsets": 9})
BAG_BENCH = {"num_rows": 100_000, "dim": 64, "num_indices": 8192, "num_offsets": 513}

PAD = 2                     # the padding index of every padded task (every case has at least 3 rows)
SCATTER_ROWS = 16           # rows of a scatter-add output


def segments(offsets: torch.Tensor) -> torch.Tensor:
    """The segment of every position ``offsets[0] .. offsets[-1]``."""
    lengths = offsets[1:] - offsets[:-1]
    return torch.repeat_interleave(torch.arange(lengths.numel()), lengths)


def segment_sum(values: torch.Tensor, offsets: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    seg = segments(offsets)
    if keep is not None:
        values, seg = values[keep], seg[keep]
    out = torch.zeros((offsets.numel() - 1,) + values.shape[1:], dtype=values.dtype)
    return out.index_add_(0, seg, values)


def segment_count(offsets: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    ones = torch.ones(int(offsets[-1]) if offsets.numel() else 0)
    return segment_sum(ones, offsets, keep)


def segment_max(values: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Max per segment; an empty segment gives 0, as ``embedding_bag(mode='max')`` does."""
    seg = segments(offsets)
    out = torch.full((offsets.numel() - 1,) + values.shape[1:], float("-inf"), dtype=values.dtype)
    index = seg.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    out.scatter_reduce_(0, index, values, "amax", include_self=True)
    return torch.where(torch.isinf(out), torch.zeros_like(out), out)


def segment_mean(values: torch.Tensor, offsets: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    total = segment_sum(values, offsets, keep)
    count = segment_count(offsets, keep).clamp(min=1)
    return total / count.view(-1, *([1] * (values.dim() - 1)))

"""Draw a task's inputs for one case and seed, with the hard corners forced in.

Indices always repeat (duplicates are where scatter-add and max break), bag boundaries always leave a bag
empty when there are at least two bags (empty bags are where mean and max break), and padded index inputs
always contain the padding index.
"""
from __future__ import annotations

import torch

from dae_emulator.functional.execute import TORCH_DTYPE

from .spec import Gen, Task, TensorSpec, size_of


def make_inputs(task: Task, sizes: dict[str, int], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {t.name: _draw(t, sizes, g) for t in task.inputs}


def _draw(t: TensorSpec, sizes: dict[str, int], g: torch.Generator) -> torch.Tensor:
    shape = tuple(size_of(d, sizes) for d in t.dims)
    dtype = TORCH_DTYPE[t.dtype.value]
    if t.gen is Gen.NORMAL:
        return torch.randn(shape, generator=g).to(dtype)
    if t.gen is Gen.UNIFORM:
        return torch.rand(shape, generator=g).to(dtype)
    bound = size_of(t.bound, sizes)
    if t.gen is Gen.OFFSETS:
        return _offsets(shape[0], bound, g).to(dtype)
    return _indices(shape[0], bound, t.pad, g).to(dtype)


def _indices(n: int, bound: int, pad: int | None, g: torch.Generator) -> torch.Tensor:
    idx = torch.randint(0, max(bound, 1), (n,), generator=g)
    if n >= 2:
        idx[-1] = idx[0]                      # a duplicate
    if pad is not None and n >= 3:
        idx[1] = pad                          # the padding index, at least once
        idx[torch.rand(n, generator=g) < 0.2] = pad
    return idx


def _offsets(length: int, total: int, g: torch.Generator) -> torch.Tensor:
    if length < 2:
        return torch.zeros(length, dtype=torch.int64)
    inner = torch.sort(torch.randint(0, total + 1, (length - 2,), generator=g)).values
    offsets = torch.cat([torch.tensor([0]), inner, torch.tensor([total])])
    if length >= 3:
        offsets[1] = 0                        # bag 0 is empty
    return offsets

"""The GP's kernels are valid covariances: symmetric, unit diagonal, positive semi-definite."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tune.surrogate import PermutationDistance
from tune.surrogate.kernels import HammingKernel, PermutationKernel


def _permutations(n: int):
    return st.lists(st.permutations(list(range(n))), min_size=1, max_size=12)


def _assert_psd(matrix: torch.Tensor) -> None:
    assert torch.allclose(matrix, matrix.T, atol=1e-12)
    assert torch.allclose(torch.diagonal(matrix), torch.ones(len(matrix), dtype=matrix.dtype))
    assert torch.linalg.eigvalsh(matrix).min() >= -1e-9


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 7),
    data=st.data(),
    lengthscale=st.floats(0.01, 10.0),
    distance=st.sampled_from(list(PermutationDistance)),
)
def test_permutation_kernel_is_positive_semi_definite(n, data, lengthscale, distance):
    perms = data.draw(_permutations(n))
    kernel = PermutationKernel(n, distance).double()
    kernel.lengthscale = lengthscale
    x = torch.tensor(perms, dtype=torch.float64)
    with torch.no_grad():
        _assert_psd(kernel(x, x).to_dense())


@pytest.mark.parametrize("distance", list(PermutationDistance))
def test_permutation_kernel_is_psd_over_all_permutations_of_five(distance):
    """The full Gram matrix over S5 (120 permutations), the hardest case for a rank-distance kernel."""
    kernel = PermutationKernel(5, distance).double()
    kernel.lengthscale = 0.3
    x = torch.tensor(list(itertools.permutations(range(5))), dtype=torch.float64)
    with torch.no_grad():
        _assert_psd(kernel(x, x).to_dense())


def test_kendall_distance_counts_discordant_pairs():
    kernel = PermutationKernel(4, PermutationDistance.KENDALL).double()
    kernel.lengthscale = 1.0
    x = torch.tensor([[0, 1, 2, 3], [1, 0, 2, 3], [3, 2, 1, 0]], dtype=torch.float64)
    with torch.no_grad():
        k = kernel(x, x).to_dense()
    # one of six pairs swapped, then all six
    assert np.allclose(-torch.log(k[0]).numpy(), [0.0, 1 / 6, 1.0])


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=1, max_size=15))
def test_hamming_kernel_is_positive_semi_definite(rows):
    kernel = HammingKernel(ard_num_dims=3).double()
    kernel.lengthscale = torch.tensor([[0.2, 1.0, 5.0]], dtype=torch.float64)
    x = torch.tensor(rows, dtype=torch.float64)
    with torch.no_grad():
        _assert_psd(kernel(x, x).to_dense())

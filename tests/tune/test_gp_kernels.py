"""The GP's kernels are valid covariances (symmetric, unit diagonal, positive semi-definite), their
distances mean what they say, and the fitted mix of permutation distances follows the objective."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tune
from tune.surrogate import MIXED_DISTANCES, Combination, PermutationDistance, SurrogateKind, fit_surrogate
from tune.surrogate.gp import GaussianProcess
from tune.surrogate.kernels import HammingKernel, PermutationKernel, make_kernel


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


def _distances(kind: PermutationDistance, rows: list[tuple[int, ...]]) -> np.ndarray:
    kernel = PermutationKernel(len(rows[0]), kind).double()
    kernel.lengthscale = 1.0
    x = torch.tensor(rows, dtype=torch.float64)
    with torch.no_grad():
        return -torch.log(kernel(x, x).to_dense()).numpy()


def test_adjacency_distance_counts_neighbouring_pairs_not_shared():
    # 0-1-2-3-4: its reversal has the same neighbours; a 2-opt move (reverse 1..3) breaks two of four;
    # swapping the ends breaks all four pairs but 1-2 and 2-3
    rows = [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (0, 3, 2, 1, 4), (4, 1, 2, 3, 0)]
    assert np.allclose(_distances(PermutationDistance.ADJACENCY, rows)[0], [0.0, 0.0, 0.5, 0.5])


def test_position_distance_counts_elements_moved():
    rows = [(0, 1, 2, 3), (1, 0, 2, 3), (1, 2, 3, 0), (0, 1, 2, 3)]
    assert np.allclose(_distances(PermutationDistance.POSITION, rows)[0], [0.0, 0.5, 1.0, 0.0])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 7), data=st.data(), lengthscales=st.lists(st.floats(0.01, 10.0), min_size=3, max_size=3),
       logits=st.lists(st.floats(-5.0, 5.0), min_size=3, max_size=3))
def test_mixed_permutation_kernel_is_positive_semi_definite(n, data, lengthscales, logits):
    perms = data.draw(_permutations(n))
    kernel = PermutationKernel(n, MIXED_DISTANCES).double()
    kernel.lengthscale = torch.tensor([lengthscales], dtype=torch.float64)
    kernel.raw_mix.data = torch.tensor(logits, dtype=torch.float64)
    x = torch.tensor(perms, dtype=torch.float64)
    with torch.no_grad():
        _assert_psd(kernel(x, x).to_dense())
    assert torch.isclose(kernel.mix.sum(), torch.tensor(1.0, dtype=torch.float64))


def _tour_length(order, places) -> float:
    return float(sum(np.linalg.norm(places[order[i]] - places[order[(i + 1) % len(order)]]) for i in range(len(order))))


def _fitted_mix(objective, n: int = 8, points: int = 40) -> dict[PermutationDistance, float]:
    space = tune.Space([tune.Permutation("p", n)])
    configs = space.sample(np.random.default_rng(0), points)
    gp = GaussianProcess.fit(space, space.encode(configs), np.asarray([objective(c["p"]) for c in configs]))
    kernel = next(m for m in gp.model.modules() if isinstance(m, PermutationKernel))
    return dict(zip(kernel.distances, kernel.mix.detach().tolist()))


def test_marginal_likelihood_weights_the_distance_that_explains_the_objective():
    """A tour's length depends on which elements are neighbours; a count of inversions, on pairwise order;
    where two elements stand, on positions. (Each got a weight above 0.99 when written.)"""
    places = np.random.default_rng(1).random((8, 2))
    tour = _fitted_mix(lambda p: _tour_length(p, places))
    assert tour[PermutationDistance.ADJACENCY] > 0.6, tour
    order = _fitted_mix(lambda p: sum(a > b for i, a in enumerate(p) for b in p[i + 1:]))
    assert order[PermutationDistance.KENDALL] > 0.6, order
    slots = _fitted_mix(lambda p: p.index(0) + 2 * p.index(3))
    assert slots[PermutationDistance.POSITION] > 0.6, slots


def test_predictions_equal_gpytorchs_own_posterior():
    space = tune.Space([tune.Real("x", 0, 1), tune.Permutation("p", 5)])
    rng = np.random.default_rng(2)
    train, test = space.sample(rng, 20), space.sample(rng, 50)
    y = np.asarray([c["x"] ** 2 + c["p"][0] for c in train])
    gp = GaussianProcess.fit(space, space.encode(train), y)
    mean, std = gp.predict(space.encode(test))
    with torch.no_grad():
        posterior = gp.model(torch.as_tensor(space.encode(test)))
    assert np.allclose(mean, posterior.mean.numpy() * gp.scale + gp.offset, atol=1e-8)
    assert np.allclose(std, posterior.variance.clamp_min(1e-12).sqrt().numpy() * gp.scale, atol=1e-8)


@pytest.mark.parametrize("kind", list(SurrogateKind))
def test_a_believed_point_keeps_the_mean_and_loses_the_uncertainty(kind):
    """The Kriging believer that a batch proposes from: pending points observed at the surrogate's own mean."""
    space = tune.Space([tune.Real("x", 0, 1), tune.Permutation("p", 5)])
    rng = np.random.default_rng(3)
    train, pending, test = space.sample(rng, 20), space.sample(rng, 3), space.sample(rng, 50)
    y = np.asarray([c["x"] ** 2 + c["p"][0] for c in train])
    surrogate = fit_surrogate(kind, space, space.encode(train), y, seed=0)
    believing = surrogate.fantasize(space.encode(pending))
    mean, std = surrogate.predict(space.encode(pending))
    believed_mean, believed_std = believing.predict(space.encode(pending))
    assert (believed_std < std).all(), (std, believed_std)
    if kind is SurrogateKind.FOREST:     # refit trees: the mean moves a little, the spread shrinks
        assert (np.abs(believed_mean - mean) < std).all(), (mean, believed_mean, std)
        return
    # a GP posterior: the mean stays, a believed point is as certain as an evaluated one, none is added anywhere
    evaluated_std = surrogate.predict(space.encode(train))[1]
    assert np.allclose(believed_mean, mean, atol=1e-6)
    assert (believed_std <= 1.5 * evaluated_std.max()).all(), (believed_std, evaluated_std)
    test_mean, test_std = surrogate.predict(space.encode(test))
    after_mean, after_std = believing.predict(space.encode(test))
    assert np.allclose(after_mean, test_mean, atol=1e-6) and (after_std <= test_std + 1e-9).all()


def _additive_parts(k: int = 4):
    """A space of ``k`` parts with two knobs each, and a cost that is the sum of the parts' costs."""
    space = tune.Space([p for i in range(k)
                        for p in (tune.Integer(f"p{i}_a", 1, 16), tune.Ordinal(f"p{i}_b", (1, 2, 4, 8)))])
    groups = tuple((f"p{i}_a", f"p{i}_b") for i in range(k))

    def cost(c):
        return sum((c[f"p{i}_a"] - 3 - 3 * i) ** 2 / 40 + abs(np.log2(c[f"p{i}_b"]) - i % 4) * (1 + c[f"p{i}_a"] / 16)
                   for i in range(k))
    return space, groups, cost


def test_groups_model_a_sum_of_parts_better_than_one_kernel_over_all():
    space, groups, cost = _additive_parts()
    rng = np.random.default_rng(4)
    train, test = space.sample(rng, 24), space.sample(rng, 200)
    y, truth = np.asarray([cost(c) for c in train]), np.asarray([cost(c) for c in test])
    errors = {}
    for name, by in (("one kernel", ()), ("groups", groups)):
        gp = GaussianProcess.fit(space, space.encode(train), y, groups=by)
        errors[name] = float(np.sqrt(np.mean((gp.predict(space.encode(test))[0] - truth) ** 2)))
    assert errors["groups"] < 0.7 * errors["one kernel"], errors


def test_groups_name_the_spaces_parameters_and_the_rest_form_one_more():
    space, groups, _ = _additive_parts()
    kernel = make_kernel(space, MIXED_DISTANCES, Combination.PRODUCT, groups[:2])
    assert len(kernel.kernels) == 3        # two groups, and p2_*, p3_* together
    with pytest.raises(ValueError, match="unknown: p9_a"):
        tune.BayesianSampler(space, options=tune.BayesianOptions(groups=(("p0_a", "p9_a"),)))
    with pytest.raises(ValueError, match="non-empty groups"):
        tune.BayesianSampler(space, options=tune.BayesianOptions(groups=((),)))

"""Kernels for each parameter type, built on GPyTorch so hyperparameters are fit by its marginal likelihood.

Numeric parameters (reals, integers, ordinals) share one ARD Matern kernel in normalized space;
categoricals get an overlap (Hamming) kernel; every permutation gets its own kernel over one or several
distances between orderings (by default a learned mix of precedence, adjacency and position).
The parts are combined as a product (interactions between types, BaCO's default) or a sum.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from gpytorch.kernels import AdditiveKernel, Kernel, MaternKernel, ProductKernel, ScaleKernel
from gpytorch.priors import GammaPrior

from tune.params import ParamKind
from tune.space import Space
from tune.surrogate import Combination, PermutationDistance


_NUMERIC = (ParamKind.REAL, ParamKind.INTEGER, ParamKind.ORDINAL)


def _lengthscale() -> dict[str, GammaPrior]:
    """A prior pulling lengthscales toward ~0.5 of the normalized range, so small data sets do not overfit."""
    return {"lengthscale_prior": GammaPrior(3.0, 6.0)}


def _outputscale_prior() -> GammaPrior:
    """Signal variance of standardized targets: broad (mean about 13), so the data decide."""
    return GammaPrior(2.0, 0.15)


class HammingKernel(Kernel):
    """exp(-sum_i [x_i != y_i] / l_i): a product over columns of PSD two-level kernels, hence PSD."""

    has_lengthscale = True

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        if diag:
            return torch.ones(x1.shape[:-1], dtype=x1.dtype, device=x1.device)
        differ = (x1.unsqueeze(-2) != x2.unsqueeze(-3)).to(x1.dtype)
        return torch.exp(-(differ / self.lengthscale.unsqueeze(-2)).sum(-1))


class PermutationKernel(Kernel):
    """sum_k w_k exp(-d_k(x, y) / l_k) over normalized distances d_k in [0, 1] between orderings.

    Each term is positive definite: with Kendall's distance it is the Mallows kernel (Jiao & Vert, 2015);
    Spearman's, adjacency and position distances are squared Euclidean distances between feature vectors
    (rank vectors; which pairs are neighbours; which element sits where), so their terms are Gaussian
    kernels on those features. The weights w = softmax(mix) are fit with the lengthscales by marginal
    likelihood; a convex combination of unit-diagonal PSD kernels is one too. With one distance, w = 1.
    """

    has_lengthscale = True

    def __init__(self, n: int, distances: PermutationDistance | Sequence[PermutationDistance], **kwargs) -> None:
        distances = (distances,) if isinstance(distances, PermutationDistance) else tuple(distances)
        if not distances or len(set(distances)) != len(distances):
            raise ValueError(f"need distinct permutation distances, got {distances}")
        super().__init__(**kwargs)
        self.n, self.distances = n, distances
        # one lengthscale per distance; not GPyTorch's ard_num_dims, which would count input columns
        self.raw_lengthscale = torch.nn.Parameter(torch.zeros(*self.batch_shape, 1, len(distances)))
        pairs = list(itertools.combinations(range(n), 2))
        self.register_buffer("first", torch.tensor([i for i, _ in pairs], dtype=torch.long))
        self.register_buffer("second", torch.tensor([j for _, j in pairs], dtype=torch.long))
        self.register_parameter("raw_mix", torch.nn.Parameter(torch.zeros(len(distances))))

    @property
    def mix(self) -> torch.Tensor:
        """The weight of each distance's term, in ``distances`` order; they add up to one."""
        return torch.softmax(self.raw_mix, dim=-1)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        if diag:
            return torch.ones(x1.shape[:-1], dtype=x1.dtype, device=x1.device)
        d = torch.stack([permutation_distance(x1, x2, kind, self) for kind in self.distances], dim=-1)
        return (self.mix * torch.exp(-d / self.lengthscale.unsqueeze(-2))).sum(-1)


def _spearman_max(n: int) -> float:
    """The largest squared distance between two rank vectors (one reversed against the other)."""
    return float(max(sum((2 * i - n + 1) ** 2 for i in range(n)), 1))


def _neighbour_pairs(x: torch.Tensor, n: int) -> torch.Tensor:
    """Per row, an n x n 0/1 matrix (flattened) marking the unordered pairs that stand next to each other."""
    place = torch.nn.functional.one_hot(x.long(), n).to(x.dtype)            # [..., position, element]
    follows = place[..., :-1, :].transpose(-1, -2) @ place[..., 1:, :]      # a directly before b
    return (follows + follows.transpose(-1, -2)).flatten(-2)


def permutation_distance(x1: torch.Tensor, x2: torch.Tensor, distance: PermutationDistance,
                         kernel: PermutationKernel) -> torch.Tensor:
    """Normalized distance in [0, 1] between every row of x1 and every row of x2 (rows: the element at each
    position)."""
    n = kernel.n
    if distance is PermutationDistance.SPEARMAN:
        return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).pow(2).sum(-1) / _spearman_max(n)
    if distance is PermutationDistance.POSITION:
        return (x1.unsqueeze(-2) != x2.unsqueeze(-3)).to(x1.dtype).sum(-1) / n
    if distance is PermutationDistance.ADJACENCY:
        shared = _neighbour_pairs(x1, n) @ _neighbour_pairs(x2, n).transpose(-1, -2) / 2.0
        return 1.0 - shared / max(n - 1, 1) if n > 1 else torch.zeros_like(shared)
    pairs = len(kernel.first)
    s1 = torch.sign(x1[..., kernel.first] - x1[..., kernel.second])
    s2 = torch.sign(x2[..., kernel.first] - x2[..., kernel.second])
    return (pairs - s1 @ s2.transpose(-1, -2)) / (2.0 * max(pairs, 1))


def make_kernel(space: Space, distance: PermutationDistance | Sequence[PermutationDistance],
                combination: Combination, groups: Sequence[Sequence[str]] = ()) -> Kernel:
    """One kernel per parameter type, each acting on its own encoded columns, combined by ``combination``.
    With ``groups`` (names of parameters whose effects on the objective add up; the parameters in no group
    form one more), the sum of one such kernel per group, each with its own scale: an additive model, which
    needs far fewer evaluations than one kernel over all parameters when the objective is a sum of parts."""
    if not groups:
        return _kernel(space, space.names, distance, combination)
    grouped = {name for names in groups for name in names}
    rest = [name for name in space.names if name not in grouped]
    parts = [*groups, rest] if rest else list(groups)
    return AdditiveKernel(*(_kernel(space, names, distance, combination) for names in parts))


def _kernel(space: Space, names: Sequence[str], distance: PermutationDistance | Sequence[PermutationDistance],
            combination: Combination) -> Kernel:
    columns = space.columns()
    groups = [columns[name] for name in names]
    numeric = [c for kind, cols in groups if kind in _NUMERIC for c in cols]
    categorical = [c for kind, cols in groups if kind is ParamKind.CATEGORICAL for c in cols]
    parts: list[Kernel] = []
    if numeric:
        parts.append(MaternKernel(nu=2.5, ard_num_dims=len(numeric), active_dims=numeric, **_lengthscale()))
    if categorical:
        parts.append(HammingKernel(ard_num_dims=len(categorical), active_dims=categorical, **_lengthscale()))
    for kind, cols in groups:
        if kind is ParamKind.PERMUTATION:
            parts.append(PermutationKernel(len(cols), distance, active_dims=cols, **_lengthscale()))
    if combination is Combination.PRODUCT or len(parts) == 1:
        return ScaleKernel(ProductKernel(*parts), outputscale_prior=_outputscale_prior())
    return AdditiveKernel(*(ScaleKernel(p, outputscale_prior=_outputscale_prior()) for p in parts))

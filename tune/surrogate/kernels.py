"""Kernels for each parameter type, built on GPyTorch so hyperparameters are fit by its marginal likelihood.

Numeric parameters (reals, integers, ordinals) share one ARD Matern kernel in normalized space;
categoricals get an overlap (Hamming) kernel; every permutation gets its own kernel over a rank distance.
The parts are combined as a product (interactions between types, BaCO's default) or a sum.
"""
from __future__ import annotations

import itertools

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
    """exp(-d(x, y) / l) over a normalized rank distance in [0, 1].

    With Kendall's distance this is the Mallows kernel, positive definite for every l > 0 (Jiao & Vert,
    2015); with Spearman's (squared Euclidean between rank vectors) it is a Gaussian kernel on the ranks.
    """

    has_lengthscale = True

    def __init__(self, n: int, distance: PermutationDistance, **kwargs) -> None:
        super().__init__(**kwargs)
        self.distance = distance
        pairs = list(itertools.combinations(range(n), 2))
        self.register_buffer("first", torch.tensor([i for i, _ in pairs], dtype=torch.long))
        self.register_buffer("second", torch.tensor([j for _, j in pairs], dtype=torch.long))
        self.scale = float(max(len(pairs), 1)) if distance is PermutationDistance.KENDALL else _spearman_max(n)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        if diag:
            return torch.ones(x1.shape[:-1], dtype=x1.dtype, device=x1.device)
        return torch.exp(-permutation_distance(x1, x2, self) / self.lengthscale.squeeze(-1).unsqueeze(-1))


def _spearman_max(n: int) -> float:
    """The largest squared distance between two rank vectors (one reversed against the other)."""
    return float(max(sum((2 * i - n + 1) ** 2 for i in range(n)), 1))


def permutation_distance(x1: torch.Tensor, x2: torch.Tensor, kernel: PermutationKernel) -> torch.Tensor:
    """Normalized distance in [0, 1] between every row of x1 and every row of x2."""
    if kernel.distance is PermutationDistance.SPEARMAN:
        return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).pow(2).sum(-1) / kernel.scale
    s1 = torch.sign(x1[..., kernel.first] - x1[..., kernel.second])
    s2 = torch.sign(x2[..., kernel.first] - x2[..., kernel.second])
    return (len(kernel.first) - s1 @ s2.transpose(-1, -2)) / (2.0 * kernel.scale)


def make_kernel(space: Space, distance: PermutationDistance, combination: Combination) -> Kernel:
    """One kernel per parameter group, each acting on its own encoded columns."""
    groups = list(space.columns().values())
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

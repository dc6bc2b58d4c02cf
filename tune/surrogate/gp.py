"""Gaussian-process surrogate: GPyTorch exact GP with the mixed-type kernel of ``kernels.py``.

Targets are standardized before fitting; hyperparameters are fit by L-BFGS on the marginal likelihood
(plus the kernels' priors), starting from the same values every time so a seed fixes the whole run.
If the fit fails numerically, the GP keeps those starting values.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch
from linear_operator.utils.errors import NotPSDError

from tune.space import Space
from tune.surrogate import MIXED_DISTANCES, Combination, PermutationDistance
from tune.surrogate.kernels import make_kernel

# L-BFGS iterations for the hyperparameters; the data sets of autotuning are small, so this converges.
_FIT_ITERATIONS = 20
# Observation noise floor (in standardized units): keeps Cholesky stable on near-duplicate points.
_MIN_NOISE = 1e-4


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Autotuning matrices are tiny: extra intra-op threads only add contention (5x slower on a busy host)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _ExactGP(gpytorch.models.ExactGP):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, kernel: gpytorch.kernels.Kernel) -> None:
        likelihood = gpytorch.likelihoods.GaussianLikelihood(
            noise_prior=gpytorch.priors.GammaPrior(1.1, 0.05),
            noise_constraint=gpytorch.constraints.GreaterThan(_MIN_NOISE),
        )
        super().__init__(x, y, likelihood)
        self.mean = gpytorch.means.ConstantMean()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean(x), self.kernel(x))


@dataclass(frozen=True)
class GaussianProcess:
    """A fitted GP; ``predict`` gives mean and standard deviation in the units of the fitted targets.

    The posterior is computed here from one Cholesky factor kept from the fit: GPyTorch's prediction path
    builds the whole test-by-test covariance to read its diagonal, which over the thousands of candidates
    the acquisition optimizer scores per step cost more than everything else.
    """

    model: _ExactGP
    offset: float
    scale: float
    train_x: torch.Tensor
    train_y: torch.Tensor     # standardized targets
    factor: torch.Tensor      # Cholesky factor of K(train, train) + noise
    weights: torch.Tensor     # (K + noise)^-1 (y - prior mean)
    prior_mean: float

    @classmethod
    @_one_thread()
    def fit(
        cls,
        space: Space,
        x: np.ndarray,
        y: np.ndarray,
        distance: PermutationDistance | tuple[PermutationDistance, ...] = MIXED_DISTANCES,
        combination: Combination = Combination.PRODUCT,
        groups: Sequence[Sequence[str]] = (),
    ) -> GaussianProcess:
        offset, scale = float(np.mean(y)), float(np.std(y)) or 1.0
        tx = torch.as_tensor(x, dtype=torch.float64)
        ty = torch.as_tensor((y - offset) / scale, dtype=torch.float64)
        model = _ExactGP(tx, ty, make_kernel(space, distance, combination, groups)).double()
        model.train()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        optimizer = torch.optim.LBFGS(
            model.parameters(), lr=0.1, max_iter=_FIT_ITERATIONS, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = -mll(model(tx), ty)
            loss.backward()
            return loss

        initial = copy.deepcopy(model.state_dict())
        try:
            with gpytorch.settings.cholesky_jitter(1e-6):
                optimizer.step(closure)
            fitted = all(torch.isfinite(p).all() for p in model.parameters())
        except NotPSDError:
            fitted = False
        if not fitted:  # a numerical failure costs one step's model quality, never the tuning run
            model.load_state_dict(initial)
        model.eval()
        return cls._posterior(model, offset, scale, tx, ty)

    @classmethod
    def _posterior(cls, model: _ExactGP, offset: float, scale: float, tx: torch.Tensor, ty: torch.Tensor
                   ) -> GaussianProcess:
        with torch.no_grad():
            covariance = model.kernel(tx).to_dense() + model.likelihood.noise * torch.eye(len(tx), dtype=tx.dtype)
            factor = _cholesky(covariance)
            prior_mean = float(model.mean.constant)
            weights = torch.cholesky_solve((ty - prior_mean).unsqueeze(-1), factor).squeeze(-1)
        return cls(model, offset, scale, tx, ty, factor, weights, prior_mean)

    @_one_thread()
    def fantasize(self, x: np.ndarray) -> GaussianProcess:
        """This GP, also conditioned on the encoded configurations ``x`` observed at its own mean (the Kriging
        believer), with the same hyperparameters: the mean is unchanged, the uncertainty near ``x`` shrinks."""
        with torch.no_grad():
            tx = torch.as_tensor(x, dtype=torch.float64)
            believed = self.prior_mean + self.model.kernel(tx, self.train_x).to_dense() @ self.weights
        return self._posterior(self.model, self.offset, self.scale, torch.cat([self.train_x, tx]),
                               torch.cat([self.train_y, believed]))

    @_one_thread()
    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            tx = torch.as_tensor(x, dtype=torch.float64)
            cross = self.model.kernel(tx, self.train_x).to_dense()
            prior_variance = self.model.kernel(tx, diag=True)
            explained = torch.linalg.solve_triangular(self.factor, cross.T, upper=False).pow(2).sum(0)
            mean = (self.prior_mean + cross @ self.weights).numpy() * self.scale + self.offset
            std = (prior_variance - explained).clamp_min(1e-12).sqrt().numpy() * self.scale
        return mean, std


def _cholesky(matrix: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor, adding jitter tenfold from 1e-6 until the matrix factors (as GPyTorch does)."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    jitter = 1e-6
    while int(info) != 0 and jitter < 1.0:
        factor, info = torch.linalg.cholesky_ex(matrix + jitter * torch.eye(len(matrix), dtype=matrix.dtype))
        jitter *= 10
    return factor

"""Acquisition: expected improvement, weighted by the probability that a configuration is feasible."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from tune.feasibility import FeasibilityModel
from tune.space import Space
from tune.surrogate import Surrogate


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """E[max(best - f, 0)] for f ~ N(mean, std^2): minimization, so improvement is going below ``best``."""
    std = np.maximum(std, 1e-12)
    z = (best - mean) / std
    return (best - mean) * norm.cdf(z) + std * norm.pdf(z)


@dataclass(frozen=True)
class ConstrainedEI:
    """EI(x) * P(feasible | x), and zero where P(feasible | x) < ``min_feasibility``.

    The cut-off matters late in a run: EI near the incumbent shrinks toward zero while the surrogate,
    fit to feasible points only, stays uncertain (so EI stays large) over failed regions; a small
    probability of feasibility times a large EI would keep sending the tuner back there.
    """

    space: Space
    surrogate: Surrogate
    feasibility: FeasibilityModel
    best: float
    min_feasibility: float

    def __call__(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if not configs:
            return np.zeros(0)
        x = self.space.encode(configs)
        mean, std = self.surrogate.predict(x)
        feasible = self.feasibility.probability(x)
        return expected_improvement(mean, std, self.best) * np.where(feasible >= self.min_feasibility, feasible, 0.0)

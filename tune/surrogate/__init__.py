"""Surrogate models of the objective: a protocol, the kinds on offer, and one factory.

GPyTorch and scikit-learn are imported only when the surrogate that needs them is fitted.
"""
from __future__ import annotations

import enum
from typing import Protocol

import numpy as np

from tune.space import Space


class Surrogate(Protocol):
    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the objective at encoded configurations."""


class SurrogateKind(enum.Enum):
    GP = "gp"
    FOREST = "forest"


class PermutationDistance(enum.Enum):
    """Kendall counts discordant pairs (the Mallows kernel); Spearman compares rank vectors."""

    KENDALL = "kendall"
    SPEARMAN = "spearman"


class Combination(enum.Enum):
    """How the GP's per-type kernels combine: a product models interactions between types (BaCO's default)."""

    PRODUCT = "product"
    SUM = "sum"


def fit_surrogate(
    kind: SurrogateKind,
    space: Space,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    distance: PermutationDistance = PermutationDistance.KENDALL,
    combination: Combination = Combination.PRODUCT,
) -> Surrogate:
    """Fit a fresh surrogate of ``kind`` to encoded configurations ``x`` and targets ``y``."""
    if kind is SurrogateKind.FOREST:
        from tune.surrogate.forest import RandomForest

        return RandomForest.fit(x, y, seed)
    from tune.surrogate.gp import GaussianProcess

    return GaussianProcess.fit(space, x, y, distance, combination)


__all__ = ["Combination", "PermutationDistance", "Surrogate", "SurrogateKind", "fit_surrogate"]

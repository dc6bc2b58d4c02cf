"""Surrogate models of the objective: a protocol, the kinds on offer, and one factory.

GPyTorch and scikit-learn are imported only when the surrogate that needs them is fitted.
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tune.space import Space


class Surrogate(Protocol):
    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the objective at encoded configurations."""

    def fantasize(self, x: np.ndarray) -> Surrogate:
        """The surrogate as if the encoded configurations ``x``, still being evaluated, had scored its own
        prediction there (the Kriging believer): what a batch's next proposal is chosen on."""


class SurrogateKind(enum.Enum):
    GP = "gp"
    FOREST = "forest"


class PermutationDistance(enum.Enum):
    """What two orderings of the same elements are compared by.

    Kendall counts pairs placed in opposite order (precedence: a schedule, a loop order); Spearman compares
    the rank vectors; adjacency counts the neighbouring pairs one has and the other lacks (a tour, a chain
    of steps that share data); position counts elements placed at different positions (a slot assignment).
    """

    KENDALL = "kendall"
    SPEARMAN = "spearman"
    ADJACENCY = "adjacency"
    POSITION = "position"


# The default: one kernel per distance below, mixed with weights fit by marginal likelihood, so the data
# decide whether order, neighbours or slots explain the objective.
MIXED_DISTANCES = (PermutationDistance.KENDALL, PermutationDistance.ADJACENCY, PermutationDistance.POSITION)


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
    distance: PermutationDistance | tuple[PermutationDistance, ...] = MIXED_DISTANCES,
    combination: Combination = Combination.PRODUCT,
    groups: Sequence[Sequence[str]] = (),
) -> Surrogate:
    """Fit a fresh surrogate of ``kind`` to encoded configurations ``x`` and targets ``y`` (``groups``: the GP's
    additive parts, see ``kernels.make_kernel``; a forest needs none)."""
    if kind is SurrogateKind.FOREST:
        from tune.surrogate.forest import RandomForest

        return RandomForest.fit(x, y, seed)
    from tune.surrogate.gp import GaussianProcess

    return GaussianProcess.fit(space, x, y, distance, combination, groups)


__all__ = ["MIXED_DISTANCES", "Combination", "PermutationDistance", "Surrogate", "SurrogateKind", "fit_surrogate"]

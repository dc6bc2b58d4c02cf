"""Random-forest surrogate (scikit-learn), the robust alternative to the GP that BaCO and SMAC offer.

It needs no kernel for mixed types and is cheap to refit; its uncertainty is the spread of the trees'
predictions. Categoricals stay as indices and permutations as position vectors: trees split on them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestRegressor

_TREES = 32
# A floor on the spread so that expected improvement never collapses to exactly zero.
_MIN_STD = 1e-9


@dataclass(frozen=True)
class RandomForest:
    """A fitted forest; ``predict`` gives mean and standard deviation across its trees."""

    model: RandomForestRegressor
    x: np.ndarray
    y: np.ndarray
    seed: int

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> RandomForest:
        model = RandomForestRegressor(n_estimators=_TREES, min_samples_leaf=1, max_features=0.8, random_state=seed)
        return cls(model.fit(x, y), x, y, seed)

    def fantasize(self, x: np.ndarray) -> RandomForest:
        """The forest refit with the encoded configurations ``x`` observed at its own mean (the Kriging
        believer): trees have no posterior to condition."""
        return self.fit(np.concatenate([self.x, x]), np.concatenate([self.y, self.predict(x)[0]]), self.seed)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = np.stack([tree.predict(x) for tree in self.model.estimators_])
        return per_tree.mean(0), np.maximum(per_tree.std(0), _MIN_STD)

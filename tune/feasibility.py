"""The feasibility model: learns unknown constraints from evaluations that raised ``Infeasible``.

A random-forest classifier (as in BaCO) on the encoded configurations; its probability of feasibility
multiplies the acquisition so the tuner stops proposing configurations like those that failed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier

_TREES = 32


@dataclass(frozen=True)
class FeasibilityModel:
    """Probability that a configuration is feasible; 1 everywhere until both outcomes have been seen."""

    classifier: RandomForestClassifier | None

    @classmethod
    def fit(cls, x: np.ndarray, feasible: np.ndarray, seed: int) -> FeasibilityModel:
        if feasible.all() or not feasible.any():
            return cls(None)
        classifier = RandomForestClassifier(n_estimators=_TREES, max_features=None, random_state=seed)
        return cls(classifier.fit(x, feasible.astype(int)))

    def probability(self, x: np.ndarray) -> np.ndarray:
        if self.classifier is None:
            return np.ones(len(x))
        column = list(self.classifier.classes_).index(1)
        return self.classifier.predict_proba(x)[:, column]
